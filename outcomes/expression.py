"""Facial expression from the landmarks, and whether it changed between two photos.

landmarks → ``Expression`` (six measures in IPD units, in the face's own frame);
two expressions → ``ExpressionChange`` (each measure's change, and one
distance in units of the change that repeat photos of an unchanged face show).

A smile (FACS AU12 + AU6) widens the mouth, lifts its corners and raises the
cheeks, narrowing the eyes; it deepens the nasolabial folds and casts shadows
that a wrinkle or pigment measure would read as worsening. A brow raise
creases the forehead; an open mouth moves the chin and jaw. Such a pair is
not comparable: the follow-up must be retaken with the baseline's expression.

Each measure averages several mesh points, so one point's jitter moves it
little. The noise of each measure on repeat photos of unchanged faces (camera
distance, blur, noise, JPEG, exposure, white balance, ±3° of head turn:
``outcomes.simulate.recapture``) is shipped as a covariance in
``outcomes/data/expression_noise.json`` (made by
``scripts/make_expression_noise.py`` on the tuning half of the London faces);
the change of two photos is judged by its Mahalanobis distance under that
noise, so a measure that is noisy on repeats counts for less.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from outcomes.types import Landmarks

MEASURES: tuple[str, ...] = (
    "mouth_width", "corner_lift", "lip_opening", "eye_aperture", "brow_height", "cheek_height",
)
"""Expression measures, each in IPD units (see :class:`Expression`)."""

_DESCRIPTION = {
    "mouth_width": ("mouth wider", "mouth narrower"),
    "corner_lift": ("mouth corners raised", "mouth corners lowered"),
    "lip_opening": ("lips parted", "lips closed"),
    "eye_aperture": ("eyes opened wider", "eyes narrowed"),
    "brow_height": ("brows raised", "brows lowered"),
    "cheek_height": ("cheeks raised", "cheeks lowered"),
}

# Mediapipe face-mesh indices; right/left of the subject.
_MOUTH_CORNER_PAIRS = ((61, 291), (78, 308), (62, 292))
_LIP_CENTRE = (0, 17, 13, 14)
_MOUTH_CORNERS = (61, 291, 78, 308)
_INNER_LIP_PAIRS = ((13, 14), (82, 87), (312, 317), (81, 178), (311, 402))
_EYELID_PAIRS = ((159, 145), (158, 153), (160, 144), (386, 374), (385, 380), (387, 373))
_BROWS = (70, 63, 105, 66, 107, 300, 293, 334, 296, 336)
_CHEEKS = (50, 280, 205, 425, 117, 346, 118, 347, 101, 330)
_PUPILS = (468, 473)


@dataclass(frozen=True)
class Expression:
    """Expression measures of one face, IPD units, in a frame with the pupils on the x axis.

    Attributes
    ----------
    mouth_width : mean distance of the mouth's outer and inner corners.
    corner_lift : height of the mouth corners above the lips' centre line (up is positive).
    lip_opening : mean gap between the inner lips.
    eye_aperture : mean gap between the upper and lower eyelids.
    brow_height : height of the brows above the pupils.
    cheek_height : height of the cheeks' mesh points (negative: below the pupils).
    """

    mouth_width: float
    corner_lift: float
    lip_opening: float
    eye_aperture: float
    brow_height: float
    cheek_height: float

    def as_vector(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in MEASURES])


@dataclass(frozen=True)
class ExpressionChange:
    """How the follow-up's expression differs from the baseline's.

    Attributes
    ----------
    changes : dict[str, float]
        After minus before for each measure, IPD units.
    distance : float
        Mahalanobis distance of the change under repeat-photo noise (0: same expression).
    max_distance : float
        The threshold it was compared with.
    main_changes : tuple of str
        The measures that moved most, in words (largest first), for the QC message.
    """

    changes: dict[str, float]
    distance: float
    max_distance: float
    main_changes: tuple[str, ...]

    @property
    def changed(self) -> bool:
        return self.distance > self.max_distance

    def describe(self) -> str:
        """One line for the QC flag: what changed, and by how much against the threshold."""
        what = ", ".join(self.main_changes) or "expression"
        return (f"{what} (expression distance {self.distance:.1f}, above {self.max_distance:g} "
                "repeat-photo noise units); retake the follow-up with the baseline's expression")


def measure_expression(landmarks: Landmarks) -> Expression:
    """The six expression measures of a face from its 478-point mesh.

    Raises
    ------
    ValueError
        The landmarks are not the 478-point mediapipe mesh.
    """
    p = landmarks.points
    if p.shape != (478, 2):
        raise ValueError(f"expression needs the 478-point face mesh, got points of shape {p.shape}")
    right, left = p[_PUPILS[0]], p[_PUPILS[1]]
    ipd = float(np.linalg.norm(left - right))
    angle = np.arctan2(left[1] - right[1], left[0] - right[0])
    rot = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    q = (p - (right + left) / 2) @ rot.T / ipd  # x along the pupils, y down the face

    def gap(pairs: tuple[tuple[int, int], ...]) -> float:
        return float(np.mean([np.linalg.norm(q[a] - q[b]) for a, b in pairs]))

    def height(indices: tuple[int, ...]) -> float:
        return float(-np.mean(q[list(indices), 1]))

    return Expression(
        mouth_width=gap(_MOUTH_CORNER_PAIRS),
        corner_lift=height(_MOUTH_CORNERS) - height(_LIP_CENTRE),
        lip_opening=gap(_INNER_LIP_PAIRS),
        eye_aperture=gap(_EYELID_PAIRS),
        brow_height=height(_BROWS),
        cheek_height=height(_CHEEKS),
    )


@dataclass(frozen=True)
class ExpressionNoise:
    """Covariance of the measures' changes between repeat photos of unchanged faces.

    Attributes
    ----------
    covariance : ndarray, shape (6, 6)
        In the order of :data:`MEASURES`, IPD² units.
    source : str
        How it was measured.
    """

    covariance: np.ndarray
    source: str

    def __post_init__(self) -> None:
        c = self.covariance
        if c.shape != (len(MEASURES),) * 2 or not np.allclose(c, c.T) or np.linalg.eigvalsh(c).min() <= 0:
            raise ValueError(f"expression noise covariance must be a symmetric positive-definite "
                             f"{len(MEASURES)}×{len(MEASURES)} matrix, got shape {c.shape}")


@lru_cache(maxsize=4)
def load_expression_noise(min_sd_ipd: float = 0.0) -> ExpressionNoise:
    """The repeat-photo noise model shipped in ``outcomes/data/expression_noise.json``.

    Read once per floor and kept (every pair compares with it); treat it as read-only.

    Parameters
    ----------
    min_sd_ipd : float
        Each measure's sd is raised to at least this (IPD units), its correlations kept.
    """
    with resources.files("outcomes.data").joinpath("expression_noise.json").open("r") as f:
        data = json.load(f)
    if tuple(data["measures"]) != MEASURES:
        raise ValueError(f"expression_noise.json lists measures {data['measures']}, expected {list(MEASURES)}")
    covariance = np.asarray(data["covariance"], dtype=np.float64)
    sd = np.sqrt(np.diag(covariance))
    floored = np.maximum(sd, min_sd_ipd)
    covariance = covariance / np.outer(sd, sd) * np.outer(floored, floored)
    return ExpressionNoise(covariance=covariance, source=data["source"])


def compare_expressions(before: Expression, after: Expression, noise: ExpressionNoise,
                        max_distance: float) -> ExpressionChange:
    """The change from ``before`` to ``after`` and its distance under repeat-photo noise.

    Parameters
    ----------
    before, after : Expression
    noise : ExpressionNoise
    max_distance : float
        A larger distance means the expression changed (``ExpressionChange.changed``).
    """
    delta = after.as_vector() - before.as_vector()
    distance = float(np.sqrt(delta @ np.linalg.solve(noise.covariance, delta)))
    z = delta / np.sqrt(np.diag(noise.covariance))
    # Name the measures that moved beyond 3 noise sd, largest first (at least the largest).
    order = [i for i in np.argsort(-np.abs(z)) if abs(z[i]) > 3.0] or [int(np.argmax(np.abs(z)))]
    words = tuple(_DESCRIPTION[MEASURES[i]][0 if delta[i] > 0 else 1] for i in order[:3])
    return ExpressionChange(changes={name: float(d) for name, d in zip(MEASURES, delta)}, distance=distance,
                            max_distance=max_distance, main_changes=words)


def moved_regions(before: Landmarks, after_points_in_before: np.ndarray, region_masks: dict[str, np.ndarray],
                  min_motion_ipd: float) -> dict[str, float]:
    """Regions whose skin moved between the photos more than ``min_motion_ipd``.

    Parameters
    ----------
    before : Landmarks
        BEFORE's mesh.
    after_points_in_before : ndarray, shape (478, 2)
        AFTER's mesh mapped into BEFORE's frame by the registration.
    region_masks : dict of str to ndarray (H, W) bool
        In BEFORE's frame.
    min_motion_ipd : float
        Median motion of a region's mesh points, IPD units, from which it counts as moved.

    Returns
    -------
    dict[str, float]
        Region → median motion of its mesh points (IPD units), for the moved regions only.
    """
    if after_points_in_before.shape != before.points.shape:
        raise ValueError(f"after_points_in_before has shape {after_points_in_before.shape}, "
                         f"expected {before.points.shape}")
    ipd = before.inter_pupil_distance
    motion = np.linalg.norm(after_points_in_before - before.points, axis=1) / ipd
    xy = np.round(before.points).astype(int)
    moved = {}
    for name, mask in region_masks.items():
        h, w = mask.shape
        inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
        idx = np.nonzero(inside)[0]
        idx = idx[mask[xy[idx, 1], xy[idx, 0]]]
        if len(idx) < 3:  # a thin region: its nearest mesh points
            ys, xs = np.nonzero(mask)
            if len(xs) == 0:
                continue
            centre = np.array([xs.mean(), ys.mean()])
            idx = np.argsort(np.linalg.norm(before.points - centre, axis=1))[:8]
        value = float(np.median(motion[idx]))
        if value > min_motion_ipd:
            moved[name] = value
    return moved
