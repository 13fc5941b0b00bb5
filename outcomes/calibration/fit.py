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

With one reduction feature (``wrinkle_reduction`` or ``improvement_score``,
both fractions of the baseline), the grade borders are also anchored to the
default scorer's cutpoints by a Gaussian prior of sd ``ANCHOR_SD`` on each
border's position. A site's ratings move a border as far as they show it
lies elsewhere (conventions differ by 0.1–0.15); a border the ratings barely
constrain, such as 4|5 with few worsened pairs, stays near the default
instead of wandering with a few ratings. Only borders between adjacent
grades are anchored (with a grade missing from the ratings, nothing says
where in the default's range its border falls), and only when the free fit
agrees with the default that more reduction means a better grade. On
simulated trials the anchor raised the worst held-out κ of the strict site
by 0.012 and cost the lenient site 0.003 on average (benchmarks/calibration.py).
"""

from __future__ import annotations

import math
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
# Prior sd of a grade border's position, in the feature's units (fraction of the
# baseline): a quarter of the default cutpoints' spacing (0.20–0.25).
ANCHOR_SD = 0.05
# Features measured on the default cutpoints' scale, to which the anchor applies.
ANCHORED_FEATURES = ("wrinkle_reduction", "improvement_score")
# Cross-validated κ by which the default must beat the fitted model to be kept.
# A smaller lead is noise: on simulated trials of ~40 subjects the fitted model
# led by −0.001 to +0.02 in folds where it then beat the default on held-out
# subjects by up to 0.09 (benchmarks/calibration.py), and the border anchor
# already keeps the fit near the default where the ratings agree with it.
DEFAULT_MARGIN = 0.02


@dataclass(frozen=True)
class BorderAnchor:
    """Gaussian prior on the grade borders of a one-feature model.

    The border "grade ≤ g" of the fitted model lies where its linear
    predictor crosses threshold θ_g: at ``mean + scale · θ_g / β`` in feature
    units. Its prior is centred on ``centres[i]`` with sd ``sd``; a border
    whose centre is None has no prior.
    """

    mean: float
    scale: float
    centres: tuple[float | None, ...]  # None: that border is not anchored
    sd: float


def _ridge_ordered_model():  # noqa: ANN202 - a statsmodels model class
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    class RidgeOrderedModel(OrderedModel):
        """OrderedModel with a Gaussian prior on the coefficients and, optionally, on the borders."""

        def __init__(self, endog, exog, prior_sd: float, anchor: BorderAnchor | None = None,  # noqa: ANN001
                     **kwargs):
            super().__init__(endog, exog, **kwargs)
            self.prior_sd = prior_sd
            self.anchor = anchor
            self._init_keys.extend(["prior_sd", "anchor"])
            if anchor is not None:
                self._anchored = np.array([c is not None for c in anchor.centres])
                self._centres = np.array([c for c in anchor.centres if c is not None], dtype=float)

        def loglike(self, params):  # noqa: ANN001, ANN201
            beta = params[: self.k_vars]
            penalty = 0.5 * float(np.sum(beta ** 2)) / self.prior_sd ** 2
            if self.anchor is not None:
                a = self.anchor
                # A slope near 0 puts the borders at ±infinity; the floor keeps the
                # penalty finite (and large) there.
                slope = float(beta[0]) if abs(beta[0]) > 1e-3 else math.copysign(1e-3, float(beta[0]))
                borders = a.mean + a.scale * self.transform_threshold_params(params)[1:-1] / slope
                penalty += 0.5 * float(np.sum((borders[self._anchored] - self._centres) ** 2)) / a.sd ** 2
            return super().loglike(params) - penalty

    return RidgeOrderedModel


def fittable(pairs: Sequence[RatedPair]) -> list[RatedPair]:
    """The pairs a scorer is fitted on: usable and without PIH."""
    return [p for p in pairs if p.usable and not p.features.pih]


def fit_scorer(
    pairs: Sequence[RatedPair], name: str, features: Sequence[str] = DEFAULT_CALIBRATION_FEATURES,
    config: Config | None = None, training: dict | None = None, prior_sd: float = PRIOR_SD,
    anchor_sd: float | None = ANCHOR_SD,
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
    anchor_sd : float or None
        Prior sd of each grade border around the default scorer's cutpoint
        (``config.gais.cutpoints``), in feature units; applies to a single
        feature of ``ANCHORED_FEATURES`` only. None fits the borders freely.

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
    endog, exog = np.searchsorted(grades, y), z[:, varying]
    model_class = _ridge_ordered_model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is checked below, and reported as an error
        model = model_class(endog, exog, prior_sd=prior_sd, distr="logit")
        result = model.fit(method="bfgs", disp=False, maxiter=2000)
        anchor = None
        centres = tuple(config.gais.cutpoints[g - 1] if h == g + 1 else None for g, h in zip(grades, grades[1:]))
        if anchor_sd is not None and len(features) == 1 and features[0] in ANCHORED_FEATURES and varying[0] \
                and result.params[0] < 0 and any(c is not None for c in centres):
            # Border g|g+1 ↔ the default's cutpoint between g and g + 1. A negative
            # slope is the default's direction: more reduction, a better grade.
            anchor = BorderAnchor(mean=float(mean[0]), scale=float(scale[0]), centres=centres, sd=anchor_sd)
            model = model_class(endog, exog, prior_sd=prior_sd, anchor=anchor, distr="logit")
            # Started from the free fit: the anchor's penalty is steep at a zero slope.
            result = model.fit(start_params=result.params, method="bfgs", disp=False, maxiter=2000)
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
    priors = {"coefficient_sd": prior_sd, "border_anchor": None if anchor is None else {
        "borders": [f"{g}|{h}" for g, h in zip(grades, grades[1:])], "centres": list(anchor.centres), "sd": anchor.sd}}
    return CalibratedScorer(
        name=name, features=tuple(features), feature_mean=tuple(float(v) for v in mean),
        feature_scale=tuple(float(v) for v in scale), coefficients=tuple(float(v) for v in coefficients),
        grades=tuple(grades), thresholds=tuple(float(v) for v in thresholds),
        pih_worse_probability=config.gais.pih_worse_probability, wrinkle_detector=config.wrinkles.detector,
        config_sha256=config.sha256(),
        training={**(training or {}), "priors": priors},
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
    usable = [p for p in pairs if p.usable]
    subjects = sorted({p.subject_id for p in usable})
    if len(subjects) < MIN_SUBJECTS:
        raise CalibrationError(f"cross-validation by subject needs at least {MIN_SUBJECTS} subjects with usable "
                               f"pairs, got {len(subjects)}")
    k = min(folds, len(subjects))
    if k < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    groups = [p.subject_id for p in usable]
    predictions: dict = {}
    for fold, (train, test) in enumerate(subject_folds(groups, k, seed), start=1):
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
                  config: Config | None = None,
                  default_margin: float = DEFAULT_MARGIN) -> tuple[CalibratedScorer, bool]:
    """The fitted scorer, unless the default did clearly better in cross-validation on the same ratings.

    The comparison is quadratic weighted κ against every rating, out of fold,
    on the same pairs (``cv``); the default is kept when its κ exceeds the
    fitted model's by more than ``default_margin``. Returns the scorer and
    whether it is the default one kept (see
    :func:`outcomes.scorer_file.default_as_calibrated`).
    """
    config = config or Config()
    fitted_kappa, default_kappa = cv.calibrated.ratings.kappa_quadratic, cv.default.ratings.kappa_quadratic
    if fitted_kappa is not None and default_kappa is not None and default_kappa - fitted_kappa > default_margin:
        return default_as_calibrated(config.gais, f"{name} (default kept)", config.wrinkles.detector,
                                     config.sha256()), True
    return fit_scorer(pairs, name=name, features=features, config=config), False


def subject_folds(groups: list[str], folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` index arrays of ``folds`` folds that never split a subject.

    The sorted subjects are shuffled with ``numpy.random.RandomState(seed)`` and cut into
    ``folds`` runs of near-equal count: the folds of scikit-learn's
    ``GroupKFold(n_splits=folds, shuffle=True, random_state=seed)``.
    """
    labels = np.asarray(groups)
    if folds < 2 or folds > len(np.unique(labels)):
        raise ValueError(f"folds must be between 2 and the number of subjects ({len(np.unique(labels))}), got {folds}")
    shuffled = np.random.RandomState(seed).permutation(np.unique(labels))
    out = []
    for test_subjects in np.array_split(shuffled, folds):
        test = np.isin(labels, test_subjects)
        out.append((np.flatnonzero(~test), np.flatnonzero(test)))
    return out
