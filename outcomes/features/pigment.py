"""Pigment change between visits and the post-inflammatory hyperpigmentation (PIH) check.

Inputs are CIELAB images of BEFORE and of AFTER already aligned into BEFORE's
frame and normalised for global lighting, plus the region masks.

PIH is a NEW or increased dark spot: at the follow-up, a patch of skin is
darker than its own surroundings by more than it was at baseline. Comparing
each photo with its own surroundings (local contrast) rather than the raw
ΔL* makes the check insensitive to a residual global lighting difference.
A spot counts as new only where the follow-up is darker than the darkest
baseline skin within a small distance, so that structure that merely moved
(hair at the hairline, residual misregistration) is not taken for pigment.
Thresholds are relative: a ΔL* of −4 is a 10 % darkening on skin of L* 40 but
6 % on skin of L* 70, so the contrast threshold is a fraction of the local
L*, with an absolute floor at the just-noticeable ΔE (2.3). A patch whose
change is mainly a rise of a* (redness) is erythema, not PIH.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class PigmentThresholds:
    """Detection thresholds; see the module docstring and outcomes/configs/default.yaml."""

    # New darkening relative to the local surround, as a fraction of its L*.
    min_relative_darkening: float = 0.06
    # Colour difference of the spot between visits, ΔE*ab (2.3 is a JND).
    min_delta_e: float = 2.3
    # A pigment change keeps b* steady or rising; redness raises a* instead.
    min_delta_b: float = -1.0
    # Erythema when a* rises by more than this times |ΔL*|.
    erythema_a_over_l: float = 1.0
    # Smallest spot, as a diameter in IPD units (a 1.5 mm macule at IPD 63 mm).
    min_spot_diameter_ipd: float = 0.025
    # Surround for local contrast, IPD units (larger than any macule).
    surround_ipd: float = 0.25
    # Smoothing before differencing (suppresses residual misregistration and
    # thin wrinkle lines), IPD units.
    smoothing_ipd: float = 0.008
    # A spot is new only if the follow-up is darker than the darkest baseline skin
    # within this distance, IPD units: structure that moved by less (hair strands at
    # the hairline, residual misregistration) is not new pigment. About the
    # alignment's error at the hairline when the head turns by 3° between photos
    # (hair strands moved 0.02-0.035 IPD: benchmarks/real_photo_qc.py); half the
    # smallest macule the check must find (0.06 IPD).
    shift_tolerance_ipd: float = 0.035
    # Severity bands by affected fraction of the scored skin.
    moderate_area: float = 0.01
    severe_area: float = 0.04


@dataclass(frozen=True)
class RegionPigment:
    region: str
    delta_L: float
    delta_a: float
    delta_b: float
    delta_e: float
    area_fraction: float  # fraction of the region covered by new dark spots


@dataclass(frozen=True)
class PihResult:
    """Outcome of the PIH check for one pair.

    Attributes
    ----------
    flag : bool
        New or increased hyperpigmentation at follow-up.
    severity : str
        "none", "mild", "moderate" or "severe".
    area_fraction : float
        Spot area over all scored skin.
    delta_e : float
        Area-weighted mean ΔE*ab inside the spots (0 without spots).
    regions : tuple of RegionPigment
    spot_mask : ndarray, shape (H, W), bool
        New hyperpigmented spots, BEFORE's frame.
    erythema_mask : ndarray, shape (H, W), bool
        Patches whose change is mainly redness (reported, not PIH).
    """

    flag: bool
    severity: str
    area_fraction: float
    delta_e: float
    regions: tuple[RegionPigment, ...]
    spot_mask: np.ndarray = field(repr=False)
    erythema_mask: np.ndarray = field(repr=False)


def _check_lab(lab: np.ndarray, name: str) -> None:
    if lab.ndim != 3 or lab.shape[2] != 3 or not np.issubdtype(lab.dtype, np.floating):
        raise ValueError(f"{name} must be a float CIELAB image of shape (H, W, 3), got {lab.shape} {lab.dtype}")


def check_pih(
    lab_before: np.ndarray,
    lab_after: np.ndarray,
    region_masks: dict[str, np.ndarray],
    ipd_px: float,
    thresholds: PigmentThresholds | None = None,
    exclude: np.ndarray | None = None,
) -> PihResult:
    """Per-region colour change and new hyperpigmented spots.

    Parameters
    ----------
    lab_before, lab_after : ndarray, shape (H, W, 3), float
        CIELAB of BEFORE and of the aligned, lighting-normalised AFTER.
    region_masks : dict of str to ndarray (H, W) bool
        Skin pixels of each scored region (valid in both photos).
    ipd_px : float
        Inter-pupil distance in pixels (sets the spatial scales).
    thresholds : PigmentThresholds, optional
    exclude : ndarray, shape (H, W), bool, optional
        Pixels that cannot be new pigment spots: detected wrinkle lines in
        either photo (a deepened wrinkle darkens skin too, but it is measured
        as wrinkle change, not PIH).

    Returns
    -------
    PihResult
    """
    import cv2

    _check_lab(lab_before, "lab_before")
    _check_lab(lab_after, "lab_after")
    if lab_before.shape != lab_after.shape:
        raise ValueError(f"lab_before {lab_before.shape} and lab_after {lab_after.shape} differ in shape")
    t = thresholds or PigmentThresholds()
    skin = np.zeros(lab_before.shape[:2], bool)
    for m in region_masks.values():
        skin |= m
    if not skin.any():
        empty = np.zeros_like(skin)
        return PihResult(False, "none", 0.0, 0.0, (), empty, empty)
    ys, xs = np.nonzero(skin)
    pad = int(np.ceil(t.surround_ipd * ipd_px))
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, skin.shape[0])
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, skin.shape[1])
    crop = (slice(y0, y1), slice(x0, x1))
    sk = skin[crop].astype(np.float32)
    sigma_s = max(t.smoothing_ipd * ipd_px, 0.5)
    sigma_b = t.surround_ipd * ipd_px / 2

    def smoothed(lab: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(np.ascontiguousarray(lab[crop], np.float32), (0, 0), sigma_s)

    def blur_wide(image: np.ndarray) -> np.ndarray:
        # A wide Gaussian is smooth: compute it on a reduced grid, then upsample.
        factor = max(1.0, sigma_b / 3.0)
        h, w = image.shape
        small = cv2.resize(image, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA)
        return cv2.resize(cv2.GaussianBlur(small, (0, 0), sigma_b / factor), (w, h), interpolation=cv2.INTER_LINEAR)

    grown = None
    if exclude is not None:
        radius = max(1, round(t.smoothing_ipd * ipd_px * 2))
        grown = cv2.dilate(exclude[crop].astype(np.uint8),
                           cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)) > 0
    # The surround is plain skin: without wrinkle lines (of either photo), lines that
    # fade between visits would brighten the follow-up's surround and make the skin
    # between them look newly darker.
    reference = sk if grown is None else sk * ~grown
    weight = np.maximum(blur_wide(reference), 1e-3)

    def surround(channel: np.ndarray) -> np.ndarray:
        # Normalised convolution over plain skin only, so hair, eyes or wrinkle
        # lines nearby do not darken the reference.
        return blur_wide(channel * reference) / weight

    before, after = smoothed(lab_before), smoothed(lab_after)
    l_ref = surround(before[..., 0])
    contrast_before = before[..., 0] - l_ref
    contrast_after = after[..., 0] - surround(after[..., 0])
    shift = max(0, round(t.shift_tolerance_ipd * ipd_px))
    if shift:
        # Grey erosion = the darkest baseline contrast within ``shift`` px.
        contrast_before = cv2.erode(contrast_before, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * shift + 1,) * 2))
    new_dark = contrast_after - contrast_before  # negative where a spot appeared
    delta = after - before
    delta_e = np.linalg.norm(delta, axis=2)
    darker = new_dark < -t.min_relative_darkening * np.maximum(l_ref, 5.0)
    perceptible = delta_e >= t.min_delta_e
    reddish = delta[..., 1] > t.erythema_a_over_l * np.abs(delta[..., 0])
    pigment_like = (delta[..., 2] >= t.min_delta_b) & ~reddish
    candidates = darker & perceptible & (sk > 0)
    if grown is not None:
        candidates &= ~grown
    spots_crop = _keep_spots(candidates & pigment_like, t.min_spot_diameter_ipd * ipd_px, delta, t.erythema_a_over_l)
    erythema_crop = (delta[..., 1] >= t.min_delta_e) & reddish & (sk > 0)
    spots = np.zeros_like(skin)
    spots[crop] = spots_crop
    erythema = np.zeros_like(skin)
    erythema[crop] = erythema_crop

    regions = []
    lab_b, lab_a = lab_before[crop], lab_after[crop]
    for name, full_mask in region_masks.items():
        m = full_mask[crop]
        if not m.any():
            continue
        d = np.median(lab_a[m], axis=0) - np.median(lab_b[m], axis=0)
        regions.append(RegionPigment(
            region=name, delta_L=float(d[0]), delta_a=float(d[1]), delta_b=float(d[2]),
            delta_e=float(np.linalg.norm(d)), area_fraction=float((spots_crop & m).sum() / m.sum()),
        ))
    area = float(spots_crop.sum() / sk.sum())
    spot_de = float(np.linalg.norm(lab_a[spots_crop] - lab_b[spots_crop], axis=1).mean()) if spots_crop.any() else 0.0
    severity = "none" if not spots_crop.any() else (
        "severe" if area >= t.severe_area else "moderate" if area >= t.moderate_area else "mild")
    return PihResult(bool(spots_crop.any()), severity, area, spot_de, tuple(regions), spots, erythema)


def _keep_spots(candidates: np.ndarray, min_diameter_px: float, delta: np.ndarray,
                erythema_a_over_l: float, max_elongation: float = 4.0) -> np.ndarray:
    """Connected components at least a small disc in area, not line-shaped, not red.

    A deepened wrinkle is a thin line; a macule is a blob. Elongation is the
    ratio of the component's principal axes (from its second moments). A
    component whose mean change is mainly a rise of a* is erythema, even if
    some of its pixels passed the per-pixel test.
    """
    import cv2

    n, labels, stats, _ = cv2.connectedComponentsWithStats(candidates.astype(np.uint8), connectivity=8)
    min_area = np.pi * (min_diameter_px / 2) ** 2
    keep = np.zeros(n, bool)
    for i in range(1, n):
        if stats[i, cv2.CC_STAT_AREA] < min_area:
            continue
        x, y, w, h = stats[i, :4]
        component = labels[y: y + h, x: x + w] == i
        m = cv2.moments(component.astype(np.uint8), binaryImage=True)
        cov = np.array([[m["mu20"], m["mu11"]], [m["mu11"], m["mu02"]]]) / m["m00"]
        small, large = np.sqrt(np.maximum(np.linalg.eigvalsh(cov), 1e-9))
        mean = delta[y: y + h, x: x + w][component].mean(axis=0)
        keep[i] = large / small <= max_elongation and mean[1] <= erythema_a_over_l * 0.5 * abs(mean[0])
    return keep[labels]
