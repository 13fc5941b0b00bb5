"""Bring two photos of one face to the same sharpness before their fine detail is compared.

A follow-up taken from farther away, slightly out of focus or compressed harder
shows the same wrinkles with less contrast: measured as it is, it reads as an
improvement. Both photos are in BEFORE's frame here; the skin's fine texture
(pores, fine lines) is the same in both, so the share of its variance at the
finest scale tells how much softer one photo is. The sharper photo is blurred
by the Gaussian that gives it the softer one's fine-scale energy; then both
are compared at the same effective resolution.

Plain functions on float arrays; shapes (H, W), L* units, px in BEFORE's frame.
"""

from __future__ import annotations

import numpy as np

_FINE_SIGMA_PX = 1.0  # the finest band: detail removed by a Gaussian of this sd
_MAX_SIGMA_PX = 4.0


def fine_energy(lightness: np.ndarray, mask: np.ndarray) -> float:
    """Mean squared fine-scale detail of ``lightness`` (L* minus its 1-px Gaussian) over ``mask``."""
    import cv2

    light = np.ascontiguousarray(lightness, dtype=np.float32)
    detail = light - cv2.GaussianBlur(light, (0, 0), _FINE_SIGMA_PX)
    return float(np.mean(detail[mask] ** 2))


def relative_blur(light_before: np.ndarray, light_after: np.ndarray, mask: np.ndarray,
                  tolerance_px: float = 0.02) -> float:
    """Gaussian sd (px) that makes the sharper photo as soft as the other.

    Parameters
    ----------
    light_before, light_after : ndarray, shape (H, W), float
        L* of both photos in the same frame.
    mask : ndarray, shape (H, W), bool
        Skin seen in both (the comparison's support).
    tolerance_px : float
        Precision of the returned sd.

    Returns
    -------
    float
        > 0: AFTER is softer, blur BEFORE by this sd; < 0: BEFORE is softer, blur AFTER
        by its magnitude; 0 when they match (or the mask is empty). At most 4 px.
    """
    import cv2

    if light_before.shape != light_after.shape or mask.shape != light_before.shape or mask.dtype != bool:
        raise ValueError(f"light_before {light_before.shape}, light_after {light_after.shape} and a bool mask "
                         f"{mask.shape} {mask.dtype} must share one (H, W) shape")
    if not mask.any():
        return 0.0
    ys, xs = np.nonzero(mask)
    pad = int(np.ceil(3 * (_MAX_SIGMA_PX + _FINE_SIGMA_PX))) + 1
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, mask.shape[0])
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, mask.shape[1])
    crop = (slice(y0, y1), slice(x0, x1))
    b = np.ascontiguousarray(light_before[crop], np.float32)
    a = np.ascontiguousarray(light_after[crop], np.float32)
    m = mask[crop]
    e_b, e_a = fine_energy(b, m), fine_energy(a, m)
    if e_b == e_a:
        return 0.0
    sharper, target, sign = (b, e_a, 1.0) if e_b > e_a else (a, e_b, -1.0)
    lo, hi = 0.0, _MAX_SIGMA_PX
    if fine_energy(cv2.GaussianBlur(sharper, (0, 0), hi), m) > target:
        return sign * hi
    while hi - lo > tolerance_px:  # fine energy falls monotonically with blur
        mid = (lo + hi) / 2
        if fine_energy(cv2.GaussianBlur(sharper, (0, 0), mid), m) > target:
            lo = mid
        else:
            hi = mid
    return sign * (lo + hi) / 2


def match_blur(light_before: np.ndarray, light_after: np.ndarray, mask: np.ndarray,
               min_sigma_px: float = 0.1) -> tuple[np.ndarray, np.ndarray, float]:
    """Both L* images at the softer one's sharpness, and the sd applied (sign as :func:`relative_blur`).

    A difference below ``min_sigma_px`` is left alone (texture noise alone gives that much).
    """
    import cv2

    sigma = relative_blur(light_before, light_after, mask)
    if abs(sigma) < min_sigma_px:
        return light_before, light_after, 0.0
    if sigma > 0:
        return cv2.GaussianBlur(np.ascontiguousarray(light_before, np.float32), (0, 0), sigma), light_after, sigma
    return light_before, cv2.GaussianBlur(np.ascontiguousarray(light_after, np.float32), (0, 0), -sigma), sigma
