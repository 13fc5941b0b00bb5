"""Facial regions from the landmarks, skin pixels only, in the baseline's frame.

Regions are laid out in a face frame: ``u`` along the eye line (from the
subject's right pupil towards the left one), ``v`` perpendicular to it
(downwards), both in inter-pupil distances (IPD) from the midpoint of the
pupils. Their bounds follow the face's own anchors (brows, eye corners,
subnasale, mouth corners, chin, jaw contour), so they scale and rotate with
the face. Each pixel belongs to at most one region; eyes, brows, lips and
nostrils are cut out, and pixels that do not look like skin (hair, shadow,
glare) are dropped. A region with too little skin left is omitted, with the
reason, rather than scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from outcomes.landmarks import FACE_OVAL, LEFT_EYE_CONTOUR, LIPS_OUTER, RIGHT_EYE_CONTOUR
from outcomes.types import Landmarks

REGION_NAMES: tuple[str, ...] = (
    "forehead", "glabella", "crows_feet_right", "crows_feet_left", "under_eye_right", "under_eye_left",
    "cheek_right", "cheek_left", "nasolabial_right", "nasolabial_left", "perioral",
    "marionette_right", "marionette_left", "jawline_right", "jawline_left", "chin",
)

# Mesh indices of the brows (upper and lower edge) and the nostrils.
RIGHT_BROW: tuple[int, ...] = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
LEFT_BROW: tuple[int, ...] = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
NOSTRILS: tuple[int, ...] = (98, 97, 2, 326, 327, 294, 278, 344, 440, 275, 4, 45, 220, 115, 48, 64)
# Lower face contour, jaw angle to chin, for each side.
JAW_RIGHT: tuple[int, ...] = (132, 58, 172, 136, 150, 149, 176, 148)
JAW_LEFT: tuple[int, ...] = (361, 288, 397, 365, 379, 378, 400, 377)

IRIS_DIAMETER_MM = 11.7  # adult horizontal visible iris diameter, nearly constant
IPD_MM = 63.0  # adult mean inter-pupil distance


@dataclass(frozen=True)
class RegionMasks:
    """Region masks of one face in one frame.

    Attributes
    ----------
    masks : dict[str, ndarray]
        Region name → (H, W) bool, skin pixels of that region only.
    omitted : dict[str, str]
        Region name → why it is not scored (mostly hidden, outside the photo).
    skin : ndarray, shape (H, W), bool
        The skin classification the masks were cut with.
    mm_per_px : float
        Physical scale from the inter-pupil distance (≈ 63 mm).
    """

    masks: dict[str, np.ndarray]
    omitted: dict[str, str]
    skin: np.ndarray
    mm_per_px: float


class _FaceFrame:
    """Face-frame (u, v) in IPD units ↔ pixels."""

    def __init__(self, landmarks: Landmarks):
        right, left = landmarks.anchors["right_pupil"], landmarks.anchors["left_pupil"]
        self.origin = (right + left) / 2
        self.ipd = float(np.linalg.norm(left - right))
        self.ex = (left - right) / self.ipd
        self.ey = np.array([-self.ex[1], self.ex[0]])  # 90° clockwise on screen: downwards

    def uv(self, points: np.ndarray) -> np.ndarray:
        d = np.atleast_2d(points) - self.origin
        return np.c_[d @ self.ex, d @ self.ey] / self.ipd

    def px(self, uv: np.ndarray) -> np.ndarray:
        uv = np.atleast_2d(np.asarray(uv, dtype=np.float64))
        return self.origin + self.ipd * (uv[:, :1] * self.ex + uv[:, 1:2] * self.ey)


def _region_polygons(landmarks: Landmarks) -> dict[str, np.ndarray]:
    """Polygon (K, 2) in pixels for each region, before clipping and skin cuts."""
    f = _FaceFrame(landmarks)
    a = {k: f.uv(v)[0] for k, v in landmarks.anchors.items()}
    p = landmarks.points
    brow_top = min(f.uv(p[[105, 334, 66, 296]])[:, 1])
    brow_bottom = max(f.uv(p[[52, 282, 65, 295]])[:, 1])
    nose_v, mouth_v, chin_v = a["subnasale"][1], (a["mouth_right"][1] + a["mouth_left"][1]) / 2, a["chin"][1]
    mouth_u = (abs(a["mouth_right"][0]) + abs(a["mouth_left"][0])) / 2
    outer_u = (abs(a["right_eye_outer"][0]) + abs(a["left_eye_outer"][0])) / 2
    polys: dict[str, list[tuple[float, float]]] = {
        "forehead": [(-0.85, brow_top - 0.85), (0.85, brow_top - 0.85), (0.85, brow_top - 0.08), (-0.85, brow_top - 0.08)],
        "glabella": [(-0.2, brow_top - 0.15), (0.2, brow_top - 0.15), (0.14, brow_bottom + 0.1), (-0.14, brow_bottom + 0.1)],
        "perioral": [(-mouth_u - 0.05, nose_v + 0.06), (mouth_u + 0.05, nose_v + 0.06),
                     (mouth_u + 0.05, mouth_v + 0.22), (-mouth_u - 0.05, mouth_v + 0.22)],
        "chin": [(-0.32, mouth_v + 0.22), (0.32, mouth_v + 0.22), (0.25, chin_v - 0.04), (-0.25, chin_v - 0.04)],
    }
    for side, s in (("right", -1.0), ("left", 1.0)):
        pupil_u = a[f"{side}_pupil"][0]
        polys[f"crows_feet_{side}"] = [(s * (outer_u + 0.04), -0.22), (s * (outer_u + 0.42), -0.3),
                                      (s * (outer_u + 0.42), 0.35), (s * (outer_u + 0.04), 0.25)]
        polys[f"under_eye_{side}"] = [(pupil_u - 0.3, 0.16), (pupil_u + 0.3, 0.16),
                                     (pupil_u + 0.28, 0.45), (pupil_u - 0.28, 0.45)]
        polys[f"cheek_{side}"] = [(s * 0.32, 0.5), (s * 0.9, 0.45), (s * 0.85, nose_v + 0.25), (s * 0.45, nose_v + 0.15)]
        polys[f"nasolabial_{side}"] = [(s * 0.2, nose_v - 0.12), (s * 0.38, nose_v - 0.1),
                                      (s * (mouth_u + 0.2), mouth_v + 0.05), (s * (mouth_u + 0.04), mouth_v + 0.05)]
        polys[f"marionette_{side}"] = [(s * (mouth_u - 0.08), mouth_v + 0.1), (s * (mouth_u + 0.18), mouth_v + 0.1),
                                      (s * (mouth_u + 0.2), mouth_v + 0.5), (s * (mouth_u - 0.02), mouth_v + 0.5)]
    out = {name: f.px(np.array(poly)) for name, poly in polys.items()}
    # Jawline: a band just inside the lower face contour, jaw angle to chin.
    centre = f.px([[0.0, (nose_v + chin_v) / 2]])[0]
    for side, idx in (("right", JAW_RIGHT), ("left", JAW_LEFT)):
        contour = p[list(idx)]
        inward = (centre - contour) / np.linalg.norm(centre - contour, axis=1, keepdims=True) * f.ipd
        # Keep off the contour itself: its edge against neck or background is not skin texture.
        out[f"jawline_{side}"] = np.vstack([contour + 0.06 * inward, (contour + 0.26 * inward)[::-1]])
    return out


def region_masks(
    landmarks: Landmarks,
    shape: tuple[int, int],
    skin: np.ndarray | None = None,
    min_skin_fraction: float = 0.4,
) -> RegionMasks:
    """Skin-only masks of the contract's regions.

    Parameters
    ----------
    landmarks : Landmarks
        Of the photo whose frame the masks are in.
    shape : (H, W)
    skin : ndarray, shape (H, W), bool, optional
        Pixels that look like skin (see :func:`outcomes.color.skin_pixels`);
        all pixels if omitted.
    min_skin_fraction : float
        A region keeping less than this fraction of its area as visible skin
        is omitted ("mostly hidden").

    Returns
    -------
    RegionMasks
    """
    import cv2

    h, w = shape
    skin = np.ones(shape, bool) if skin is None else skin
    if skin.shape != shape:
        raise ValueError(f"skin mask has shape {skin.shape}, expected {shape}")
    polygons = _region_polygons(landmarks)
    # Work inside the box that holds every region; paste into full frames at the end.
    corners = np.vstack([*polygons.values(), landmarks.points[list(FACE_OVAL)]])
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int) - 2, 0, [w, h])
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 3, 0, [w, h])
    box = (y1 - y0, x1 - x0)
    offset = np.array([x0, y0], float)

    def fill(polys: list[np.ndarray]) -> np.ndarray:
        m = np.zeros(box, np.uint8)
        cv2.fillPoly(m, [np.round((q - offset) * 16).astype(np.int32) for q in polys], 1, cv2.LINE_8, shift=4)
        return m.astype(bool)

    ipd = landmarks.inter_pupil_distance
    skin_box = skin[y0:y1, x0:x1]
    oval = fill([landmarks.points[list(FACE_OVAL)]])
    features = fill([landmarks.points[list(c)] for c in (RIGHT_EYE_CONTOUR, LEFT_EYE_CONTOUR, LIPS_OUTER,
                                                           RIGHT_BROW, LEFT_BROW)])
    features = cv2.dilate(features.astype(np.uint8), cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (2 * max(1, round(0.03 * ipd)) + 1,) * 2)).astype(bool)
    nostrils = fill([cv2.convexHull(landmarks.points[list(NOSTRILS)].astype(np.float32))[:, 0].astype(np.float64)])
    allowed = oval & ~features & ~nostrils
    # The mesh's oval stops mid-forehead; above it only the skin test bounds
    # the forehead (hair is not skin).
    above_oval = ~features
    taken = np.zeros(box, bool)
    masks, omitted = {}, {}
    for name in REGION_NAMES:
        polygon = polygons[name]
        area = fill([polygon]) & ~taken
        taken |= area
        full = max(int(area.sum()), 1)
        region = area & (above_oval if name == "forehead" else allowed) & skin_box
        inside = (polygon >= 0).all(axis=1) & (polygon <= [w - 1, h - 1]).all(axis=1)
        if inside.mean() < 0.5:
            omitted[name] = "outside the photo"
        elif region.sum() < min_skin_fraction * full:
            omitted[name] = f"mostly hidden: {region.sum() / full:.0%} visible skin, below {min_skin_fraction:.0%}"
        else:
            mask = np.zeros(shape, bool)
            mask[y0:y1, x0:x1] = region
            masks[name] = mask
    return RegionMasks(masks=masks, omitted=omitted, skin=skin, mm_per_px=IPD_MM / ipd)
