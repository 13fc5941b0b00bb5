"""GAIS estimate: region changes → improvement score → grade 1–5 with probabilities.

``improvement_score`` is the fraction by which the face's wrinkle severity
(summed over the scored regions, so regions with more wrinkles count more)
fell between visits, blended with laxity tightening (the relative fall in
fold depth and the jowl contour's inward movement) weighted by its
confidence. 0 is no change, 0.3 is 30 % less, negative is worse; being a fraction of the subject's own baseline it is comparable across
subjects.

Grades come from an ordinal (cumulative-logit) model on that score:
P(grade ≤ k) = σ((score − c_k) / s) with cutpoints c_1 > … > c_4 and a scale
s equal to the measurement noise seen on pairs where nothing changed, so a
score within the noise gives "No change" with honest uncertainty. The
cutpoints and weights are plain parameters (``ScorerParams``) so that
calibration to a site's investigator ratings can refit them. New PIH, or a
significant worsening, makes the estimate "Worse".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GRADE_LABELS: dict[int, str] = {
    1: "Very much improved",
    2: "Much improved",
    3: "Improved",
    4: "No change",
    5: "Worse",
}


@dataclass(frozen=True)
class ScorerParams:
    """Parameters of the default scorer; rationale in outcomes/configs/default.yaml."""

    version: str = "default-1"
    wrinkle_weight: float = 1.0
    laxity_weight: float = 0.25
    # Added to the summed baseline severity so that a face with almost no
    # wrinkles does not turn detector noise into large relative changes.
    severity_floor: float = 0.02
    fold_floor: float = 1.0
    # Jowls: inward movement of the jaw contour (% IPD) that counts as a laxity
    # component of 1, and the jawline's weight beside the folds'.
    jowl_scale: float = 3.0
    jowl_weight: float = 1.0
    # Cutpoints between grades 1|2, 2|3, 3|4 and 4|5 on the improvement score.
    cutpoints: tuple[float, ...] = (0.60, 0.35, 0.10, -0.10)
    # Logistic scale: the improvement score's noise on unchanged pairs.
    noise_scale: float = 0.05
    # Probability moved to "Worse" when PIH is found, by severity.
    pih_worse_probability: tuple[float, ...] = (0.75, 0.9, 0.97)  # mild, moderate, severe

    def __post_init__(self) -> None:
        from outcomes.errors import ConfigError

        c = self.cutpoints
        if len(c) != 4 or any(a <= b for a, b in zip(c, c[1:])):
            raise ConfigError(f"gais.cutpoints: need 4 strictly decreasing values, got {list(c)}")
        if self.noise_scale <= 0:
            raise ConfigError(f"gais.noise_scale: must be positive, got {self.noise_scale}")
        if len(self.pih_worse_probability) != 3 or not all(0 <= p <= 1 for p in self.pih_worse_probability):
            raise ConfigError("gais.pih_worse_probability: need 3 probabilities (mild, moderate, severe)")


@dataclass(frozen=True)
class GaisEstimate:
    grade: int
    label: str
    probabilities: dict[str, float]
    improvement_score: float
    wrinkle_component: float
    laxity_component: float | None
    override: str | None  # "pih" when PIH forced "Worse"
    scorer: str = "default"  # which scorer made the grade: "default:<version>" or "calibrated:<name>"


PIH_SEVERITIES = ("mild", "moderate", "severe")


@dataclass(frozen=True)
class ScoringFeatures:
    """What a GAIS scorer sees of one assessed pair.

    Attributes
    ----------
    improvement_score : float
        The default blend (see :func:`improvement_score`); 0 = no change.
    wrinkle_reduction : float
        Fraction of the baseline wrinkle severity removed (negative = worse).
    fold_reduction : float or None
        Confidence-weighted fraction of fold depth removed; None = not measured.
    wrinkle_removed : float
        Mean over the scored regions of (severity before − severity after):
        the absolute change, which a rater also sees (a 50 % fall of faint
        lines is less visible than of deep ones).
    pih_severity : str
        "none", "mild", "moderate" or "severe".
    """

    improvement_score: float
    wrinkle_reduction: float
    fold_reduction: float | None
    wrinkle_removed: float
    pih_severity: str

    def __post_init__(self) -> None:
        if self.pih_severity not in ("none", *PIH_SEVERITIES):
            raise ValueError(f"pih_severity must be none, mild, moderate or severe, got {self.pih_severity!r}")

    @property
    def pih(self) -> bool:
        return self.pih_severity in PIH_SEVERITIES

    def value(self, name: str) -> float:
        """A feature by name as a number (an unmeasured fold change counts as no change)."""
        if name not in CALIBRATION_FEATURES:
            raise KeyError(f"unknown scoring feature {name!r}; known: {', '.join(CALIBRATION_FEATURES)}")
        v = getattr(self, name)
        return 0.0 if v is None else float(v)

    @classmethod
    def from_assessment(cls, assessment: dict) -> ScoringFeatures:
        """Read the features back from an assessment's contract JSON (``Assessment.to_dict()``)."""
        gais, regions = assessment["gais"], assessment["regions"]
        measured = [r for r in regions.values() if r.get("wrinkle_before") is not None
                    and r.get("wrinkle_after") is not None]
        return cls(
            improvement_score=float(gais["improvement_score"]),
            wrinkle_reduction=float(gais["components"]["wrinkle"]),
            fold_reduction=None if gais["components"].get("laxity") is None else float(gais["components"]["laxity"]),
            wrinkle_removed=mean_severity_drop([r["wrinkle_before"] for r in measured],
                                               [r["wrinkle_after"] for r in measured]),
            pih_severity=str(assessment["pih"]["severity"]),
        )


def mean_severity_drop(before: list[float], after: list[float]) -> float:
    """Mean over regions of wrinkle severity before minus after (0 with no regions)."""
    drops = [b - a for b, a in zip(before, after)]
    return float(sum(drops) / len(drops)) if drops else 0.0


# The features a calibrated scorer may use, in this order.
CALIBRATION_FEATURES = ("wrinkle_reduction", "fold_reduction", "wrinkle_removed", "improvement_score")
# Those it uses unless told otherwise. On simulated trials (benchmarks/calibration.py)
# adding the fold and absolute-severity features never raised held-out κ and
# usually lowered it by ~0.01: the simulator does not vary laxity, and the
# absolute drop adds little to the relative one. A site whose investigators
# weigh folds can ask for them (--features).
DEFAULT_CALIBRATION_FEATURES = ("wrinkle_reduction",)


def move_to_worse(probabilities: dict[int, float], pih_severity: str,
                  worse_probability: tuple[float, ...]) -> tuple[dict[int, float], bool]:
    """PIH safety rule shared by every scorer: new PIH moves probability to "Worse".

    Returns the new probabilities and whether the rule applied.
    """
    if pih_severity not in PIH_SEVERITIES:
        return probabilities, False
    p = worse_probability[PIH_SEVERITIES.index(pih_severity)]
    moved = {g: v * (1 - p) for g, v in probabilities.items()}
    moved[5] = moved.get(5, 0.0) + p
    return moved, True


FOLDS = ("nasolabial", "marionette")
JAWLINES = ("jawline",)


def laxity_component(before: dict[str, float], after: dict[str, float], confidence: dict[str, float],
                     params: ScorerParams) -> tuple[float | None, float]:
    """Confidence-weighted tightening from folds and jawlines; returns (component, mean confidence).

    Folds: the relative fall of their depth (floored, like wrinkles). Jawlines: how far
    the contour moved inwards over the jowl, in units of ``params.jowl_scale`` (% IPD)
    — a jaw's own bow is its bone's shape as much as laxity, so its movement, not its
    relative size, is what a treatment changes.
    """
    parts: list[tuple[float, float]] = []  # (value, weight)
    confidences: list[float] = []
    folds = [r for r in before if r in after and r.startswith(FOLDS)]
    if folds:
        conf = [confidence.get(r, 0.0) for r in folds]
        total_b = sum(c * before[r] for c, r in zip(conf, folds))
        total_a = sum(c * after[r] for c, r in zip(conf, folds))
        parts.append(((total_b - total_a) / (total_b + params.fold_floor * max(sum(conf), 1e-6)), sum(conf) / len(conf)))
        confidences += conf
    jaws = [r for r in before if r in after and r.startswith(JAWLINES)]
    if jaws and params.jowl_weight > 0:
        conf = [confidence.get(r, 0.0) for r in jaws]
        inward = sum(c * (before[r] - after[r]) for c, r in zip(conf, jaws)) / max(sum(conf), 1e-6)
        parts.append((inward / params.jowl_scale, params.jowl_weight * sum(conf) / len(conf)))
        confidences += conf
    weight = sum(w for _, w in parts)
    if not parts or weight <= 0:
        return (None if not parts else 0.0), 0.0
    return sum(v * w for v, w in parts) / weight, sum(confidences) / len(confidences)


def improvement_score(
    wrinkle_before: dict[str, float], wrinkle_after: dict[str, float],
    laxity_before: dict[str, float], laxity_after: dict[str, float], laxity_confidence: dict[str, float],
    params: ScorerParams,
) -> tuple[float, float, float | None]:
    """Blend of relative wrinkle reduction and laxity tightening; returns (score, wrinkle, laxity)."""
    regions = [r for r in wrinkle_before if r in wrinkle_after]
    total_before = sum(wrinkle_before[r] for r in regions)
    total_after = sum(wrinkle_after[r] for r in regions)
    wrinkle = (total_before - total_after) / (total_before + params.severity_floor) if regions else 0.0
    laxity, weight_lax = None, 0.0
    if params.laxity_weight > 0:
        laxity, mean_confidence = laxity_component(laxity_before, laxity_after, laxity_confidence, params)
        weight_lax = params.laxity_weight * mean_confidence
    score = (params.wrinkle_weight * wrinkle + weight_lax * (laxity or 0.0)) / (params.wrinkle_weight + weight_lax)
    return float(score), float(wrinkle), laxity


def grade_probabilities(score: float, params: ScorerParams) -> dict[int, float]:
    """Cumulative-logit probabilities of grades 1–5 for an improvement score."""
    def sigmoid(x: float) -> float:
        return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))

    cumulative = [sigmoid((score - c) / params.noise_scale) for c in params.cutpoints] + [1.0]
    probs, previous = {}, 0.0
    for grade, cum in zip(range(1, 6), cumulative):
        probs[grade] = max(cum - previous, 0.0)
        previous = cum
    return probs


def estimate_gais(score: float, wrinkle: float, laxity: float | None, pih_severity: str,
                  params: ScorerParams) -> GaisEstimate:
    """Grade, label and probabilities; PIH moves probability to "Worse"."""
    probs, pih = move_to_worse(grade_probabilities(score, params), pih_severity, params.pih_worse_probability)
    grade = 5 if pih else next((g for g, c in zip(range(1, 5), params.cutpoints) if score >= c), 5)
    override = "pih" if pih else None
    return GaisEstimate(
        grade=grade, label=GRADE_LABELS[grade],
        probabilities={str(g): round(v, 4) for g, v in probs.items()},
        improvement_score=round(score, 4), wrinkle_component=round(wrinkle, 4),
        laxity_component=None if laxity is None else round(laxity, 4), override=override,
        scorer=f"default:{params.version}",
    )


_LABEL_TO_GRADE = {label.casefold(): grade for grade, label in GRADE_LABELS.items()}


def parse_grade(text: str) -> int:
    """A GAIS grade from its number (``"1"`` … ``"5"``) or its label text.

    Labels are matched ignoring case and repeated spaces ("much improved",
    "No Change"). Other codings (+3 … −1, 7-point scales) must be converted
    explicitly beforehand: guessing them would silently misgrade.

    Raises
    ------
    ValueError
        Neither a grade 1–5 nor one of the five labels.
    """
    cleaned = " ".join(str(text).split())
    if cleaned.isdigit() or (cleaned[:1] in "+-" and cleaned[1:].isdigit()):
        grade = int(cleaned)
        if 1 <= grade <= 5:
            return grade
        raise ValueError(f"grade {cleaned} is outside 1–5")
    grade = _LABEL_TO_GRADE.get(cleaned.casefold())
    if grade is None:
        labels = ", ".join(f"{g} {lab!r}" for g, lab in GRADE_LABELS.items())
        raise ValueError(f"{cleaned!r} is neither a grade 1–5 nor a GAIS label ({labels})")
    return grade
