"""Can the two photos be compared at all? Same person, same expression.

baseline and follow-up landmarks and identities → ``Comparability`` (QC flags,
the measured distances); with an expression change, the regions whose skin
moved, where PIH cannot be judged.

A follow-up of another person, or of the patient smiling, measures the
difference between two faces or two expressions, not a treatment: such a pair
is not usable, and the flag says what to retake.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from outcomes.config import ExpressionConfig, IdentityConfig
from outcomes.expression import (
    ExpressionChange,
    compare_expressions,
    load_expression_noise,
    measure_expression,
    moved_regions,
)
from outcomes.identity import FaceIdentity, identity_distance
from outcomes.types import Landmarks


@dataclass(frozen=True)
class Comparability:
    """The same-person and same-expression checks of one pair.

    Attributes
    ----------
    flags : tuple of str
        ``"different_person: …"`` and ``"expression_change: …"`` QC flags (each
        with what was measured and the threshold).
    usable : bool
        False when either check failed.
    identity_distance : float or None
        Face-embedding distance (None: not checked).
    identity_max_distance : float
    expression : ExpressionChange or None
        None when the check is off.
    """

    flags: tuple[str, ...]
    usable: bool
    identity_distance: float | None
    identity_max_distance: float
    expression: ExpressionChange | None

    def to_dict(self) -> dict:
        out: dict = {}
        if self.identity_distance is not None:
            out["identity"] = {"distance": round(self.identity_distance, 4),
                               "max_distance": self.identity_max_distance,
                               "same_person": self.identity_distance <= self.identity_max_distance}
        if self.expression is not None:
            e = self.expression
            out["expression"] = {"distance": round(e.distance, 3), "max_distance": e.max_distance,
                                 "changed": e.changed, "changes_ipd": {k: round(v, 4) for k, v in e.changes.items()}}
        return out


def check_comparability(before: Landmarks, after: Landmarks, before_identity: FaceIdentity | None,
                        after_identity: FaceIdentity | None, expression: ExpressionConfig,
                        identity: IdentityConfig) -> Comparability:
    """Same person (when both identities are given) and same expression (when ``expression.check``)."""
    flags = []
    distance = None
    if identity.check and before_identity is not None and after_identity is not None:
        distance = identity_distance(before_identity, after_identity)
        if distance > identity.max_distance:
            flags.append(f"different_person: the follow-up's face is not the baseline's person (face-embedding "
                         f"distance {distance:.2f}, above {identity.max_distance:g}); check the photo is this "
                         "patient's")
    change = None
    # Another person's face has another shape: its "expression" change means nothing.
    if expression.check and not flags:
        noise = load_expression_noise(expression.min_noise_sd_ipd)
        change = compare_expressions(measure_expression(before), measure_expression(after), noise,
                                     expression.max_distance)
        if change.changed:
            flags.append(f"expression_change: {change.describe()}")
    return Comparability(flags=tuple(flags), usable=not flags, identity_distance=distance,
                         identity_max_distance=identity.max_distance, expression=change)


def pih_not_assessable(comparability: Comparability, before: Landmarks, after: Landmarks, after_to_before: np.ndarray,
                       region_masks: dict[str, np.ndarray], expression: ExpressionConfig) -> dict[str, str]:
    """Regions where PIH cannot be judged because the expression moved their skin (region → reason).

    Empty unless the expression changed or the follow-up shows another person. A moved
    region's shading moved with it (a smile's folds and cheek shadows), which a colour
    comparison would read as new pigment; another person's skin is not the patient's.
    """
    if comparability.identity_distance is not None and comparability.identity_distance > \
            comparability.identity_max_distance:
        return {name: "the follow-up shows another person" for name in region_masks}
    if comparability.expression is None or not comparability.expression.changed:
        return {}
    import cv2

    mapped = cv2.perspectiveTransform(after.points.reshape(-1, 1, 2).astype(np.float64),
                                      np.asarray(after_to_before, np.float64)).reshape(-1, 2)
    moved = moved_regions(before, mapped, region_masks, expression.pih_min_motion_ipd)
    return {name: f"expression moved this skin by {motion:.3f} IPD (above {expression.pih_min_motion_ipd:g})"
            for name, motion in moved.items()}
