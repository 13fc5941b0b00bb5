"""Fitting and cross-validating a calibrated GAIS scorer.

The ordinal model is statsmodels' ``OrderedModel`` (cumulative logit),
fitted on one row per rating: with several raters a pair appears once per
rater, so the model sees the raters' spread. The coefficients (on
standardised features) get a weak Gaussian prior, sd ``PRIOR_SD``: a site's
first few dozen ratings are often perfectly separated by the wrinkle change,
where plain maximum likelihood runs off to infinite coefficients and
certain-looking probabilities. Pairs the pipeline marked unusable, and pairs
with PIH (graded by the safety rule, see :mod:`outcomes.scorer_file`), are
not fitted.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from outcomes.agreement import Agreement, agreement
from outcomes.calibration.assessed import RatedPair
from outcomes.config import Config
from outcomes.errors import CalibrationError
from outcomes.scorer_file import CalibratedScorer, default_as_calibrated
from outcomes.scoring import CALIBRATION_FEATURES, DEFAULT_CALIBRATION_FEATURES

MIN_SUBJECTS = 3
# Prior sd of a coefficient, in logits per feature sd: wide enough for any
# plausible effect (5 logits moves "No change" to "Much improved"), narrow
# enough to keep separated data finite.
PRIOR_SD = 5.0


def _ridge_ordered_model():  # noqa: ANN202 - a statsmodels model class
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    class RidgeOrderedModel(OrderedModel):
        """OrderedModel with a Gaussian prior on the coefficients (not on the thresholds)."""

        def __init__(self, endog, exog, prior_sd: float, **kwargs):  # noqa: ANN001
            super().__init__(endog, exog, **kwargs)
            self.prior_sd = prior_sd
            self._init_keys.append("prior_sd")

        def loglike(self, params):  # noqa: ANN001, ANN201
            beta = params[: self.k_vars]
            return super().loglike(params) - 0.5 * float(np.sum(beta ** 2)) / self.prior_sd ** 2

    return RidgeOrderedModel


def fittable(pairs: Sequence[RatedPair]) -> list[RatedPair]:
    """The pairs a scorer is fitted on: usable and without PIH."""
    return [p for p in pairs if p.usable and not p.features.pih]


def fit_scorer(
    pairs: Sequence[RatedPair], name: str, features: Sequence[str] = DEFAULT_CALIBRATION_FEATURES,
    config: Config | None = None, training: dict | None = None, prior_sd: float = PRIOR_SD,
) -> CalibratedScorer:
    """Fit the ordinal model from the pairs' features to their ratings.

    Parameters
    ----------
    pairs : sequence of RatedPair
        From :func:`outcomes.calibration.assess_rated_pairs`.
    name : str
        The scorer's name (provenance).
    features : sequence of str
        Subset of ``outcomes.scoring.CALIBRATION_FEATURES``; default
        ``DEFAULT_CALIBRATION_FEATURES`` (see there why).
    config : Config, optional
        The configuration the pairs were assessed with (recorded in the scorer).
    training : dict, optional
        Summary stored in the scorer file.
    prior_sd : float
        Gaussian prior sd of each standardised coefficient (see the module docstring).

    Raises
    ------
    CalibrationError
        Fewer than two grades among the fitted ratings, no feature that
        varies, or a fit that does not converge.
    """
    config = config or Config()
    unknown = [f for f in features if f not in CALIBRATION_FEATURES]
    if unknown:
        raise ValueError(f"unknown features {unknown}; known: {list(CALIBRATION_FEATURES)}")
    rows = [(p, g) for p in fittable(pairs) for g in p.grades]
    if not rows:
        raise CalibrationError("no usable rated pair without PIH to fit the scorer on")
    x = np.array([[p.features.value(f) for f in features] for p, _ in rows], dtype=float)
    y = np.array([g for _, g in rows], dtype=int)
    grades = sorted(set(y.tolist()))
    if len(grades) < 2:
        raise CalibrationError(f"all {len(y)} fitted ratings are grade {grades[0]}: a scorer needs at least two "
                               "different grades to learn from")
    mean, scale = x.mean(axis=0), x.std(axis=0)
    varying = scale > 1e-9 * np.maximum(1.0, np.abs(mean))
    if not varying.any():
        raise CalibrationError(f"none of the features {list(features)} varies across the {len(y)} fitted ratings")
    scale = np.where(varying, scale, 1.0)
    z = (x - mean) / scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is checked below, and reported as an error
        model = _ridge_ordered_model()(np.searchsorted(grades, y), z[:, varying], prior_sd=prior_sd, distr="logit")
        result = model.fit(method="bfgs", disp=False, maxiter=2000)
    params = np.asarray(result.params, dtype=float)
    n_coef = int(varying.sum())
    thresholds = model.transform_threshold_params(params)[1:-1]
    if not result.mle_retvals.get("converged", False) or not np.all(np.isfinite(params)) \
            or np.any(np.abs(params[:n_coef]) > 10 * prior_sd):
        raise CalibrationError(
            f"the ordinal model did not converge on {len(y)} ratings of {len({p.subject_id for p, _ in rows})} "
            "subjects; more ratings are needed")
    coefficients = np.zeros(len(features))
    coefficients[varying] = params[:n_coef]
    return CalibratedScorer(
        name=name, features=tuple(features), feature_mean=tuple(float(v) for v in mean),
        feature_scale=tuple(float(v) for v in scale), coefficients=tuple(float(v) for v in coefficients),
        grades=tuple(grades), thresholds=tuple(float(v) for v in thresholds),
        pih_worse_probability=config.gais.pih_worse_probability, wrinkle_detector=config.wrinkles.detector,
        config_sha256=config.sha256(), training=dict(training or {}),
    )


@dataclass(frozen=True)
class ScorerAgreement:
    """A scorer's grades against each rating and against each pair's consensus."""

    ratings: Agreement
    consensus: Agreement

    def to_dict(self) -> dict:
        return {"vs_ratings": self.ratings.to_dict(), "vs_consensus": self.consensus.to_dict()}


def score_agreement(pairs: Sequence[RatedPair], grade_of: Callable[[RatedPair], int]) -> ScorerAgreement:
    """Agreement of ``grade_of(pair)`` with the ratings of the usable pairs."""
    usable = [p for p in pairs if p.usable]
    if not usable:
        raise CalibrationError("no usable rated pair to measure agreement on")
    predicted = {id(p): grade_of(p) for p in usable}
    return ScorerAgreement(
        ratings=agreement([g for p in usable for g in p.grades],
                          [predicted[id(p)] for p in usable for _ in p.grades]),
        consensus=agreement([p.consensus for p in usable], [predicted[id(p)] for p in usable]),
    )


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold agreement of the calibrated scorer, and the default scorer's on the same pairs.

    Attributes
    ----------
    folds : int
        Folds, split by subject: no subject is in a fold's training and test sets.
    calibrated, default : ScorerAgreement
    predictions : dict
        (before, after) → out-of-fold grade.
    """

    folds: int
    calibrated: ScorerAgreement
    default: ScorerAgreement
    predictions: dict

    def to_dict(self) -> dict:
        return {"folds": self.folds, "split_by": "subject", "calibrated": self.calibrated.to_dict(),
                "default": self.default.to_dict()}


def cross_validate_scorer(
    pairs: Sequence[RatedPair], folds: int = 5, seed: int = 0,
    features: Sequence[str] = DEFAULT_CALIBRATION_FEATURES, config: Config | None = None,
) -> CrossValidation:
    """K-fold cross-validation with folds split by subject.

    Each fold's scorer is fitted on the other subjects' pairs and grades this
    fold's usable pairs (PIH pairs by the safety rule, as in use). ``folds``
    is reduced to the number of subjects when there are fewer.

    Raises
    ------
    CalibrationError
        Fewer than three subjects with usable pairs, or a fold whose training
        subjects cannot support a fit.
    """
    from sklearn.model_selection import GroupKFold

    usable = [p for p in pairs if p.usable]
    subjects = sorted({p.subject_id for p in usable})
    if len(subjects) < MIN_SUBJECTS:
        raise CalibrationError(f"cross-validation by subject needs at least {MIN_SUBJECTS} subjects with usable "
                               f"pairs, got {len(subjects)}")
    k = min(folds, len(subjects))
    if k < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
    groups = [p.subject_id for p in usable]
    predictions: dict = {}
    for fold, (train, test) in enumerate(splitter.split(np.zeros(len(usable)), groups=groups), start=1):
        try:
            scorer = fit_scorer([usable[i] for i in train], name=f"fold {fold}", features=features, config=config)
        except CalibrationError as exc:
            raise CalibrationError(f"cross-validation fold {fold} of {k}: {exc}") from None
        for i in test:
            predictions[(usable[i].before, usable[i].after)] = scorer.estimate(usable[i].features).grade
    return CrossValidation(
        folds=k,
        calibrated=score_agreement(usable, lambda p: predictions[(p.before, p.after)]),
        default=score_agreement(usable, lambda p: p.default_grade),
        predictions=predictions,
    )


def choose_scorer(pairs: Sequence[RatedPair], cv: CrossValidation, name: str,
                  features: Sequence[str] = DEFAULT_CALIBRATION_FEATURES,
                  config: Config | None = None, min_gain: float = 0.0) -> tuple[CalibratedScorer, bool]:
    """The fitted scorer, unless the default did better in cross-validation on the same ratings.

    The comparison is quadratic weighted κ against every rating, out of fold,
    on the same pairs (``cv``); the fitted scorer must beat the default by more
    than ``min_gain``. Returns the scorer and whether it is the default one kept
    (see :func:`outcomes.scorer_file.default_as_calibrated`).
    """
    config = config or Config()
    fitted_kappa, default_kappa = cv.calibrated.ratings.kappa_quadratic, cv.default.ratings.kappa_quadratic
    if fitted_kappa is not None and default_kappa is not None and fitted_kappa - default_kappa < min_gain:
        return default_as_calibrated(config.gais, f"{name} (default kept)", config.wrinkles.detector,
                                     config.sha256()), True
    return fit_scorer(pairs, name=name, features=features, config=config), False
