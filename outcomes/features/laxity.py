"""Laxity features from a frontal photo: jowl bulge of the jawline, fold depth.

- Jawline (``jawline_right/left``): how far the lower face contour bulges
  beyond the straight line from the jaw angle to the chin, in % of the
  inter-pupil distance (IPD), from each photo's own landmarks (so it does not
  depend on the registration). Jowls push this contour outwards.
- Folds (``nasolabial_*``, ``marionette_*``): the depth of the shading valley
  across the fold, sampled on profiles perpendicular to the fold line in the
  baseline's frame, as a % darkening relative to the skin beside the fold.
  A deeper fold casts a darker valley under the same lighting.
- Submental laxity needs a profile view: on a frontal photo it is reported as
  not assessable rather than guessed.

Each value carries a confidence in [0, 1]: jaw landmarks are the least stable
of the face (mouth opening, head pitch), so confidence falls with open mouth
and with pose away from frontal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from outcomes.regions import JAW_LEFT, JAW_RIGHT
from outcomes.types import Landmarks

NOT_ASSESSABLE = {"submental": "needs a profile (90°) view; not assessable on a frontal photo"}

# Upper and lower inner lip midpoints of the mesh: their gap is the mouth opening.
_UPPER_LIP_INNER, _LOWER_LIP_INNER = 13, 14
# Nose-wing (alar crease) points beside which the nasolabial fold starts.
_ALA = {"right": 129, "left": 358}


@dataclass(frozen=True)
class LaxityValue:
    value: float
    confidence: float


def _frame(lm: Landmarks) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    right, left = lm.anchors["right_pupil"], lm.anchors["left_pupil"]
    ipd = float(np.linalg.norm(left - right))
    ex = (left - right) / ipd
    return (right + left) / 2, ex, np.array([-ex[1], ex[0]]), ipd


def landmark_confidence(lm: Landmarks) -> float:
    """1 for a neutral frontal face, falling with mouth opening and head turn."""
    _, _, _, ipd = _frame(lm)
    opening = np.linalg.norm(lm.points[_UPPER_LIP_INNER] - lm.points[_LOWER_LIP_INNER]) / ipd
    pose = max(abs(lm.pose.yaw), abs(lm.pose.pitch))
    return float(np.clip(1.0 - opening / 0.25, 0, 1) * np.clip(1.0 - pose / 20.0, 0, 1))


def jowl_bulge(lm: Landmarks, side: str) -> float:
    """Largest outward bulge of the jaw contour beyond the jaw-angle–chin chord, % IPD."""
    origin, ex, ey, ipd = _frame(lm)
    contour = lm.points[list(JAW_RIGHT if side == "right" else JAW_LEFT)]
    chord = contour[-1] - contour[0]
    normal = np.array([-chord[1], chord[0]]) / np.linalg.norm(chord)
    # Orient the normal away from the face centre (outwards).
    centre = origin + ipd * ey
    if normal @ (contour[len(contour) // 2] - centre) < 0:
        normal = -normal
    offsets = (contour[1:-1] - contour[0]) @ normal
    return float(max(offsets.max(), 0.0) / ipd * 100)


def fold_depth(luminance: np.ndarray, start: np.ndarray, end: np.ndarray, ipd: float,
               half_width_ipd: float = 0.12, samples: int = 9, smoothing_ipd: float = 0.015) -> float:
    """Shading-valley depth across a fold line, % of the skin luminance beside it.

    Parameters
    ----------
    luminance : ndarray, shape (H, W), float
        L* (or any luminance) of the photo, in the frame of ``start``/``end``.
    start, end : ndarray, shape (2,)
        Ends of the fold line in pixels.
    ipd : float
        Inter-pupil distance in pixels (profile length scale).
    smoothing_ipd : float
        Gaussian sd (IPD units, ~1 mm) applied before the profiles are read: a fold is a
        valley several mm wide, and at that scale pores, fine lines, sensor noise and the
        photo's own sharpness (focus, distance, JPEG) no longer move its minimum.

    Returns
    -------
    float
        Median over profiles of (mean of the two profile ends − profile
        minimum) / mean of the ends × 100; 0 when there is no valley.
    """
    import cv2

    direction = (end - start) / max(np.linalg.norm(end - start), 1e-6)
    normal = np.array([-direction[1], direction[0]])
    ts = np.linspace(0.15, 0.85, samples)
    offsets = np.linspace(-half_width_ipd, half_width_ipd, 25) * ipd
    centres = start + ts[:, None] * (end - start)
    pts = centres[:, None, :] + offsets[None, :, None] * normal
    sigma = max(smoothing_ipd * ipd, 0.5)
    # Smooth only the box the profiles reach (plus the filter's reach).
    h, w = luminance.shape[:2]
    pad = int(np.ceil(3 * sigma)) + 2
    x0 = int(np.clip(np.floor(pts[..., 0].min()) - pad, 0, w - 1))
    x1 = int(np.clip(np.ceil(pts[..., 0].max()) + pad + 1, x0 + 1, w))
    y0 = int(np.clip(np.floor(pts[..., 1].min()) - pad, 0, h - 1))
    y1 = int(np.clip(np.ceil(pts[..., 1].max()) + pad + 1, y0 + 1, h))
    local = cv2.GaussianBlur(np.ascontiguousarray(luminance[y0:y1, x0:x1], np.float32), (0, 0), sigma)
    profile = cv2.remap(local, (pts[..., 0] - x0).astype(np.float32), (pts[..., 1] - y0).astype(np.float32),
                        cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    ends = (profile[:, :3].mean(axis=1) + profile[:, -3:].mean(axis=1)) / 2
    depth = (ends - profile[:, 3:-3].min(axis=1)) / np.maximum(ends, 1e-3) * 100
    return float(max(np.median(depth), 0.0))


def fold_lines(lm: Landmarks) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Fold lines (start, end) in pixels: nasolabial from the ala to beside the mouth
    corner, marionette from the mouth corner down towards the jaw."""
    _, ex, ey, ipd = _frame(lm)
    lines = {}
    for side, s in (("right", -1.0), ("left", 1.0)):
        corner = lm.anchors[f"mouth_{side}"]
        ala = lm.points[_ALA[side]]
        lines[f"nasolabial_{side}"] = (ala + s * 0.05 * ipd * ex, corner + s * 0.08 * ipd * ex)
        lines[f"marionette_{side}"] = (corner + 0.05 * ipd * ey, corner + s * 0.06 * ipd * ex + 0.45 * ipd * ey)
    return lines


def laxity_features(lm: Landmarks, luminance: np.ndarray, frame_landmarks: Landmarks | None = None) -> dict[str, LaxityValue]:
    """Laxity per region for one photo.

    Parameters
    ----------
    lm : Landmarks
        The photo's own landmarks (for the jaw contour).
    luminance : ndarray, shape (H, W)
        L* of the photo in the frame where fold lines are sampled.
    frame_landmarks : Landmarks, optional
        Landmarks that place the fold lines in ``luminance``'s frame
        (BEFORE's, when ``luminance`` is AFTER aligned to BEFORE); ``lm`` if omitted.
    """
    confidence = landmark_confidence(lm)
    frame_lm = frame_landmarks or lm
    ipd = frame_lm.inter_pupil_distance
    out = {f"jawline_{side}": LaxityValue(jowl_bulge(lm, side), 0.6 * confidence) for side in ("right", "left")}
    for name, (start, end) in fold_lines(frame_lm).items():
        out[name] = LaxityValue(fold_depth(luminance, start, end, ipd), 0.8 * confidence)
    return out
