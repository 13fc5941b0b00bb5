"""``outcomes calibrate``: ratings in, a scorer with its agreement summary out."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from outcomes.agreement import RaterAgreement, rater_agreement
from outcomes.calibration.assessed import AssessmentCache, RatedPair, assess_rated_pairs
from outcomes.calibration.fit import (
    DEFAULT_MARGIN,
    CrossValidation,
    ScorerAgreement,
    choose_scorer,
    cross_validate_scorer,
    fittable,
    score_agreement,
)
from outcomes.config import Config
from outcomes.ratings import Ratings, read_ratings
from outcomes.scorer_file import CalibratedScorer, save_scorer
from outcomes.scoring import DEFAULT_CALIBRATION_FEATURES


@dataclass(frozen=True)
class CalibrationResult:
    """What ``calibrate`` produced: the scorer (as saved) and how well it agrees."""

    scorer: CalibratedScorer
    path: Path
    sha256: str
    cross_validation: CrossValidation
    in_sample: ScorerAgreement
    raters: RaterAgreement | None
    pairs: tuple[RatedPair, ...]


def calibrate(
    ratings: str | Path | Ratings, out: str | Path, config: Config | None = None,
    cache_dir: str | Path | None = None, folds: int = 5, seed: int = 0, name: str | None = None,
    features: Sequence[str] = DEFAULT_CALIBRATION_FEATURES, progress: Callable[[int, int, bool], None] | None = None,
) -> CalibrationResult:
    """Assess the rated pairs, cross-validate, fit on all of them and save the scorer.

    Parameters
    ----------
    ratings : path or Ratings
        The ratings CSV (validated first; nothing is assessed if it has problems).
    out : path
        Where the scorer JSON goes (written only when everything succeeded).
    config : Config, optional
    cache_dir : path, optional
        Assessment cache; None disables it.
    folds, seed : int
        Cross-validation folds (split by subject) and their shuffle seed.
    name : str, optional
        The scorer's name; default the ratings file's stem.
    features : sequence of str
    progress : callable (done, total, from_cache), optional

    The fitted model is written unless the default scorer agreed clearly
    better with the ratings in the same cross-validation (by more than
    ``fit.DEFAULT_MARGIN`` quadratic κ); then the default is written as the
    scorer (``training.selected`` says which).

    Raises
    ------
    RatingsError, CalibrationError, ModelError
    """
    from outcomes.runtime import load_models

    config = config or Config()
    ratings = ratings if isinstance(ratings, Ratings) else read_ratings(ratings)
    models = load_models(config)
    try:
        pairs = assess_rated_pairs(ratings, models, config, AssessmentCache(cache_dir) if cache_dir else None,
                                   progress)
    finally:
        models.close()
    cv = cross_validate_scorer(pairs, folds=folds, seed=seed, features=features, config=config)
    raters = _rater_agreement(pairs)
    training = _training_summary(ratings, pairs, cv, raters)
    fitted, kept_default = choose_scorer(pairs, cv, name or ratings.path.stem, features, config)
    in_sample = score_agreement(pairs, lambda p: fitted.estimate(p.features).grade)
    training["selected"] = (f"default scorer kept: its cross-validated κ was more than {DEFAULT_MARGIN} higher "
                            "than the fitted model's"
                            if kept_default else "fitted ordinal model")
    scorer = dataclasses.replace(fitted, training={**fitted.training, **training, "in_sample": in_sample.to_dict(),
                                                   "monotone": _is_monotone(fitted, pairs)})
    sha = save_scorer(scorer, out)
    return CalibrationResult(scorer=scorer, path=Path(out), sha256=sha, cross_validation=cv, in_sample=in_sample,
                             raters=raters, pairs=tuple(pairs))


def _rater_agreement(pairs: Sequence[RatedPair]) -> RaterAgreement | None:
    by_rater: dict[str, dict] = {}
    for p in pairs:
        if p.usable:
            for rater, grade in p.ratings:
                by_rater.setdefault(rater, {})[(p.before, p.after)] = grade
    return rater_agreement(by_rater) if len(by_rater) > 1 else None


def _is_monotone(scorer: CalibratedScorer, pairs: Sequence[RatedPair]) -> bool:
    """Does a larger measured wrinkle change (same direction) never move a rated pair's grade the wrong way?

    Scaling a pair's wrinkle change by t scales ``wrinkle_reduction`` and
    ``wrinkle_removed`` together, so dη/dt = Σ β_i x_i / σ_i over those two;
    for an improvement (x > 0) it must not be positive, for a worsening not negative.
    """
    scaled = [i for i, f in enumerate(scorer.features) if f in ("wrinkle_reduction", "wrinkle_removed")]
    for p in fittable(pairs):
        change = p.features.wrinkle_reduction
        slope = sum(scorer.coefficients[i] * p.features.value(scorer.features[i]) / scorer.feature_scale[i]
                    for i in scaled)
        if change * slope > 1e-12:
            return False
    return True


def _training_summary(ratings: Ratings, pairs: Sequence[RatedPair], cv: CrossValidation,
                      raters: RaterAgreement | None) -> dict:
    import statsmodels

    from outcomes import __version__

    fitted = fittable(pairs)
    return {
        "created_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "package_version": __version__,
        "library": f"statsmodels {statsmodels.__version__} OrderedModel (logit)",
        "ratings_file": ratings.path.name,
        "ratings_sha256": ratings.sha256,
        "ratings": len(ratings.rows),
        "pairs": len(pairs),
        "subjects": len({p.subject_id for p in pairs}),
        "raters": len(ratings.raters),
        "grade_counts": {str(g): n for g, n in sorted(Counter(r.grade for r in ratings.rows).items())},
        "fitted_pairs": len(fitted),
        "not_fitted": {
            "not_usable": [{"lines": list(p.lines), "qc_flags": list(p.qc_flags)} for p in pairs if not p.usable],
            "pih": [list(p.lines) for p in pairs if p.usable and p.features.pih],
        },
        "cross_validation": cv.to_dict(),
        "rater_agreement": None if raters is None else raters.to_dict(),
    }


def format_summary(result: CalibrationResult) -> str:
    """The agreement table ``outcomes calibrate`` prints."""
    cv, t = result.cross_validation, result.scorer.training
    lines = [
        f"{t['ratings']} ratings of {t['pairs']} pairs, {t['subjects']} subjects, {t['raters']} rater(s); "
        f"fitted on {t['fitted_pairs']} pairs ({len(t['not_fitted']['not_usable'])} not usable, "
        f"{len(t['not_fitted']['pih'])} with PIH, graded Worse by rule)",
        f"cross-validated agreement ({cv.folds} folds split by subject):",
        f"  {'':<34}{'κ quad':>8}{'κ lin':>8}{'exact':>8}{'±1':>8}{'ρ':>8}{'n':>6}",
    ]
    rows = [("calibrated vs ratings", cv.calibrated.ratings), ("calibrated vs consensus", cv.calibrated.consensus),
            ("default scorer vs ratings", cv.default.ratings), ("default scorer vs consensus", cv.default.consensus)]
    if result.raters is not None and result.raters.pairwise:
        mean_q, mean_l = result.raters.mean_kappa_quadratic, result.raters.mean_kappa_linear
        lines_raters = f"  {'rater vs rater (mean of pairs)':<34}{_f(mean_q):>8}{_f(mean_l):>8}"
    else:
        lines_raters = None
    for label, a in rows:
        lines.append(f"  {label:<34}{_f(a.kappa_quadratic):>8}{_f(a.kappa_linear):>8}{_f(a.exact):>8}"
                     f"{_f(a.within_one):>8}{_f(a.spearman):>8}{a.n:>6}")
    if lines_raters:
        lines.append(lines_raters)
    lines.append("confusion, calibrated vs ratings (rows: rated 1-5, columns: scored 1-5):")
    lines += ["  " + " ".join(f"{v:>4}" for v in row) for row in cv.calibrated.ratings.confusion]
    if not t.get("monotone", True):
        lines.append("warning: the fitted scorer grades more wrinkle reduction as worse; check the ratings")
    lines.append(f"written: {t['selected']}")
    lines.append(f"scorer: {result.path}  sha256 {result.sha256}")
    return "\n".join(lines)


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"
