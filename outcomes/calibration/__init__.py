"""Calibrating the GAIS scorer to a site's investigator ratings (``outcomes calibrate``).

The retraining API (also importable from ``outcomes``), in the order a
script uses it::

    ratings = read_ratings("ratings.csv")                    # validated, all problems at once
    models = load_models(config)                             # the default scorer
    pairs = assess_rated_pairs(ratings, models, config, AssessmentCache(dir))
    cv = cross_validate_scorer(pairs, folds=5)               # split by subject
    scorer = fit_scorer(pairs, name="site A", config=config)
    save_scorer(scorer, "scorer.json")

or all of it at once with :func:`calibrate`. Statsmodels and scikit-learn are
imported on first use; the pipeline only needs :mod:`outcomes.scorer_file`
to apply a scorer.
"""

from __future__ import annotations

from outcomes._lazy import lazy_attributes

_EXPORTS = {
    "RatedPair": "outcomes.calibration.assessed",
    "AssessmentCache": "outcomes.calibration.assessed",
    "assess_rated_pairs": "outcomes.calibration.assessed",
    "default_cache_dir": "outcomes.calibration.assessed",
    "fit_scorer": "outcomes.calibration.fit",
    "cross_validate_scorer": "outcomes.calibration.fit",
    "choose_scorer": "outcomes.calibration.fit",
    "score_agreement": "outcomes.calibration.fit",
    "CrossValidation": "outcomes.calibration.fit",
    "calibrate": "outcomes.calibration.run",
    "format_summary": "outcomes.calibration.run",
    "CalibrationResult": "outcomes.calibration.run",
}

__all__ = list(_EXPORTS)


__getattr__ = lazy_attributes(__name__, _EXPORTS)
