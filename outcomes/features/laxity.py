"""Laxity features from a frontal photo: jowl bulge of the jawline, fold depth.

- Jawline (``jawline_right/left``): how far the lower face contour bows out
  at the jowl beyond the straight line from the jaw angle to the chin, in % of
  the inter-pupil distance (IPD), read from the image's edge
  (:mod:`outcomes.features.jawline`); a follow-up's value is the baseline's
  less how far the contour moved inwards between the photos.
- Folds (``nasolabial_*``, ``marionette_*``): the shading of the fold's valley,
  sampled on profiles across the fold line in the baseline's frame, as the %
  of light a band over the crease loses relative to the cheek beyond it (in
  linear luminance, so skin tone and exposure do not change it). A deeper fold
  casts a darker valley under the same lighting.
- Submental laxity needs a profile view: on a frontal photo it is reported as
  not assessable rather than guessed.

Each value carries a confidence in [0, 1]: jaw landmarks are the least stable
of the face (mouth opening, head pitch), so confidence falls with open mouth
and with pose away from frontal; a jawline's also falls with the contrast of
its edge and, for a follow-up, with how well its profiles matched the baseline's
and with how far the head's pose differs between the two photos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from outcomes.features.jawline import JawProfiles, jaw_bulge, jaw_contour, jaw_profiles, jowl_change, profile_frame
from outcomes.types import Landmarks

NOT_ASSESSABLE = {"submental": "needs a profile (90°) view; not assessable on a frontal photo"}

# Upper and lower inner lip midpoints of the mesh: their gap is the mouth opening.
_UPPER_LIP_INNER, _LOWER_LIP_INNER = 13, 14
# The nasolabial fold (top, middle, bottom) as mesh points plus offsets (IPD units, along
# the eye line and down the face): the mean position of the hand-placed smile lines of
# the London set's tuning half (even positions) relative to these points; sd of the
# placement 0.02-0.05 IPD (scripts/fit_fold_lines.py).
_NASOLABIAL = {
    "right": ((203, (0.035, 0.023)), (206, (0.028, 0.045)), (216, (0.034, 0.078))),
    "left": ((423, (0.004, 0.024)), (426, (0.017, 0.052)), (436, (0.008, 0.081))),
}


@dataclass(frozen=True)
class LaxityValue:
    value: float
    confidence: float


def _frame(lm: Landmarks) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    right, left = lm.anchors["right_pupil"], lm.anchors["left_pupil"]
    ipd = float(np.linalg.norm(left - right))
    ex = (left - right) / ipd
    return (right + left) / 2, ex, np.array([-ex[1], ex[0]]), ipd


#: Head-pose difference (degrees of yaw or pitch) at which two photos' jaw contours no longer
#: compare: the contour lies behind the plane the registration aligns, and on repeat
#: renders a 3° nod moved it by 0.6 % IPD on average (up to 1.4 %) against jowl changes of
#: 1–8 % IPD, so the jawline's confidence falls linearly to 0 here.
JAW_POSE_DIFFERENCE_DEG = 8.0


def pose_agreement(before: Landmarks, after: Landmarks) -> float:
    """1 when both photos show the head in one pose, falling to 0 at :data:`JAW_POSE_DIFFERENCE_DEG` apart."""
    difference = max(abs(after.pose.yaw - before.pose.yaw), abs(after.pose.pitch - before.pose.pitch))
    return float(np.clip(1.0 - difference / JAW_POSE_DIFFERENCE_DEG, 0.0, 1.0))


def landmark_confidence(lm: Landmarks) -> float:
    """1 for a neutral frontal face, falling with mouth opening and head turn."""
    _, _, _, ipd = _frame(lm)
    opening = np.linalg.norm(lm.points[_UPPER_LIP_INNER] - lm.points[_LOWER_LIP_INNER]) / ipd
    pose = max(abs(lm.pose.yaw), abs(lm.pose.pitch))
    return float(np.clip(1.0 - opening / 0.25, 0, 1) * np.clip(1.0 - pose / 20.0, 0, 1))


def fold_depth(luminance: np.ndarray, line: np.ndarray, ipd: float, inside: np.ndarray, **kwargs) -> float:
    """Shading depth of a fold (% of light removed): the median of :func:`fold_profile_depths`, 0 if negative."""
    return float(max(np.median(fold_profile_depths(luminance, line, ipd, inside, **kwargs)), 0.0))


def fold_profile_depths(luminance: np.ndarray, line: np.ndarray, ipd: float, inside: np.ndarray, *,
                        band_ipd: tuple[float, float] = (-0.02, 0.08),
                        reference_ipd: tuple[float, float] = (0.14, 0.22),
                        samples: int = 9, smoothing_ipd: float = 0.015) -> np.ndarray:
    """Shading depth of a fold: the light its valley removes, relative to the cheek beyond it.

    On profiles across the fold line, the mean linear luminance of a band over the
    crease and the cheek's overhang beside it is compared with a band of cheek further
    out (on the side away from ``inside``). The far side of a fold (the upper lip,
    a moustache, the lip's edge) differs between faces and is not used.

    Parameters
    ----------
    luminance : ndarray, shape (H, W), float
        L* of the photo, in the frame of ``line``.
    line : ndarray, shape (N, 2)
        The fold line (N ≥ 2 points), px.
    ipd : float
        Inter-pupil distance, px (every length is a fraction of it).
    inside : ndarray, shape (2,)
        A point on the face's midline side of the fold (the mouth's centre), px.
    band_ipd, reference_ipd : (float, float)
        Offsets across the line, outwards from ``inside`` positive, IPD units.
    smoothing_ipd : float
        Gaussian sd (IPD units, ~1 mm) applied first: at that scale pores, fine lines,
        sensor noise and the photo's own sharpness no longer move a fold's shading.

    Returns
    -------
    ndarray, shape (samples,)
        For each profile along the fold, (1 − band / reference) × 100 in linear luminance
        (the % of light the fold's shading removes, so the same fold reads the same on
        light and dark skin and at any exposure).
    """
    import cv2

    centres, normal = profile_frame(line, inside, np.linspace(0.1, 0.95, samples))
    step = 0.01
    offsets = np.arange(band_ipd[0], reference_ipd[1] + step / 2, step)
    pts = centres[:, None, :] + (offsets * ipd)[None, :, None] * normal[:, None, :]
    sigma = max(smoothing_ipd * ipd, 0.5)
    # Smooth only the box the profiles reach (plus the filter's reach).
    h, w = luminance.shape[:2]
    pad = int(np.ceil(3 * sigma)) + 2
    lo = np.clip(np.floor(pts.reshape(-1, 2).min(axis=0)).astype(int) - pad, 0, [w - 1, h - 1])
    hi = np.clip(np.ceil(pts.reshape(-1, 2).max(axis=0)).astype(int) + pad + 1, lo + 1, [w, h])
    local = cv2.GaussianBlur(np.ascontiguousarray(luminance[lo[1]:hi[1], lo[0]:hi[0]], np.float32), (0, 0), sigma)
    profile = cv2.remap(local, (pts[..., 0] - lo[0]).astype(np.float32), (pts[..., 1] - lo[1]).astype(np.float32),
                        cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    light = lightness_to_luminance(profile)
    tol = 1e-9
    band = (offsets >= band_ipd[0] - tol) & (offsets <= band_ipd[1] + tol)
    reference = (offsets >= reference_ipd[0] - tol) & (offsets <= reference_ipd[1] + tol)
    return (1.0 - light[:, band].mean(axis=1) / np.maximum(light[:, reference].mean(axis=1), 1e-6)) * 100


def lightness_to_luminance(lightness: np.ndarray) -> np.ndarray:
    """CIE L* (0–100) to relative luminance Y (0–1), the inverse of CIE 1976 lightness."""
    lightness = np.asarray(lightness, dtype=np.float64)
    f = (lightness + 16.0) / 116.0
    return np.where(lightness > 8.0, f ** 3, lightness / 903.3)


def fold_lines(lm: Landmarks) -> dict[str, np.ndarray]:
    """Fold lines (polylines, px): nasolabial from beside the nose wing to beside the
    mouth, marionette from below the mouth corner down towards the jaw."""
    _, ex, ey, ipd = _frame(lm)
    lines = {}
    for side, s in (("right", -1.0), ("left", 1.0)):
        lines[f"nasolabial_{side}"] = np.array([lm.points[i] + ipd * (dx * ex + dy * ey)
                                                for i, (dx, dy) in _NASOLABIAL[side]])
        corner = lm.anchors[f"mouth_{side}"]
        lines[f"marionette_{side}"] = np.array([corner + 0.05 * ipd * ey, corner + s * 0.06 * ipd * ex + 0.45 * ipd * ey])
    return lines


#: A fold whose shading removes this many more % of light at follow-up has deepened: its
#: band is measured as laxity, not searched for new pigment (like a deepened wrinkle).
DEEPENED_FOLD_PERCENT = 2.0


def fold_bands(lm: Landmarks, shape: tuple[int, int], names: list[str]) -> np.ndarray:
    """Pixels (H, W) bool where the named folds' shading lies: the band :func:`fold_depth`
    reads (−0.02 … +0.08 IPD across the line) with 0.02 IPD more each side."""
    import cv2

    mask = np.zeros(shape, np.uint8)
    ipd = lm.inter_pupil_distance
    mouth = (lm.anchors["mouth_right"] + lm.anchors["mouth_left"]) / 2
    lines = fold_lines(lm)
    for name in names:
        line = lines[name]
        tangent = np.gradient(line, axis=0)
        tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
        normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
        normal *= np.where(np.sum(normal * (line - mouth), axis=1, keepdims=True) < 0, -1.0, 1.0)
        centre = line + 0.03 * ipd * normal  # middle of −0.04 … +0.10 IPD
        cv2.polylines(mask, [np.round(centre * 4).astype(np.int32)], False, 1, int(round(0.14 * ipd)),
                      cv2.LINE_8, shift=2)
    return mask.astype(bool)


def jaw_support(contrast: float, match: float = 1.0) -> float:
    """0..1: how well a photo shows the jaw contour (its L* step; for a pair, how well
    the profiles matched). Flat lighting or skin as dark as the neck behind it gives
    little contrast; a collar, hair or a hand over the jaw breaks the match."""
    return float(np.clip(contrast / 6.0, 0, 1) * np.clip((match - 0.5) / 0.4, 0, 1))


def jawline_baseline(lm: Landmarks, luminance: np.ndarray) -> tuple[dict[str, LaxityValue], dict[str, JawProfiles]]:
    """Jowl bulge of each jaw contour of one photo (% IPD), and the profiles a follow-up is matched to."""
    confidence = landmark_confidence(lm)
    centre = (lm.anchors["mouth_right"] + lm.anchors["mouth_left"]) / 2
    values, profiles = {}, {}
    for side in ("right", "left"):
        sampled = jaw_profiles(luminance, jaw_contour(lm, side), centre, lm.inter_pupil_distance)
        bulge, contrast = jaw_bulge(sampled)
        values[f"jawline_{side}"] = LaxityValue(bulge * 100, confidence * jaw_support(contrast))
        profiles[f"jawline_{side}"] = sampled
    return values, profiles


def jawline_follow_up(lm: Landmarks, image: np.ndarray, frame_landmarks: Landmarks,
                      baseline: dict[str, JawProfiles], baseline_values: dict[str, LaxityValue],
                      frame_to_image: np.ndarray) -> dict[str, LaxityValue]:
    """Jowl bulge of a follow-up: the baseline's, less how far its contour moved inwards.

    Parameters
    ----------
    lm : Landmarks
        The follow-up's own landmarks (mouth opening and pose set the confidence).
    image : ndarray, shape (H, W, 3), uint8
        The follow-up in its own frame (lighting corrected).
    frame_landmarks : Landmarks
        The baseline's landmarks (the contour is the baseline's).
    baseline, baseline_values : dict
        From :func:`jawline_baseline` on the baseline.
    frame_to_image : ndarray, shape (3, 3)
        Homography from the baseline's pixels to ``image``'s (the global registration,
        inverted; not its non-rigid step, which would move the jowl back).
    """
    from outcomes.align import apply_homography

    confidence = landmark_confidence(lm) * pose_agreement(frame_landmarks, lm)
    to_image = np.asarray(frame_to_image, np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(to_image[:2, :2]))))
    centre = (frame_landmarks.anchors["mouth_right"] + frame_landmarks.anchors["mouth_left"]) / 2
    out = {}
    for side in ("right", "left"):
        name = f"jawline_{side}"
        if name not in baseline or name not in baseline_values:
            continue
        sampled = jaw_profiles(image, apply_homography(to_image, jaw_contour(frame_landmarks, side)),
                               apply_homography(to_image, centre[None])[0], frame_landmarks.inter_pupil_distance * scale)
        change = jowl_change(baseline[name], sampled)
        _, contrast = jaw_bulge(sampled)
        out[name] = LaxityValue(baseline_values[name].value - change.inward_ipd * 100,
                                confidence * jaw_support(contrast, change.match))
    return out


def fold_features(lm: Landmarks, luminance: np.ndarray, frame_landmarks: Landmarks | None = None,
                  lighting_support: float = 1.0) -> dict[str, LaxityValue]:
    """Fold depth per fold of one photo.

    Parameters
    ----------
    lm : Landmarks
        The photo's own landmarks (mouth opening and pose set the confidence).
    luminance : ndarray, shape (H, W)
        L* of the photo in the frame where fold lines are sampled.
    frame_landmarks : Landmarks, optional
        Landmarks that place the fold lines in ``luminance``'s frame
        (BEFORE's, when ``luminance`` is AFTER aligned to BEFORE); ``lm`` if omitted.
    lighting_support : float
        0..1: a fold is seen by its shading, so a lighting change that is not the same
        across the face (light moved to one side) lowers every fold's confidence.

    Confidence: landmarks (mouth, pose) × lighting. (How much the profiles along a fold
    disagree is no guide: a fold is deeper in its middle than at its ends.)
    """
    confidence = landmark_confidence(lm) * float(np.clip(lighting_support, 0, 1))
    frame_lm = frame_landmarks or lm
    ipd = frame_lm.inter_pupil_distance
    mouth = (frame_lm.anchors["mouth_right"] + frame_lm.anchors["mouth_left"]) / 2
    return {name: LaxityValue(fold_depth(luminance, line, ipd, mouth), 0.8 * confidence)
            for name, line in fold_lines(frame_lm).items()}


def laxity_features(lm: Landmarks, luminance: np.ndarray) -> dict[str, LaxityValue]:
    """Jawlines and folds of one photo (its own frame): :func:`jawline_baseline` and :func:`fold_features`."""
    return {**jawline_baseline(lm, luminance)[0], **fold_features(lm, luminance)}
