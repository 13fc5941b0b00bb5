"""A GAIS scorer calibrated to a site's investigator ratings, and its JSON file.

The model is a cumulative-link (proportional-odds) logistic regression from
the pair's :class:`~outcomes.scoring.ScoringFeatures` to the grade:

    η = Σ_i β_i (x_i − μ_i) / σ_i
    P(grade ≤ g_j) = σ(θ_j − η)      for the rated grades g_1 < … < g_K

A larger η means a worse grade. The reported grade is the median of that
distribution (the grade where the cumulative probability first reaches ½),
as for the default scorer. New PIH keeps its safety rule (probability moved
to "Worse", grade 5): the fit never sees PIH pairs (see
``outcomes.calibration``), and the rule is not something a handful of rated
PIH cases should be able to switch off.

Applying a scorer needs only this module (no statsmodels); fitting one lives
in :mod:`outcomes.calibration`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outcomes.config import WrinkleConfig
from outcomes.errors import ModelError
from outcomes.scoring import (
    CALIBRATION_FEATURES,
    GRADE_LABELS,
    GaisEstimate,
    ScorerParams,
    ScoringFeatures,
    move_to_worse,
)

SCORER_FORMAT = "outcomes-gais-scorer"
SCORER_FORMAT_VERSION = 1


@dataclass(frozen=True)
class CalibratedScorer:
    """Ordinal-logistic GAIS scorer; see the module docstring for the model.

    Attributes
    ----------
    name : str
        Shown in provenance (e.g. the site or the ratings file).
    features : tuple of str
        Names from ``outcomes.scoring.CALIBRATION_FEATURES``.
    feature_mean, feature_scale : tuple of float
        Standardisation of each feature (scale > 0).
    coefficients : tuple of float
        β per standardised feature; negative = more of it, better grade.
    grades : tuple of int
        The grades seen in the ratings, increasing (a grade nobody gave gets
        probability 0).
    thresholds : tuple of float
        θ between consecutive ``grades``, increasing; ``len(grades) - 1``.
    pih_worse_probability : tuple of float
        Probability moved to "Worse" for mild, moderate, severe PIH.
    wrinkle_detector : str
        The ``wrinkles.detector`` the features were measured with; the
        scorer refuses features from another detector.
    config_sha256 : str
        Hash of the configuration the rated pairs were assessed with.
    training : dict
        Summary of the fit (data, agreement); informative only.
    sha256 : str
        Of the file it was loaded from ("" when built in memory).
    """

    name: str
    features: tuple[str, ...]
    feature_mean: tuple[float, ...]
    feature_scale: tuple[float, ...]
    coefficients: tuple[float, ...]
    grades: tuple[int, ...]
    thresholds: tuple[float, ...]
    pih_worse_probability: tuple[float, ...] = (0.75, 0.9, 0.97)
    wrinkle_detector: str = WrinkleConfig.detector
    config_sha256: str = ""
    training: dict = field(default_factory=dict, compare=False)
    sha256: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        problems = []
        k = len(self.features)
        if k == 0:
            problems.append("no features")
        unknown = [f for f in self.features if f not in CALIBRATION_FEATURES]
        if unknown:
            problems.append(f"unknown features {unknown} (known: {list(CALIBRATION_FEATURES)})")
        if not (len(self.feature_mean) == len(self.feature_scale) == len(self.coefficients) == k):
            problems.append(f"feature_mean, feature_scale and coefficients need {k} values each")
        if any(not (s > 0 and math.isfinite(s)) for s in self.feature_scale):
            problems.append(f"feature_scale must be positive, got {list(self.feature_scale)}")
        values = (*self.feature_mean, *self.coefficients, *self.thresholds)
        if any(not math.isfinite(v) for v in values):
            problems.append("every mean, coefficient and threshold must be finite")
        g = self.grades
        if len(g) < 2 or any(x not in GRADE_LABELS for x in g) or any(a >= b for a, b in zip(g, g[1:])):
            problems.append(f"grades must be at least two increasing grades in 1–5, got {list(g)}")
        t = self.thresholds
        if len(t) != max(len(g) - 1, 0) or any(a >= b for a, b in zip(t, t[1:])):
            problems.append(f"thresholds must be {max(len(g) - 1, 0)} increasing values, got {list(t)}")
        if len(self.pih_worse_probability) != 3 or not all(0 <= p <= 1 for p in self.pih_worse_probability):
            problems.append("pih_worse_probability needs 3 probabilities (mild, moderate, severe)")
        if problems:
            raise ValueError("invalid calibrated scorer: " + "; ".join(problems))

    @property
    def label(self) -> str:
        return f"calibrated:{self.name}"

    def linear_predictor(self, features: ScoringFeatures) -> float:
        """η for one pair (larger = worse)."""
        return sum(b * (features.value(f) - m) / s for f, m, s, b in
                   zip(self.features, self.feature_mean, self.feature_scale, self.coefficients))

    def probabilities(self, features: ScoringFeatures) -> dict[int, float]:
        """P(grade) for grades 1–5, before the PIH rule."""
        eta = self.linear_predictor(features)
        cumulative = [_sigmoid(t - eta) for t in self.thresholds] + [1.0]
        probs, previous = {g: 0.0 for g in GRADE_LABELS}, 0.0
        for grade, cum in zip(self.grades, cumulative):
            probs[grade] = max(cum - previous, 0.0)
            previous = cum
        return probs

    def grade(self, features: ScoringFeatures) -> int:
        """The median grade, before the PIH rule."""
        eta = self.linear_predictor(features)
        return next((g for g, t in zip(self.grades, self.thresholds) if eta <= t), self.grades[-1])

    def estimate(self, features: ScoringFeatures) -> GaisEstimate:
        """Grade, label and probabilities for one pair; PIH moves it to "Worse"."""
        probs, pih = move_to_worse(self.probabilities(features), features.pih_severity, self.pih_worse_probability)
        grade = 5 if pih else self.grade(features)
        return GaisEstimate(
            grade=grade, label=GRADE_LABELS[grade],
            probabilities={str(g): round(v, 4) for g, v in probs.items()},
            improvement_score=round(features.improvement_score, 4),
            wrinkle_component=round(features.wrinkle_reduction, 4),
            laxity_component=None if features.fold_reduction is None else round(features.fold_reduction, 4),
            override="pih" if pih else None, scorer=self.label,
        )

    def describe(self) -> dict[str, str]:
        """Model name → identity, for provenance."""
        return {"gais-scorer": f"{self.name} sha256:{self.sha256 or 'not saved'}"}

    def to_dict(self) -> dict[str, Any]:
        from outcomes import __version__

        return {
            "format": SCORER_FORMAT,
            "format_version": SCORER_FORMAT_VERSION,
            "name": self.name,
            "package_version": __version__,
            "model": {
                "kind": "cumulative-link logistic (proportional odds); grade = median",
                "features": list(self.features),
                "feature_mean": list(self.feature_mean),
                "feature_scale": list(self.feature_scale),
                "coefficients": list(self.coefficients),
                "grades": list(self.grades),
                "thresholds": list(self.thresholds),
                "pih_worse_probability": list(self.pih_worse_probability),
            },
            "assessment": {"wrinkle_detector": self.wrinkle_detector, "config_sha256": self.config_sha256},
            "training": self.training,
        }


def default_as_calibrated(params: ScorerParams, name: str, wrinkle_detector: str, config_sha256: str,
                          training: dict | None = None) -> CalibratedScorer:
    """The default scorer written as a calibrated one (same grades and probabilities).

    P(grade ≤ k) = σ((score − c_k)/s) is the calibrated form with the single
    feature ``improvement_score`` (unstandardised), β = −1/s and θ_k = −c_k/s.
    ``outcomes calibrate`` keeps it when it beats the fitted model in
    cross-validation by more than ``calibration.fit.DEFAULT_MARGIN``.
    """
    s = params.noise_scale
    return CalibratedScorer(
        name=name, features=("improvement_score",), feature_mean=(0.0,), feature_scale=(1.0,),
        coefficients=(-1.0 / s,), grades=(1, 2, 3, 4, 5), thresholds=tuple(-c / s for c in params.cutpoints),
        pih_worse_probability=params.pih_worse_probability, wrinkle_detector=wrinkle_detector,
        config_sha256=config_sha256, training=dict(training or {}),
    )


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


def save_scorer(scorer: CalibratedScorer, path: str | Path) -> str:
    """Write the scorer's JSON atomically; returns the file's sha256."""
    from outcomes.io import file_sha256, write_json

    write_json(path, scorer.to_dict())
    return file_sha256(path)


def load_scorer(path: str | Path) -> CalibratedScorer:
    """Read a scorer written by :func:`save_scorer` (or ``outcomes calibrate``).

    Raises
    ------
    ModelError
        Missing, unreadable, not a scorer, a newer format, or invalid values;
        the message names the file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the GAIS scorer: {exc.strerror or exc}") from None
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not a GAIS scorer file (invalid JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != SCORER_FORMAT:
        raise ModelError(f"{path}: not a GAIS scorer file (expected \"format\": \"{SCORER_FORMAT}\"; "
                         "write one with `outcomes calibrate`)")
    if doc.get("format_version") != SCORER_FORMAT_VERSION:
        raise ModelError(f"{path}: scorer format version {doc.get('format_version')!r} is not supported "
                         f"(this package reads version {SCORER_FORMAT_VERSION})")
    try:
        model, assessment = doc["model"], doc["assessment"]
        return CalibratedScorer(
            name=str(doc["name"]),
            features=tuple(model["features"]),
            feature_mean=tuple(float(v) for v in model["feature_mean"]),
            feature_scale=tuple(float(v) for v in model["feature_scale"]),
            coefficients=tuple(float(v) for v in model["coefficients"]),
            grades=tuple(int(v) for v in model["grades"]),
            thresholds=tuple(float(v) for v in model["thresholds"]),
            pih_worse_probability=tuple(float(v) for v in model["pih_worse_probability"]),
            wrinkle_detector=str(assessment["wrinkle_detector"]),
            config_sha256=str(assessment.get("config_sha256", "")),
            training=dict(doc.get("training") or {}),
            sha256=hashlib.sha256(data).hexdigest(),
        )
    except KeyError as exc:
        raise ModelError(f"{path}: GAIS scorer is missing the field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{path}: invalid GAIS scorer: {exc}") from None

