"""Sagging of the lower face: jowls and folds, and their tightening.

Two signs of laxity that a tightening treatment is meant to reduce, rendered
onto a real face with known size:

- **Jowl**: the soft tissue beside the chin descends and bulges past the
  mandible, so the lower face contour bows outwards there. Rendered as a
  smooth displacement of the image around the jaw contour, largest between the
  jaw angle and the chin (the jowl fat pad), falling to zero at the chin and
  towards the ear; the face, its edge and what lies just outside move together,
  as tissue does.
- **Folds** (nasolabial, marionette): a fold is a valley in the skin surface;
  under the usual frontal-overhead lighting it shows as a shading valley. The
  shading multiplies the light the skin reflects, so it is rendered in linear
  light as a darkening of known depth (the fraction of light removed at the
  crease), sharper on the medial side and broader under the cheek's overhang.

Tightening by a fraction ``t`` scales the jowl displacement and the fold depth
by ``1 - t`` (negative ``t``: sagging worsens). The geometry comes from
hand-placed template points (:func:`london_lower_face`), not from the face
mesh the pipeline measures with.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import face_frame
from .photometric import linear_to_srgb, srgb_to_linear

#: Deepest fold a render may have (fraction of light removed at the crease).
MAX_FOLD_DEPTH = 0.6


@dataclass(frozen=True)
class LowerFace:
    """Where the jaw contour and the folds lie in a photo (px, subject's sides).

    Attributes
    ----------
    jaw_right, jaw_left : ndarray, shape (N, 2)
        Jaw contour from below the ear (jaw angle) to the centre of the chin.
    nasolabial_right, nasolabial_left : ndarray, shape (M, 2)
        Nasolabial (smile) line from its top beside the nose to its bottom beside the mouth.
    mouth_right, mouth_left : ndarray, shape (2,)
        Mouth corners.
    right_pupil, left_pupil : ndarray, shape (2,)
    """

    jaw_right: np.ndarray
    jaw_left: np.ndarray
    nasolabial_right: np.ndarray
    nasolabial_left: np.ndarray
    mouth_right: np.ndarray
    mouth_left: np.ndarray
    right_pupil: np.ndarray
    left_pupil: np.ndarray

    @property
    def ipd(self) -> float:
        return float(np.linalg.norm(self.left_pupil - self.right_pupil))


def london_lower_face(points: np.ndarray) -> LowerFace:
    """The lower face of a London-set 189-point template.

    Template sides are the viewer's: points 125–128 run down the image's left
    (subject's right) jaw to 129, the chin's bottom centre; 158–160 are the
    image-left smile line.
    """
    if points.shape != (189, 2):
        raise ValueError(f"expected London template points of shape (189, 2), got {points.shape}")
    p = np.asarray(points, dtype=np.float64)
    return LowerFace(
        jaw_right=p[[125, 126, 127, 128, 129]], jaw_left=p[[133, 132, 131, 130, 129]],
        nasolabial_right=p[[158, 159, 160]], nasolabial_left=p[[161, 162, 163]],
        mouth_right=p[87].copy(), mouth_left=p[93].copy(), right_pupil=p[0].copy(), left_pupil=p[1].copy(),
    )


@dataclass(frozen=True)
class SaggingSpec:
    """How much the lower face sags at baseline and how much the treatment tightens it.

    Attributes
    ----------
    jowl_ipd : float
        Outward displacement of the jaw contour at the jowl, IPD units (0.05 ≈ 3 mm).
    fold_depth : float
        Fraction of light removed at the crease of each fold, 0 … ``MAX_FOLD_DEPTH``.
    fold_width_ipd : float
        Gaussian sd of the fold's shading on its medial side, IPD units.
    tightening : float
        Fraction of jowl displacement and fold depth gone at follow-up (negative: worse).
    """

    jowl_ipd: float = 0.04
    fold_depth: float = 0.2
    fold_width_ipd: float = 0.03
    tightening: float = 0.0

    def at_follow_up(self) -> SaggingSpec:
        keep = 1.0 - self.tightening
        return SaggingSpec(jowl_ipd=max(self.jowl_ipd * keep, 0.0),
                           fold_depth=float(np.clip(self.fold_depth * keep, 0.0, MAX_FOLD_DEPTH)),
                           fold_width_ipd=self.fold_width_ipd, tightening=0.0)


def _densify(polyline: np.ndarray, step_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Points every ``step_px`` along a polyline and their arclength fraction in [0, 1]."""
    seg = np.linalg.norm(np.diff(polyline, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0.0, s[-1], max(int(s[-1] / step_px), 2) + 1)
    pts = np.stack([np.interp(t, s, polyline[:, 0]), np.interp(t, s, polyline[:, 1])], axis=1)
    return pts, t / s[-1]


def _nearest_on_curve(xy: np.ndarray, curve: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest curve point and the offset to it, for every query point."""
    from scipy.spatial import cKDTree

    _, idx = cKDTree(curve).query(xy)
    return idx, xy - curve[idx]


def _outward_curve(polyline: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, ...]:
    """A polyline every 0.5 px: points, arclength fractions, unit tangents and unit
    normals pointing away from ``centre``."""
    curve, frac = _densify(polyline, 0.5)
    tangent = np.gradient(curve, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    side = np.sign(np.sum(normal * (curve - centre), axis=1, keepdims=True))
    return curve, frac, tangent, normal * np.where(side == 0, 1.0, side)


def _around_curve(shape: tuple[int, int], curve: np.ndarray, reach: float) -> tuple[tuple[slice, slice], ...]:
    """The box within ``reach`` px of a curve, and for each of its pixels (row-major)
    the index of the nearest curve point and the offset from it."""
    h, w = shape
    lo = np.floor(curve.min(axis=0) - reach).astype(int).clip(0, [w - 1, h - 1])
    hi = np.ceil(curve.max(axis=0) + reach).astype(int).clip(lo + 1, [w, h])
    ys, xs = np.mgrid[lo[1]:hi[1], lo[0]:hi[0]]
    idx, offset = _nearest_on_curve(np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64), curve)
    return (slice(lo[1], hi[1]), slice(lo[0], hi[0])), idx, offset


def _jowl_displacement(shape: tuple[int, int], jaw: np.ndarray, amplitude_px: float, ipd: float,
                       down: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Displacement field (H, W, 2) px that bows one jaw contour outwards at the jowl."""
    curve, frac, _, normal = _outward_curve(jaw, centre)
    direction = normal + 0.35 * down  # jowls descend as they bulge
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    # Along the contour: peak at 65 % of the way from the jaw angle to the chin,
    # zero at the chin (a smoothstep) so the midline never moves.
    along = np.exp(-0.5 * ((frac - 0.65) / 0.17) ** 2) * np.clip((1.0 - frac) / 0.2, 0, 1) ** 2
    reach = 0.14 * ipd
    box, idx, offset = _around_curve(shape, curve, 3 * reach)
    across = np.exp(-0.5 * (np.linalg.norm(offset, axis=1) / reach) ** 2)
    field = np.zeros((*shape, 2), np.float64)
    rows, cols = box[0].stop - box[0].start, box[1].stop - box[1].start
    field[box] = (amplitude_px * (along[idx] * across)[:, None] * direction[idx]).reshape(rows, cols, 2)
    return field


def _warp_by(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    """out(x) = in(x − d(source)), the forward displacement inverted by fixed-point iteration.

    Only the box where the field moves anything (plus its largest displacement) is resampled.
    """
    moving = np.abs(field).max(axis=2) > 1e-3
    if not moving.any():
        return image.copy()
    reach = int(np.ceil(np.abs(field).max())) + 3
    ys, xs = np.nonzero(moving)
    y0, y1 = max(ys.min() - reach, 0), min(ys.max() + reach + 1, image.shape[0])
    x0, x1 = max(xs.min() - reach, 0), min(xs.max() + reach + 1, image.shape[1])
    out = image.copy()
    out[y0:y1, x0:x1] = _warp_box(image[y0:y1, x0:x1], field[y0:y1, x0:x1])
    return out


def _warp_box(image: np.ndarray, field: np.ndarray) -> np.ndarray:
    h, w = field.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)), axis=-1)
    back = field.astype(np.float32)
    for _ in range(4):
        src = grid - back
        back = cv2.remap(field.astype(np.float32), src[..., 0], src[..., 1], cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    src = grid - back
    return cv2.remap(image, src[..., 0], src[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def _fold_shading(shape: tuple[int, int], line: np.ndarray, depth: float, width_px: float,
                  centre: np.ndarray) -> np.ndarray:
    """Multiplicative shading (H, W) in (0, 1] of one fold valley."""
    curve, frac, tangent, lateral = _outward_curve(line, centre)
    box, idx, offset = _around_curve(shape, curve, 4 * 1.6 * width_px)
    signed = np.sum(offset * lateral[idx], axis=1)
    sd = np.where(signed > 0, 1.6 * width_px, width_px)  # broader under the cheek
    # Ends fade in and out; beyond an end the nearest point is the end itself.
    along = np.clip(np.minimum(frac[idx], 1.0 - frac[idx]) / 0.2, 0, 1)
    beyond = np.abs(np.sum(offset * tangent[idx], axis=1))
    profile = np.exp(-0.5 * (signed / sd) ** 2 - 0.5 * (beyond / width_px) ** 2) * along ** 2
    shading = np.ones(shape, np.float64)
    shading[box] = (1.0 - depth * profile).reshape(box[0].stop - box[0].start, box[1].stop - box[1].start)
    return shading


def fold_lines(face: LowerFace) -> dict[str, np.ndarray]:
    """Fold polylines (px): the template's nasolabial lines carried a little past their
    bottom point, and marionette lines from below each mouth corner to the jowl."""
    _, ex, ey, ipd = face_frame({"right_pupil": face.right_pupil, "left_pupil": face.left_pupil})
    lines = {}
    for side, nl, mouth, jaw in (("right", face.nasolabial_right, face.mouth_right, face.jaw_right),
                                 ("left", face.nasolabial_left, face.mouth_left, face.jaw_left)):
        extension = nl[-1] + 0.5 * (nl[-1] - nl[-2])
        lines[f"nasolabial_{side}"] = np.vstack([nl, extension])
        jowl, _ = _densify(jaw, 1.0)
        end = jowl[int(0.7 * (len(jowl) - 1))]
        start = mouth + 0.04 * ipd * ey
        end = start + 0.8 * (end - start)  # stop short of the jaw edge
        lines[f"marionette_{side}"] = np.vstack([start, (start + end) / 2, end])
    return lines


def render_sagging(image: np.ndarray, face: LowerFace, spec: SaggingSpec) -> np.ndarray:
    """Render jowls and fold shading of ``spec`` onto a face photo.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8
        RGB photo.
    face : LowerFace
        Jaw and fold geometry in ``image``, px.
    spec : SaggingSpec

    Returns
    -------
    rendered : ndarray, shape (H, W, 3), uint8
        The photo with the folds darkened, then the jowls displaced (the shading
        moves with the tissue).
    """
    img = np.asarray(image, dtype=np.uint8)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {img.shape}")
    if not 0.0 <= spec.fold_depth <= MAX_FOLD_DEPTH:
        raise ValueError(f"fold_depth {spec.fold_depth} outside [0, {MAX_FOLD_DEPTH}]")
    if spec.jowl_ipd < 0:
        raise ValueError(f"jowl_ipd {spec.jowl_ipd} is negative")
    shape = img.shape[:2]
    _, _, ey, ipd = face_frame({"right_pupil": face.right_pupil, "left_pupil": face.left_pupil})
    centre = (face.mouth_right + face.mouth_left) / 2
    out = img
    if spec.fold_depth > 0:
        shading = np.ones(shape)
        for line in fold_lines(face).values():
            shading *= _fold_shading(shape, line, spec.fold_depth, spec.fold_width_ipd * ipd, centre)
        ys, xs = np.nonzero(shading < 1.0)
        if ys.size:  # only the shaded box is re-encoded
            box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
            out = out.copy()
            out[box] = linear_to_srgb(srgb_to_linear(out[box]) * shading[box][..., None])
    if spec.jowl_ipd > 0:
        field = sum(_jowl_displacement(shape, jaw, spec.jowl_ipd * ipd, ipd, ey, centre)
                    for jaw in (face.jaw_right, face.jaw_left))
        out = _warp_by(out, field)
    return out
