"""Trial statistics on tiny hand-made tables (outcomes.batch.stats)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outcomes.batch.stats import MIN_GROUP_SUBJECTS, PairResult, paired_change, primary_view, summarise, wilson


def test_wilson_matches_published_values():
    # Wilson score interval for 8/10 (Newcombe 1998 method 3): 0.490-0.943.
    p = wilson(8, 10)
    assert p.rate == 0.8
    assert p.ci_low == pytest.approx(0.4902, abs=1e-4)
    assert p.ci_high == pytest.approx(0.9433, abs=1e-4)
    # 0 of 10 still has a non-zero upper bound (unlike the Wald interval).
    zero = wilson(0, 10)
    assert zero.ci_low == pytest.approx(0.0, abs=1e-12) and zero.ci_high == pytest.approx(0.2775, abs=1e-4)


def test_wilson_of_nothing_is_empty_and_too_small():
    p = wilson(0, 0)
    assert (p.rate, p.ci_low, p.ci_high, p.too_small) == (None, None, None, True)
    with pytest.raises(ValueError, match="count <= n"):
        wilson(3, 2)


@given(st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_contains_the_rate_and_stays_in_0_1(case):
    count, n = case
    p = wilson(count, n)
    assert 0.0 <= p.ci_low <= p.rate <= p.ci_high <= 1.0 + 1e-12
    assert p.too_small == (n < MIN_GROUP_SUBJECTS)


def test_paired_change_detects_a_consistent_drop_and_not_noise():
    before = [0.5 + 0.01 * i for i in range(15)]
    drop = paired_change("day90", before, [b - 0.1 - 0.001 * i for i, b in enumerate(before)])
    assert drop.median_change == pytest.approx(-0.107, abs=1e-3)
    assert drop.p_value < 0.001 and not drop.too_small
    same = paired_change("day90", before, before)
    assert same.p_value is None and same.median_change == 0.0
    with pytest.raises(ValueError, match="15 values before but 2 after"):
        paired_change("x", before, [1.0, 2.0])


def _rows() -> list[PairResult]:
    rows = []
    for i in range(12):
        fitz = "II" if i < 6 else "V"
        # day30: everyone "No change"; day90: the first 8 respond.
        rows.append(PairResult(f"S{i}", "day30", "frontal", 30, grade=4, fitzpatrick=fitz, ita_category="light",
                               wrinkle_before=1.0, wrinkle_after=0.95, pih=(i == 11)))
        rows.append(PairResult(f"S{i}", "day90", "frontal", 90, grade=2 if i < 8 else 4, fitzpatrick=fitz,
                               ita_category="light", wrinkle_before=1.0, wrinkle_after=0.7 + 0.01 * i))
    rows.append(PairResult("S12", "day90", "frontal", 90, error="S12_day90.jpg: no face found"))
    rows.append(PairResult("S13", "day90", "frontal", 90, grade=1, usable=False, fitzpatrick="II"))
    rows.append(PairResult("S0", "day90", "oblique_left", 90, grade=1, fitzpatrick="II"))
    return rows


def test_summary_counts_each_subject_once_at_its_last_visit():
    s = summarise(_rows())
    assert s.view == "frontal"
    assert s.counts == {"pairs": 27, "subjects": 14, "errors": 1, "not_usable": 1, "pairs_in_statistics": 24,
                        "subjects_in_statistics": 12, "pairs_other_views": 1}
    # Overall: day90 is the last visit; 8 of 12 respond (the oblique and the unusable pair do not count).
    assert (s.responders_overall.count, s.responders_overall.n) == (8, 12)
    assert {v: (p.count, p.n) for v, p in s.responders_by_visit.items()} == {"day30": (0, 12), "day90": (8, 12)}
    assert list(s.responders_by_visit) == ["day30", "day90"]
    assert {g: (p.count, p.n) for g, p in s.responders_by_group.items()} == {"I-II": (6, 6), "V-VI": (2, 6)}
    # PIH: subject S11 at day30 only; per subject over any visit.
    assert (s.pih_overall.count, s.pih_overall.n) == (1, 12)
    assert {t: (p.count, p.n) for t, p in s.pih_by_type.items()} == {"II": (0, 6), "V": (1, 6)}
    assert s.gais_by_visit["day90"] == {1: 0, 2: 8, 3: 0, 4: 4, 5: 0}
    assert s.wrinkle_change["day90"].n == 12 and s.wrinkle_change["day90"].median_change < -0.2


def test_summary_warns_about_small_groups_errors_and_other_views():
    words = " | ".join(summarise(_rows()).warnings)
    assert "1 pair(s) could not be assessed" in words
    assert "1 pair(s) failed quality control" in words
    assert "'frontal' view only; 1 pair(s) of other views" in words
    assert "by Fitzpatrick group: I-II (n=6), V-VI (n=6)" in words and "too few to conclude anything" in words


def test_summary_of_a_tiny_trial_warns_once():
    rows = [PairResult("A", "d90", "frontal", 90, grade=2, fitzpatrick="III")]
    s = summarise(rows)
    assert len(s.warnings) == 1 and "1 subject(s)" in s.warnings[0]
    d = s.to_dict()
    assert d["responder_rate"]["overall"] == {"n": 1, "count": 1, "rate": 1.0, "ci_low": pytest.approx(0.2065, 1e-3),
                                              "ci_high": 1.0, "too_small": True}
    assert d["responder_rate"]["by_fitzpatrick_group"]["III-IV"]["n"] == 1


def test_summary_of_no_usable_pairs_is_empty_not_an_error():
    s = summarise([PairResult("A", "d90", "frontal", 90, error="unreadable")])
    assert s.responders_overall.n == 0 and s.gais_by_visit == {} and s.wrinkle_change == {}
    assert s.to_dict()["pih_incidence"]["overall"]["rate"] is None


def test_unknown_skin_type_is_its_own_group_and_said():
    rows = [PairResult(f"S{i}", "d90", "frontal", 90, grade=3, fitzpatrick=None if i < 3 else "IV")
            for i in range(12)]
    s = summarise(rows)
    assert s.responders_by_group["unknown"].n == 3
    assert any("3 subject(s) have no Fitzpatrick type" in w for w in s.warnings)


def test_visits_are_ordered_by_day_not_name():
    rows = [PairResult("A", v, "frontal", d, grade=3) for v, d in (("week12", 84), ("week4", 28), ("month6", 180))]
    assert list(summarise(rows).responders_by_visit) == ["week4", "week12", "month6"]


def test_primary_view_prefers_frontal_else_the_commonest():
    assert primary_view([PairResult("A", "v", "oblique", 1), PairResult("A", "w", "frontal", 2)]) == "frontal"
    assert primary_view([PairResult("A", "v", "left", 1), PairResult("B", "v", "right", 1),
                         PairResult("C", "v", "right", 1)]) == "right"
    assert primary_view([]) is None


def test_summary_json_has_no_nan():
    d = summarise(_rows()).to_dict()

    def walk(x):  # noqa: ANN001, ANN202
        if isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, float):
            assert math.isfinite(x)

    walk(d)
