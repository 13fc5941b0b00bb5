"""The lower face contour: how far it bows out at the jowls, and how far that changed.

A jowl is soft tissue that has descended past the mandible beside the chin: on
a frontal photo the lower face contour bows outwards there. The contour is
seen as an edge (the lit jaw against the shadowed neck or the background), so
it is measured from the image, not from the face mesh, whose jaw points are
regressed from the whole face and follow a jowl only partly.

- Each photo: luminance profiles across the mesh's jaw contour, averaged over a
  short strip along it (:func:`jaw_profiles`); the edge is where luminance
  changes fastest, and the bow is the edge's mean offset over the jowl span
  beyond the chord joining its ends at the jaw angle and the chin
  (:func:`jaw_bulge`).
- A pair: each baseline profile is matched to the follow-up's by normalised
  cross-correlation (gain and offset of lighting cancel), giving how far the
  contour moved along its normal; movement shared with the chord's ends (head
  pitch, registration) is removed (:func:`jowl_change`). Matching whole
  profiles is far less noisy than locating a soft edge twice.

The follow-up is read in its own frame, mapped there by the global
registration only: the non-rigid step of the registration moves the
follow-up's tissue onto the baseline's, which would undo a jowl's change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from outcomes.types import Landmarks

# Lower face contour of the mesh from the jaw angle to the chin's bottom centre.
_JAW_CONTOUR = {"right": (172, 136, 150, 149, 176, 148, 152), "left": (397, 365, 379, 378, 400, 377, 152)}
# Where along that contour (fraction of its length from the jaw angle) a jowl bows it.
JOWL_SPAN = (0.35, 0.9)
# Each end of the chord a jowl is measured from: the contour's first and last fifth.
_END_REACH = 0.2


@dataclass(frozen=True)
class JawProfiles:
    """L* profiles across one jaw contour of one photo.

    Attributes
    ----------
    values : ndarray, shape (P, S), float32
        L* along each profile, from inside the face outwards.
    offsets_ipd : ndarray, shape (S,)
        Sample positions along the profiles (outwards positive), IPD units.
    fraction : ndarray, shape (P,)
        Where each profile crosses the contour, fraction of its length from the jaw angle.
    centres : ndarray, shape (P, 2)
        Where each profile crosses the contour, px of the photo sampled.
    normals : ndarray, shape (P, 2)
        Outward unit normals, in that photo.
    ipd : float
        Inter-pupil distance in that photo, px.
    """

    values: np.ndarray
    offsets_ipd: np.ndarray
    fraction: np.ndarray
    centres: np.ndarray
    normals: np.ndarray
    ipd: float


@dataclass(frozen=True)
class JowlChange:
    """How far the jowl span of the contour moved inwards between two photos.

    Attributes
    ----------
    inward_ipd : float
        Mean inward movement over the jowl span relative to the contour's ends, IPD
        units (positive: tighter; negative: the jowl bulges more).
    match : float
        Median normalised cross-correlation of the matched profiles (1: identical shape).
    """

    inward_ipd: float
    match: float


def jaw_contour(lm: Landmarks, side: str) -> np.ndarray:
    """The mesh's jaw contour on one side, from the jaw angle to the chin, px."""
    return lm.points[list(_JAW_CONTOUR[side])].astype(np.float64)


def profile_frame(line: np.ndarray, inside: np.ndarray, fraction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where profiles cross a polyline and which way is out.

    Parameters
    ----------
    line : ndarray, shape (N, 2)
        The polyline, px.
    inside : ndarray, shape (2,)
        A point on the inner side (normals point away from it), px.
    fraction : ndarray, shape (P,)
        Positions along the polyline, fractions of its length.

    Returns
    -------
    centres, normals : ndarray, shape (P, 2)
        Crossing points (px) and unit normals pointing away from ``inside``; the tangent
        is taken over ±2 px of arclength.
    """
    line = np.asarray(line, np.float64)
    seg = np.linalg.norm(np.diff(line, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    at_length = fraction * s[-1]

    def at(arclength: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(arclength, s, line[:, 0]), np.interp(arclength, s, line[:, 1])], axis=1)

    centres = at(at_length)
    tangent = at(np.minimum(at_length + 2, s[-1])) - at(np.maximum(at_length - 2, 0))
    tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    normal *= np.where(np.sum(normal * (centres - inside), axis=1, keepdims=True) < 0, -1.0, 1.0)
    return centres, normal


def jaw_profiles(image: np.ndarray, contour: np.ndarray, centre: np.ndarray, ipd: float, *,
                 profiles: int = 25, half_width_ipd: float = 0.24, step_ipd: float = 0.004,
                 smoothing_ipd: float = 0.006, strip_ipd: float = 0.03, strip_lines: int = 5) -> JawProfiles:
    """Sample L* profiles across a jaw contour.

    Parameters
    ----------
    image : ndarray, shape (H, W) float L*, or (H, W, 3) uint8 sRGB
        The photo (L* is computed on the part the profiles reach).
    contour : ndarray, shape (N, 2)
        Jaw contour from the jaw angle to the chin, px in ``image``.
    centre : ndarray, shape (2,)
        A point inside the face (normals point away from it), px.
    ipd : float
        Inter-pupil distance in ``image``, px: every length here is a fraction of it,
        so the profiles cover the same anatomy at any photo size.
    profiles : int
        Profiles along the contour.
    half_width_ipd, step_ipd : float
        Each profile runs ±``half_width_ipd`` across the contour, sampled every ``step_ipd``.
    smoothing_ipd : float
        Gaussian sd applied first (pores, stubble and sensor noise are not the contour).
    strip_ipd, strip_lines : float, int
        Each profile is the mean of ``strip_lines`` parallel lines spread ±``strip_ipd``
        along the contour.

    Returns
    -------
    JawProfiles
    """
    import cv2

    if ipd <= 0 or not np.isfinite(ipd):
        raise ValueError(f"ipd must be a positive number of pixels, got {ipd}")
    fraction = np.linspace(0.0, 1.0, profiles)
    centres, normals = profile_frame(contour, np.asarray(centre), fraction)
    tangents = np.stack([normals[:, 1], -normals[:, 0]], axis=1)
    offsets = np.arange(-half_width_ipd, half_width_ipd + step_ipd / 2, step_ipd)
    lateral = np.linspace(-strip_ipd, strip_ipd, strip_lines) * ipd
    pts = (centres[:, None, None] + lateral[None, :, None, None] * tangents[:, None, None]
           + (offsets * ipd)[None, None, :, None] * normals[:, None, None])
    sigma = max(smoothing_ipd * ipd, 0.5)
    h, w = image.shape[:2]
    pad = int(np.ceil(3 * sigma)) + 2
    lo = np.clip(np.floor(pts.reshape(-1, 2).min(axis=0)).astype(int) - pad, 0, [w - 1, h - 1])
    hi = np.clip(np.ceil(pts.reshape(-1, 2).max(axis=0)).astype(int) + pad + 1, lo + 1, [w, h])
    crop = image[lo[1]:hi[1], lo[0]:hi[0]]
    if crop.ndim == 3:
        from outcomes.color import srgb_to_lab

        crop = srgb_to_lab(crop)[..., 0]
    local = cv2.GaussianBlur(np.ascontiguousarray(crop, np.float32), (0, 0), sigma)
    flat = pts.reshape(-1, len(offsets), 2) - lo
    sampled = cv2.remap(local, flat[..., 0].astype(np.float32), flat[..., 1].astype(np.float32),
                        cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    values = sampled.reshape(profiles, strip_lines, len(offsets)).mean(axis=1)
    return JawProfiles(values.astype(np.float32), offsets, fraction, centres, normals, float(ipd))


def jaw_bulge(profiles: JawProfiles, prior_sd_ipd: float = 0.06) -> tuple[float, float]:
    """The contour's outward bow over the jowl span, and the edge's contrast.

    Returns
    -------
    bulge_ipd : float
        Mean offset of the edge over the jowl span beyond the chord joining the edge
        at the jaw angle and at the chin, IPD units.
    contrast : float
        Median L* step across the edge (over ±0.03 IPD).
    """
    offsets = profiles.offsets_ipd
    slope = np.abs(np.gradient(profiles.values, axis=1)) * np.exp(-0.5 * (offsets / prior_sd_ipd) ** 2)
    peak = np.clip(slope[:, 1:-1].argmax(axis=1) + 1, 1, len(offsets) - 2)
    rows = np.arange(len(peak))
    before, mid, after = slope[rows, peak - 1], slope[rows, peak], slope[rows, peak + 1]
    curvature = before - 2 * mid + after
    sub = np.where(np.abs(curvature) > 1e-9, 0.5 * (before - after) / np.where(curvature == 0, 1, curvature), 0.0)
    step = offsets[1] - offsets[0]
    edge = offsets[peak] + np.clip(sub, -1, 1) * step
    # The edge as points, so that the bow is measured from its own chord.
    points = profiles.centres + (edge * profiles.ipd)[:, None] * profiles.normals
    chord = points[-1] - points[0]
    outward = np.array([-chord[1], chord[0]]) / max(float(np.linalg.norm(chord)), 1e-9)
    if outward @ profiles.normals[len(points) // 2] < 0:
        outward = -outward
    span = (profiles.fraction >= JOWL_SPAN[0]) & (profiles.fraction <= JOWL_SPAN[1])
    bulge = float(np.mean((points[span] - points[0]) @ outward)) / profiles.ipd
    reach = max(int(round(0.03 / step)), 1)
    ends = np.clip(np.stack([peak - reach, peak + reach]), 0, len(offsets) - 1)
    contrast = float(np.median(np.abs(profiles.values[rows, ends[0]] - profiles.values[rows, ends[1]])))
    return bulge, contrast


def _best_shift(reference: np.ndarray, moving: np.ndarray, window: int, max_shift: int) -> tuple[float, float]:
    """Sub-sample shift (samples) of ``moving`` that best matches ``reference``'s centre window, and the NCC."""
    mid = len(reference) // 2
    ref = reference[mid - window: mid + window + 1]
    ref = (ref - ref.mean()) / (ref.std() + 1e-6)
    # All candidate windows of ``moving`` at once: (2·max_shift + 1, 2·window + 1).
    starts = mid - window + np.arange(-max_shift, max_shift + 1)
    segments = moving[starts[:, None] + np.arange(2 * window + 1)[None, :]]
    segments = (segments - segments.mean(axis=1, keepdims=True)) / (segments.std(axis=1, keepdims=True) + 1e-6)
    score = segments @ ref / len(ref)
    k = int(np.clip(score.argmax(), 1, len(score) - 2))
    curvature = score[k - 1] - 2 * score[k] + score[k + 1]
    sub = 0.5 * (score[k - 1] - score[k + 1]) / curvature if abs(curvature) > 1e-9 else 0.0
    return k - max_shift + float(np.clip(sub, -1, 1)), float(score[k])


def jowl_change(before: JawProfiles, after: JawProfiles, window_ipd: float = 0.07,
                max_shift_ipd: float = 0.08) -> JowlChange:
    """How far the contour moved inwards over the jowl span, from matched profiles.

    Parameters
    ----------
    before, after : JawProfiles
        The same contour (the baseline's, mapped into each photo) sampled in each photo,
        with the same sampling in IPD units.
    window_ipd : float
        Half-length of the baseline profile segment matched, around the contour.
    max_shift_ipd : float
        Largest movement searched, each way.

    Returns
    -------
    JowlChange
    """
    if before.values.shape != after.values.shape:
        raise ValueError(f"profiles differ in shape: {before.values.shape} vs {after.values.shape}")
    step = float(before.offsets_ipd[1] - before.offsets_ipd[0])
    window, max_shift = int(round(window_ipd / step)), int(round(max_shift_ipd / step))
    if len(before.offsets_ipd) // 2 < window + max_shift:
        raise ValueError("profiles are too short for the window and the largest shift")
    shifts, matches = (np.asarray(v) for v in zip(*(_best_shift(b, a, window, max_shift)
                                                     for b, a in zip(before.values, after.values))))
    shifts = shifts * step
    fraction = before.fraction
    # Robust to a profile that matched the wrong edge (a collar, a beard line, hair at the
    # jaw angle): profiles that matched poorly are left out, and each end of the chord is
    # the median of a stretch of contour rather than one profile.
    good = matches >= min(0.5, float(np.median(matches)))
    start = good & (fraction <= _END_REACH)
    end = good & (fraction >= 1 - _END_REACH)
    span = good & (fraction >= JOWL_SPAN[0]) & (fraction <= JOWL_SPAN[1])
    if not (start.any() and end.any() and span.any()):
        return JowlChange(inward_ipd=0.0, match=0.0)
    f0, f1 = float(np.median(fraction[start])), float(np.median(fraction[end]))
    s0, s1 = float(np.median(shifts[start])), float(np.median(shifts[end]))
    chord = s0 + (fraction[span] - f0) / (f1 - f0) * (s1 - s0)
    return JowlChange(inward_ipd=float(-np.mean(shifts[span] - chord)), match=float(np.median(matches)))
