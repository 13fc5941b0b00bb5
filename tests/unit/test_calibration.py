"""Calibrated GAIS scorer: the model, its file, fitting and cross-validation on synthetic rated pairs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcomes.calibration import AssessmentCache, cross_validate_scorer, fit_scorer
from outcomes.calibration.assessed import RatedPair
from outcomes.config import Config
from outcomes.errors import CalibrationError, ModelError
from outcomes.scorer_file import CalibratedScorer, load_scorer, save_scorer
from outcomes.scoring import ScorerParams, ScoringFeatures, estimate_gais

CUTS = (0.7, 0.45, 0.2, -0.2)


def _grade(x: float) -> int:
    return next((g for g, c in zip(range(1, 5), CUTS) if x >= c), 5)


def _features(measured: float, pih: str = "none", rng: np.random.Generator | None = None) -> ScoringFeatures:
    rng = rng or np.random.default_rng(0)
    return ScoringFeatures(improvement_score=measured, wrinkle_reduction=measured,
                           fold_reduction=float(rng.normal(0, 0.02)), wrinkle_removed=measured * 0.05,
                           pih_severity=pih)


def synthetic_pairs(subjects: int = 30, seed: int = 0, raters: int = 3) -> list[RatedPair]:
    """Measured reduction ≈ 0.5 × true (as the pipeline's), ratings from the truth plus noise."""
    rng = np.random.default_rng(seed)
    pairs = []
    for s in range(subjects):
        for v in range(2):
            true = float(rng.uniform(-0.5, 0.95))
            measured = 0.5 * true + float(rng.normal(0, 0.03))
            pih = "moderate" if rng.random() < 0.05 else "none"
            ratings = tuple((f"R{r}", 5 if pih != "none" else _grade(true + rng.normal(0, 0.08)))
                            for r in range(raters))
            default = estimate_gais(measured, measured, None, pih, ScorerParams()).grade
            pairs.append(RatedPair(subject_id=f"S{s}", before=Path(f"S{s}_0.jpg"), after=Path(f"S{s}_{v}.jpg"),
                                   lines=(len(pairs) + 2,), ratings=ratings, features=_features(measured, pih, rng),
                                   default_grade=default, usable=True))
    return pairs


def test_fit_learns_the_direction_and_beats_the_default():
    pairs = synthetic_pairs()
    scorer = fit_scorer(pairs, name="site")
    assert scorer.features[0] == "wrinkle_reduction" and scorer.coefficients[0] < 0  # more reduction, better grade
    assert scorer.grades == (1, 2, 3, 4, 5)
    cv = cross_validate_scorer(pairs, folds=5)
    assert cv.folds == 5
    assert cv.calibrated.ratings.kappa_quadratic > 0.8
    assert cv.calibrated.ratings.kappa_quadratic > cv.default.ratings.kappa_quadratic
    assert cv.calibrated.ratings.n == sum(len(p.ratings) for p in pairs)
    assert cv.calibrated.consensus.n == len(pairs)


def test_folds_never_share_a_subject(monkeypatch):
    import outcomes.calibration.fit as fit

    seen = []
    real = fit.fit_scorer

    def spy(train, **kw):
        seen.append({p.subject_id for p in train})
        return real(train, **kw)

    monkeypatch.setattr(fit, "fit_scorer", spy)
    pairs = synthetic_pairs(12)
    cv = fit.cross_validate_scorer(pairs, folds=4)
    assert len(seen) == 4
    for train_subjects in seen:
        tested = {p.subject_id for p in pairs if p.subject_id not in train_subjects}
        assert tested and not tested & train_subjects
    assert len(cv.predictions) == len(pairs)


def test_pih_and_unusable_pairs_are_not_fitted():
    pairs = synthetic_pairs()
    odd = [dataclasses.replace(p, ratings=tuple((r, 1) for r, _ in p.ratings)) for p in pairs[:6]]
    poisoned = [dataclasses.replace(p, usable=False) for p in odd] + pairs[6:]
    a = fit_scorer(poisoned, name="x")
    b = fit_scorer(pairs[6:], name="x")
    assert a.coefficients == pytest.approx(b.coefficients) and a.thresholds == pytest.approx(b.thresholds)


def test_fit_refuses_one_grade_and_constant_features():
    pairs = synthetic_pairs(6)
    one_grade = [dataclasses.replace(p, ratings=(("R1", 4),), features=_features(0.1)) for p in pairs]
    with pytest.raises(CalibrationError, match="grade 4"):
        fit_scorer(one_grade, name="x")
    flat = [dataclasses.replace(p, features=ScoringFeatures(0.1, 0.1, 0.0, 0.0, "none")) for p in pairs]
    with pytest.raises(CalibrationError, match="varies"):
        fit_scorer(flat, name="x")


def test_cross_validation_needs_three_subjects():
    with pytest.raises(CalibrationError, match="at least 3 subjects"):
        cross_validate_scorer(synthetic_pairs(2))


def test_separated_ratings_still_give_a_finite_fit():
    pairs = synthetic_pairs(5, raters=1)
    clean = [dataclasses.replace(p, ratings=(("R1", 2 if p.features.wrinkle_reduction > 0.1 else 4),))
             for p in pairs if not p.features.pih]
    scorer = fit_scorer(clean, name="x")
    assert all(abs(b) < 50 for b in scorer.coefficients)


def _borders(scorer: CalibratedScorer) -> np.ndarray:
    """Where a one-feature scorer's grade borders lie, in feature units."""
    return scorer.feature_mean[0] + scorer.feature_scale[0] * np.array(scorer.thresholds) / scorer.coefficients[0]


def test_borders_are_pulled_towards_the_default_cutpoints_only_as_far_as_the_prior_allows():
    pairs = synthetic_pairs()
    cutpoints = np.array(ScorerParams().cutpoints)
    free = _borders(fit_scorer(pairs, name="x", anchor_sd=None))
    anchored = _borders(fit_scorer(pairs, name="x"))
    pinned = _borders(fit_scorer(pairs, name="x", anchor_sd=1e-3))
    assert np.all(np.abs(anchored - cutpoints) <= np.abs(free - cutpoints) + 1e-3)
    assert pinned == pytest.approx(cutpoints, abs=0.01)
    # These ratings put 1|2 at ~0.35 measured (0.7 true, measured = 0.5 true), the default at 0.6: the data win.
    assert abs(free[0] - 0.35) < 0.05 and anchored[0] < 0.45


def test_a_border_across_a_missing_grade_is_not_anchored():
    """Without grade 3 nothing says where in the default's 0.35–0.10 range the 2|4 border falls."""
    pairs = [dataclasses.replace(p, ratings=tuple((r, 4 if g == 3 else g) for r, g in p.ratings))
             for p in synthetic_pairs()]
    scorer = fit_scorer(pairs, name="x", anchor_sd=1e-3)
    anchor = scorer.training["priors"]["border_anchor"]
    assert scorer.grades == (1, 2, 4, 5) and anchor["borders"] == ["1|2", "2|4", "4|5"]
    assert anchor["centres"] == [0.6, None, -0.1]
    borders = _borders(scorer)
    assert borders[0] == pytest.approx(0.6, abs=0.01) and borders[2] == pytest.approx(-0.1, abs=0.01)
    assert 0.12 < borders[1] < 0.33  # the data's 2|4 border, not pulled to 0.35 or 0.10


def test_reversed_ratings_are_not_anchored_to_the_default_direction():
    pairs = [dataclasses.replace(p, ratings=tuple((r, 6 - g) for r, g in p.ratings)) for p in synthetic_pairs()
             if not p.features.pih]
    scorer = fit_scorer(pairs, name="x")
    assert scorer.coefficients[0] > 0 and scorer.training["priors"]["border_anchor"] is None


def test_the_priors_are_recorded_in_the_scorer():
    pairs = synthetic_pairs()
    one = fit_scorer(pairs, name="x").training["priors"]
    assert one["border_anchor"]["sd"] == 0.05 and one["border_anchor"]["borders"] == ["1|2", "2|3", "3|4", "4|5"]
    assert one["border_anchor"]["centres"] == list(ScorerParams().cutpoints)
    two = fit_scorer(pairs, name="x", features=("wrinkle_reduction", "fold_reduction")).training["priors"]
    assert two["border_anchor"] is None and two["coefficient_sd"] == 5.0


def test_scorer_file_round_trip(tmp_path):
    scorer = fit_scorer(synthetic_pairs(), name="site A", training={"note": "unit test"})
    sha = save_scorer(scorer, tmp_path / "s.json")
    loaded = load_scorer(tmp_path / "s.json")
    assert loaded == scorer and loaded.sha256 == sha and loaded.training["note"] == "unit test"
    for x in np.linspace(-0.5, 1.0, 31):
        f = _features(float(x))
        assert loaded.estimate(f) == scorer.estimate(f)
    assert loaded.describe() == {"gais-scorer": f"site A sha256:{sha}"}


def _scorer(**changes) -> CalibratedScorer:
    base = dict(name="t", features=("wrinkle_reduction",), feature_mean=(0.1,), feature_scale=(0.2,),
                coefficients=(-3.0,), grades=(1, 2, 3, 4, 5), thresholds=(-4.0, -2.0, 0.0, 3.0))
    return CalibratedScorer(**{**base, **changes})


@settings(max_examples=60, deadline=None)
@given(st.floats(-1, 1), st.floats(0, 0.5))
def test_more_reduction_never_a_worse_grade(x, dx):
    scorer = _scorer()
    assert scorer.grade(_features(x + dx)) <= scorer.grade(_features(x))


@settings(max_examples=60, deadline=None)
@given(st.floats(-1, 1))
def test_grade_is_the_median_of_the_probabilities(x):
    scorer = _scorer()
    probs = scorer.probabilities(_features(x))
    assert sum(probs.values()) == pytest.approx(1.0)
    cumulative = np.cumsum([probs[g] for g in range(1, 6)])
    grade = scorer.grade(_features(x))
    assert cumulative[grade - 1] >= 0.5 - 1e-9  # the first grade whose cumulative probability reaches ½
    assert grade == 1 or cumulative[grade - 2] <= 0.5 + 1e-9


def test_unrated_grades_get_no_probability():
    scorer = _scorer(grades=(2, 3, 4), thresholds=(-1.0, 1.0))
    probs = scorer.probabilities(_features(0.9))
    assert probs[1] == 0 and probs[5] == 0 and scorer.grade(_features(2.0)) == 2


def test_pih_rule_applies_to_calibrated_scorers():
    est = _scorer().estimate(_features(0.9, pih="mild"))
    assert est.grade == 5 and est.override == "pih" and est.probabilities["5"] >= 0.75
    assert est.scorer == "calibrated:t"


@pytest.mark.parametrize("change,problem", [
    (dict(features=("nope",)), "unknown features"),
    (dict(thresholds=(0.0, -1.0, 1.0, 2.0)), "thresholds"),
    (dict(grades=(4,), thresholds=()), "grades"),
    (dict(feature_scale=(0.0,)), "feature_scale"),
    (dict(coefficients=(float("nan"),)), "finite"),
])
def test_invalid_scorers_are_refused(change, problem):
    with pytest.raises(ValueError, match=problem):
        _scorer(**change)


@pytest.mark.parametrize("edit,problem", [
    (lambda d: "not json{", "invalid JSON"),
    (lambda d: json.dumps({**d, "format": "other"}), "not a GAIS scorer file"),
    (lambda d: json.dumps({**d, "format_version": 99}), "format version 99"),
    (lambda d: json.dumps({k: v for k, v in d.items() if k != "model"}), "missing the field 'model'"),
    (lambda d: json.dumps({**d, "model": {**d["model"], "thresholds": [3, 2, 1, 0]}}), "invalid GAIS scorer"),
])
def test_bad_scorer_files_name_the_file(tmp_path, edit, problem):
    good = tmp_path / "good.json"
    save_scorer(_scorer(), good)
    bad = tmp_path / "bad.json"
    bad.write_text(edit(json.loads(good.read_text())))
    with pytest.raises(ModelError, match=problem) as info:
        load_scorer(bad)
    assert str(bad) in str(info.value)
    with pytest.raises(ModelError, match="cannot read"):
        load_scorer(tmp_path / "absent.json")


def test_scorer_for_another_detector_is_refused(tmp_path):
    from outcomes.runtime import load_configured_scorer

    other = "classical" if Config().wrinkles.detector != "classical" else "fused"
    save_scorer(_scorer(wrinkle_detector=other), tmp_path / "s.json")
    with pytest.raises(ModelError, match=f"'{other}' detector"):
        load_configured_scorer(tmp_path / "s.json", Config())


def test_features_read_back_from_assessment_json():
    doc = {"gais": {"improvement_score": 0.3, "components": {"wrinkle": 0.32, "laxity": None}},
           "regions": {"a": {"wrinkle_before": 0.5, "wrinkle_after": 0.3}, "b": {"wrinkle_before": 0.2,
                                                                              "wrinkle_after": 0.2}},
           "pih": {"severity": "none"}}
    f = ScoringFeatures.from_assessment(doc)
    assert f.wrinkle_reduction == 0.32 and f.fold_reduction is None and f.wrinkle_removed == pytest.approx(0.1)
    assert f.value("fold_reduction") == 0.0 and not f.pih


def test_cache_key_changes_with_inputs_config_and_models(tmp_path):
    cfg = Config()
    other = dataclasses.replace(cfg, gais=dataclasses.replace(cfg.gais, noise_scale=0.07))
    k = AssessmentCache.key("a", "b", cfg, {"m": "1"})
    assert len({k, AssessmentCache.key("a", "c", cfg, {"m": "1"}), AssessmentCache.key("a", "b", other, {"m": "1"}),
                AssessmentCache.key("a", "b", cfg, {"m": "2"})}) == 4
    cache = AssessmentCache(tmp_path / "c")
    assert cache.get(k) is None
    cache.put(k, {"x": 1})
    assert cache.get(k) == {"x": 1}
    next((tmp_path / "c").rglob("*.json")).write_text("{broken")
    assert cache.get(k) is None  # unreadable entries are recomputed, not trusted


@settings(max_examples=80, deadline=None)
@given(st.floats(-1, 1.2), st.sampled_from(["none", "mild", "severe"]))
def test_default_scorer_as_calibrated_grades_the_same(score, pih):
    from outcomes.scorer_file import default_as_calibrated

    params = ScorerParams()
    same = default_as_calibrated(params, "d", "classical", "")
    features = ScoringFeatures(score, score, None, 0.0, pih)
    a, b = estimate_gais(score, score, None, pih, params), same.estimate(features)
    assert a.grade == b.grade
    assert all(a.probabilities[k] == pytest.approx(b.probabilities[k], abs=2e-4) for k in a.probabilities)


def test_choose_scorer_keeps_the_default_when_it_cross_validates_clearly_better():
    from outcomes.calibration import choose_scorer

    pairs = synthetic_pairs()
    cv = cross_validate_scorer(pairs)
    scorer, kept = choose_scorer(pairs, cv, "site")
    assert not kept and scorer.features == ("wrinkle_reduction",)
    worse = dataclasses.replace(cv, calibrated=cv.default, default=cv.calibrated)
    lead = cv.calibrated.ratings.kappa_quadratic - cv.default.ratings.kappa_quadratic
    assert lead > 0
    scorer, kept = choose_scorer(pairs, worse, "site", default_margin=lead / 2)
    assert kept and scorer.name == "site (default kept)" and scorer.features == ("improvement_score",)
    assert not choose_scorer(pairs, worse, "site", default_margin=lead * 2)[1]
    # By default a lead under 0.02 κ is noise: the fitted model stays.
    k = cv.calibrated.ratings.kappa_quadratic
    slight = dataclasses.replace(cv, default=dataclasses.replace(
        cv.default, ratings=dataclasses.replace(cv.default.ratings, kappa_quadratic=k + 0.015)))
    assert not choose_scorer(pairs, slight, "site")[1]
    clear = dataclasses.replace(cv, default=dataclasses.replace(
        cv.default, ratings=dataclasses.replace(cv.default.ratings, kappa_quadratic=k + 0.025)))
    assert choose_scorer(pairs, clear, "site")[1]
