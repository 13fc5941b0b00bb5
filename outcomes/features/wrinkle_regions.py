"""Per-region wrinkle features: area, length, depth, contrast and severity inside a region mask.

They measure any :class:`~outcomes.features.wrinkles.WrinkleMap` (classical, CNN or fused) against
the photo's own lightness, so a before/after pair is compared on the same lines (see
:func:`region_wrinkle_features`'s ``reference``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from outcomes.features.wrinkles import WrinkleMap, _bbox, _check_mask, _check_positive

_BACKGROUND_REL_IPD = 0.03  # σ of the local background around a wrinkle (region features)
_EXCLUDE_REL_IPD = 0.015  # wrinkle pixels grown by this much are left out of that background


@dataclass(frozen=True)
class RegionWrinkles:
    """Wrinkle features of one region (all but ``region_px`` 0 when it holds no wrinkle pixel).

    Attributes
    ----------
    area_fraction : float
        Wrinkle pixels / region pixels, 0..1.
    length_per_cm2 : float
        Wrinkle skeleton length in mm (diagonal steps count √2) per cm² of region, mm/cm².
    depth : float
        Depth proxy: local background L* minus L* on the wrinkle, mean over wrinkle pixels, L* units.
    contrast : float
        Fraction of linear light removed relative to the local background, mean over wrinkle
        pixels, 0..1 (unlike ``depth``, independent of exposure and skin lightness).
    severity : float
        ``length_per_cm2 * contrast``, mm/cm²: wrinkle length per area weighted by how dark the
        lines are. Compare it between photos only with the same region mask and ``mm_per_px``
        (and, for a before/after pair, each other's map as ``reference``).
    wrinkle_px, region_px : int
    """

    area_fraction: float
    length_per_cm2: float
    depth: float
    contrast: float
    severity: float
    wrinkle_px: int
    region_px: int

    def as_dict(self) -> dict[str, float | int]:
        return {k: (v if isinstance(v, int) else float(v)) for k, v in self.__dict__.items()}


def _lightness_to_y(lightness: np.ndarray) -> np.ndarray:
    """CIE L* → relative luminance Y (0..1)."""
    f = (lightness + 16.0) / 116.0
    return np.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29))


def region_wrinkle_features(wrinkle_map: WrinkleMap, luminance_or_lab: np.ndarray, region_mask: np.ndarray,
                            mm_per_px: float, *, reference: WrinkleMap | None = None) -> RegionWrinkles:
    """Area, length, depth and severity of the wrinkles inside one region.

    For a before/after pair, measure both photos in the baseline's frame with the same
    ``region_mask`` and ``mm_per_px``, each with the other photo's map as ``reference``: both are
    then measured on the union of the two masks (the pipeline passes the follow-up's new
    lines only, :func:`outcomes.measures.wrinkles.new_lines`), so length and area are shared and ``depth``,
    ``contrast`` and ``severity`` follow how dark the same lines are in each photo (a line that
    fades below the detection threshold in one photo still counts, with its faded contrast).

    Parameters
    ----------
    wrinkle_map : WrinkleMap
        From :func:`~outcomes.features.wrinkles.detect_wrinkles` (or the CNN or fused detector) on this photo.
    luminance_or_lab : ndarray, shape (H, W) or (H, W, 3), float
        CIE L* (0..100) of this photo, or CIELAB with L* first.
    region_mask : ndarray, shape (H, W), bool
        The region's pixels; must not be empty.
    mm_per_px : float
        Physical scale, mm per px (e.g. ``RegionMasks.mm_per_px``).
    reference : WrinkleMap, optional
        The other photo's map, same frame and shape.

    Returns
    -------
    RegionWrinkles
    """
    import cv2
    from skimage.morphology import skeletonize

    shape = wrinkle_map.mask.shape
    lab = np.asarray(luminance_or_lab)
    if lab.shape not in (shape, (*shape, 3)) or not np.issubdtype(lab.dtype, np.number):
        raise ValueError(f"luminance_or_lab must be L* of shape {shape} or L*a*b* of shape {(*shape, 3)}, "
                         f"got shape {lab.shape} dtype {lab.dtype}")
    region = _check_mask(region_mask, shape, "region_mask")
    scale = _check_positive(mm_per_px, "mm_per_px")
    if reference is not None and reference.mask.shape != shape:
        raise ValueError(f"reference map has shape {reference.mask.shape}, expected {shape} (the same frame)")
    region_px = int(np.count_nonzero(region))
    if region_px == 0:
        raise ValueError("region_mask is empty: leave a region that is not visible out rather than scoring it")
    exclude_r = max(1, round(_EXCLUDE_REL_IPD * wrinkle_map.ipd_px))
    sigma_bg = _BACKGROUND_REL_IPD * wrinkle_map.ipd_px
    y0, y1, x0, x1 = _bbox(region, int(np.ceil(3 * sigma_bg)) + exclude_r + 2, shape)
    mask = wrinkle_map.mask[y0:y1, x0:x1]
    if reference is not None:
        mask = mask | reference.mask[y0:y1, x0:x1]
    reg = region[y0:y1, x0:x1]
    wrinkle = mask & reg
    n_wrinkle = int(np.count_nonzero(wrinkle))
    if n_wrinkle == 0:
        return RegionWrinkles(0.0, 0.0, 0.0, 0.0, 0.0, 0, region_px)
    light = (lab[y0:y1, x0:x1, 0] if lab.ndim == 3 else lab[y0:y1, x0:x1]).astype(np.float32)
    # Background L*: Gaussian average of the pixels around that are not (near) a wrinkle.
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * exclude_r + 1,) * 2)
    weight = 1.0 - cv2.dilate(mask.astype(np.uint8), disk).astype(np.float32)
    num, den = (cv2.GaussianBlur(a, (0, 0), sigma_bg) for a in (light * weight, weight))
    wide = cv2.GaussianBlur(light, (0, 0), 3 * sigma_bg)  # where no background pixel is near
    background = np.where(den > 1e-3, num / np.maximum(den, 1e-6), wide)[wrinkle]
    on = light[wrinkle]
    depth = max(0.0, float(np.mean(background - on)))
    removed = 1.0 - _lightness_to_y(on) / np.maximum(_lightness_to_y(background), 1e-6)
    contrast = float(np.clip(np.mean(removed), 0.0, 1.0))
    # Skeleton length: orthogonal steps 1, diagonal steps √2 unless an orthogonal pair already joins them.
    p = np.pad(skeletonize(mask) & reg, 1)
    c = p[1:-1, 1:-1]
    steps = (c & p[1:-1, 2:]).sum() + (c & p[2:, 1:-1]).sum()
    diagonal = (c & p[2:, 2:] & ~p[1:-1, 2:] & ~p[2:, 1:-1]).sum() + (c & p[2:, :-2] & ~p[1:-1, :-2] & ~p[2:, 1:-1]).sum()
    length_per_cm2 = float((steps + np.sqrt(2) * diagonal) * scale / (region_px * scale * scale / 100.0))
    return RegionWrinkles(area_fraction=n_wrinkle / region_px, length_per_cm2=length_per_cm2, depth=depth,
                          contrast=contrast, severity=length_per_cm2 * contrast, wrinkle_px=n_wrinkle,
                          region_px=region_px)
