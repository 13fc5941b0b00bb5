"""GAIS scorer: properties of the score and the ordinal mapping."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcomes.errors import ConfigError
from outcomes.scoring import ScorerParams, estimate_gais, grade_probabilities, improvement_score

P = ScorerParams()


def test_no_change_scores_zero_and_grade_4():
    sev = {"forehead": 0.3, "cheek_left": 0.1}
    score, wrinkle, lax = improvement_score(sev, sev, {"nasolabial_left": 4.0}, {"nasolabial_left": 4.0},
                                            {"nasolabial_left": 0.5}, P)
    assert score == pytest.approx(0.0) and wrinkle == pytest.approx(0.0) and lax == pytest.approx(0.0)
    est = estimate_gais(score, wrinkle, lax, "none", P)
    assert est.grade == 4 and est.label == "No change" and est.override is None
    assert max(est.probabilities, key=est.probabilities.get) == "4"


@settings(max_examples=50, deadline=None)
@given(st.floats(0.05, 2.0), st.floats(0.0, 1.0))
def test_less_wrinkles_more_improvement(before, reduction):
    s1, _, _ = improvement_score({"r": before}, {"r": before * (1 - reduction)}, {}, {}, {}, P)
    s2, _, _ = improvement_score({"r": before}, {"r": before * (1 - reduction / 2)}, {}, {}, {}, P)
    assert s1 >= s2 - 1e-12 and 0 <= s1 <= 1


@settings(max_examples=50, deadline=None)
@given(st.floats(-2, 2))
def test_probabilities_sum_to_one_and_follow_the_score(score):
    probs = grade_probabilities(score, P)
    assert sum(probs.values()) == pytest.approx(1.0)
    assert all(v >= 0 for v in probs.values())
    better = grade_probabilities(score + 0.1, P)
    assert better[1] + better[2] + better[3] >= probs[1] + probs[2] + probs[3] - 1e-9


@pytest.mark.parametrize("score,grade", [(0.9, 1), (0.5, 2), (0.3, 3), (0.0, 4), (-0.4, 5)])
def test_grade_bands(score, grade):
    assert estimate_gais(score, score, None, "none", P).grade == grade


def test_pih_makes_it_worse():
    est = estimate_gais(0.5, 0.5, None, "moderate", P)
    assert est.grade == 5 and est.override == "pih" and est.probabilities["5"] >= 0.9
    assert sum(est.probabilities.values()) == pytest.approx(1.0, abs=1e-3)


def test_bad_cutpoints_are_rejected():
    with pytest.raises(ConfigError):
        ScorerParams(cutpoints=(0.2, 0.45, 0.7, -0.2))
