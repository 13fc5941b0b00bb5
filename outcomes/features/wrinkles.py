"""Classical wrinkle detection.

Wrinkles are thin dark valleys: across a crease the larger Hessian eigenvalue of the luminance is
positive, the smaller one near zero. The detector

1. works on log linear-light luminance (exposure, white balance and skin tone scale light; the log
   makes that an offset) minus its local mean, divided by the local std of the remainder;
2. keeps, per pixel, the scale of strongest Hessian valley (separable Gaussian derivatives,
   σ = 0.4–1.25 % of the inter-pupil distance, IPD; blob-like points are penalised);
3. steers that scale's second derivative to 8 orientations and averages each along its own line
   direction, so long lines keep their strength while round pores and spots lose it;
4. thresholds with hysteresis and keeps long, elongated components that are darker than both
   their sides (not an edge, not the flank of a bright ridge).

Lengths are fractions of the IPD; faces larger than ``_WORK_IPD`` are analysed downsampled to it.
``benchmarks/wrinkle_detection.py`` measures it on real faces with simulated wrinkles.
Per-region features of any wrinkle map (this one, the CNN's or the fused) are
:mod:`outcomes.features.wrinkle_regions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from outcomes.color import _decode_lut

SCALES_REL_IPD: tuple[float, ...] = (0.004, 0.007, 0.0125)  # Hessian σ: 0.8, 1.4, 2.5 px at IPD 200
CONTRAST_REL_IPD = 0.05  # σ of the local mean / std normalisation: 10 px at IPD 200
LINE_SIGMA = 3.0  # along-line σ of the oriented bank, in units of the middle Hessian scale
N_ORIENTATIONS = 8
_WORK_IPD = 200.0  # larger faces are analysed at this IPD
_BANK_IPD = 100.0  # the oriented bank runs at about this IPD (smoother, 4× fewer pixels)
_MIN_VALLEY = 0.005  # a kept line is on average >= 0.5 % darker than both its sides
_LOG_EPS = 2e-3  # added to linear luminance before the log, so deep shadows do not explode
_STD_FLOOR = 0.01  # local std floor in log units (1 % contrast): flat skin is not amplified


@dataclass(frozen=True, eq=False)
class WrinkleMap:
    """Wrinkles detected on one photo.

    Attributes
    ----------
    response : ndarray, shape (H, W), float32
        Line-valley strength in [0, 1]; 0 outside the region of interest.
    mask : ndarray, shape (H, W), bool
        Detected wrinkle pixels.
    ipd_px : float
        Inter-pupil distance the scales came from, px.
    detector, params : str, dict
        ``"classical"``; the parameters used (thresholds, component filters, filter scales).
    """

    response: np.ndarray
    mask: np.ndarray
    ipd_px: float
    detector: str = "classical"
    params: dict = field(default_factory=dict)


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 8:
        raise ValueError(f"rgb must be an (H, W, 3) uint8 RGB image of at least 8×8 px, got shape {rgb.shape} "
                         f"dtype {rgb.dtype}")
    return rgb


def _check_mask(mask, shape: tuple[int, ...], name: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != tuple(shape) or mask.dtype != bool:
        raise ValueError(f"{name} must be a bool array of shape {tuple(shape)}, got shape {mask.shape} dtype {mask.dtype}")
    return mask


def _check_positive(value, name: str, minimum: float = 0.0) -> float:
    v = float(value) if isinstance(value, (int, float, np.number)) else np.nan
    if not np.isfinite(v) or v <= minimum:
        raise ValueError(f"{name} must be a finite number above {minimum}, got {value!r}")
    return v


def _bbox(mask: np.ndarray | None, margin: int, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` of ``mask``'s bounding box grown by ``margin``, clipped to ``shape``."""
    if mask is None:
        return 0, shape[0], 0, shape[1]
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (max(rows[0] - margin, 0), min(rows[-1] + margin + 1, shape[0]),
            max(cols[0] - margin, 0), min(cols[-1] + margin + 1, shape[1]))


@lru_cache(maxsize=64)
def _gaussian_kernels(sigma: float) -> tuple[np.ndarray, ...]:
    """Sampled Gaussian and its 1st and 2nd derivatives, each (K, 1) float32, for cv2 correlation."""
    x = np.arange(-int(np.ceil(3.5 * sigma)), int(np.ceil(3.5 * sigma)) + 1, dtype=np.float64)
    g = np.exp(-x * x / (2 * sigma * sigma))
    g /= g.sum()
    d1 = -x / sigma**2 * g  # correlation flips its sign; the flips cancel in the mixed derivative
    d2 = (x * x / sigma**4 - 1 / sigma**2) * g
    return tuple(k.astype(np.float32).reshape(-1, 1) for k in (g, d1, d2 - d2.mean()))  # d2: 0 on a constant


@lru_cache(maxsize=64)
def _line_kernel(theta: float, sigma_along: float) -> np.ndarray:
    """Anti-aliased 1-px line, Gaussian-weighted along it, sum 1; ``theta``: direction ACROSS it (rad)."""
    r = int(np.ceil(2.5 * sigma_along))
    ys, xs = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float64)
    along, across = np.cos(theta) * ys - np.sin(theta) * xs, np.cos(theta) * xs + np.sin(theta) * ys
    k = np.exp(-along**2 / (2 * sigma_along**2)) * np.clip(1.0 - np.abs(across), 0.0, None)
    return (k / k.sum()).astype(np.float32)


def _log_luminance(rgb: np.ndarray) -> np.ndarray:
    lin = _decode_lut()
    y = sum((w * lin).astype(np.float32)[rgb[..., i]] for i, w in enumerate((0.2126, 0.7152, 0.0722)))
    return np.log(y + np.float32(_LOG_EPS))


def _line_strength(lum: np.ndarray, ipd: float, scales, contrast_scale: float, line_sigma: float) -> np.ndarray:
    """Oriented valley strength of a log-luminance crop, in local-std units, (h, w) float32."""
    import cv2

    s = contrast_scale * ipd
    detail = lum - cv2.GaussianBlur(lum, (0, 0), s)  # shading removed
    inv_std = 1.0 / np.sqrt(cv2.GaussianBlur(detail * detail, (0, 0), s) + _STD_FLOOR**2)
    sigmas = [max(0.5, float(f) * ipd) for f in scales]  # below 0.5 px a Gaussian is a single tap
    best = None
    for sigma in sigmas:
        g0, g1, g2 = _gaussian_kernels(round(sigma, 3))
        norm = np.float32(sigma * sigma) * inv_std  # scale- and contrast-normalised
        hxx = cv2.sepFilter2D(lum, cv2.CV_32F, g2, g0) * norm
        hyy = cv2.sepFilter2D(lum, cv2.CV_32F, g0, g2) * norm
        hxy = cv2.sepFilter2D(lum, cv2.CV_32F, g1, g1) * norm
        half_trace, root = (hxx + hyy) / 2, np.sqrt(((hxx - hyy) / 2) ** 2 + hxy**2)
        valley = half_trace + root - np.maximum(half_trace - root, 0.0)  # λ1 − max(λ2, 0)
        if best is None:
            best = [valley, hxx, hyy, hxy]
        else:
            better = valley > best[0]
            for arr, new in zip(best, (valley, hxx, hyy, hxy)):
                np.copyto(arr, new, where=better)
    h, w = lum.shape
    _, hxx, hyy, hxy = best
    factor = max(1, round(ipd / _BANK_IPD))
    if factor > 1:
        size = (max(1, round(w / factor)), max(1, round(h / factor)))
        hxx, hyy, hxy = (cv2.resize(a, size, interpolation=cv2.INTER_AREA) for a in (hxx, hyy, hxy))
    sigma_along = round(line_sigma * float(np.median(sigmas)) / factor, 3)
    line = None
    for k in range(N_ORIENTATIONS):
        theta = np.pi * k / N_ORIENTATIONS
        c, s = np.float32(np.cos(theta)), np.float32(np.sin(theta))
        across = c * c * hxx + 2 * c * s * hxy + s * s * hyy  # steered 2nd derivative across the line
        resp = cv2.filter2D(across, cv2.CV_32F, _line_kernel(theta, sigma_along))
        line = resp if line is None else np.maximum(line, resp)
    return cv2.resize(line, (w, h), interpolation=cv2.INTER_LINEAR) if factor > 1 else line


def wrinkle_response(rgb: np.ndarray, ipd_px: float, roi: np.ndarray | None = None, *,
                     scales: tuple[float, ...] = SCALES_REL_IPD, contrast_scale: float = CONTRAST_REL_IPD,
                     line_sigma: float = LINE_SIGMA) -> np.ndarray:
    """Line-valley ("wrinkle-ness") response of a face photo.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
        sRGB photo.
    ipd_px : float
        Inter-pupil distance, px; all scales are fractions of it.
    roi : ndarray, shape (H, W), bool, optional
        Where to look (e.g. the face's skin): only its bounding box plus a margin is filtered,
        and the response is 0 outside it.
    scales : tuple of float
        Hessian σ, fractions of the IPD (a valley of FWHM w responds best near σ ≈ w / 2.4).
    contrast_scale : float
        σ of the local mean / std normalisation, fraction of the IPD.
    line_sigma : float
        Along-line σ of the oriented bank, in units of the middle scale.

    Returns
    -------
    response : ndarray, shape (H, W), float32
        ``1 - exp(-strength)`` in [0, 1], strength in local-std units: high on thin, elongated dark
        valleys, near 0 on flat skin, round spots and bright ridges; unchanged by a global gain
        (exposure, white balance) up to 8-bit quantisation.
    """
    import cv2

    rgb = _check_rgb(rgb)
    ipd = _check_positive(ipd_px, "ipd_px", 4.0)
    shape = rgb.shape[:2]
    roi = None if roi is None else _check_mask(roi, shape, "roi")
    if not scales or min(scales) <= 0 or contrast_scale <= 0 or line_sigma <= 0:
        raise ValueError(f"scales, contrast_scale and line_sigma must be positive, got {scales!r}, "
                         f"{contrast_scale!r}, {line_sigma!r}")
    out = np.zeros(shape, np.float32)
    if roi is not None and not roi.any():
        return out
    y0, y1, x0, x1 = _bbox(roi, int(np.ceil((4 * max(scales) + 3 * contrast_scale) * ipd)) + 2, shape)
    lum = _log_luminance(rgb[y0:y1, x0:x1])
    k = min(1.0, _WORK_IPD / ipd)
    if k < 1.0:
        lum = cv2.resize(lum, (max(8, round((x1 - x0) * k)), max(8, round((y1 - y0) * k))),
                         interpolation=cv2.INTER_AREA)
    line = _line_strength(lum, ipd * k, scales, contrast_scale, line_sigma)
    if k < 1.0:
        line = cv2.resize(line, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    out[y0:y1, x0:x1] = 1.0 - np.exp(-np.maximum(line, 0.0))
    if roi is not None:
        out[~roi] = 0.0
    return out


def detect_wrinkles(rgb: np.ndarray, ipd_px: float, roi: np.ndarray | None = None, *, threshold: float = 0.45,
                    low_threshold: float = 0.3, min_length: float = 0.03, min_elongation: float = 5.0,
                    response: np.ndarray | None = None) -> WrinkleMap:
    """Detect wrinkles: long, thin dark lines of the response.

    Parameters
    ----------
    rgb, ipd_px, roi
        As for :func:`wrinkle_response` (default filter settings).
    threshold, low_threshold : float
        Hysteresis on the response: lines grow through pixels ``>= low_threshold`` from seeds
        ``>= threshold``.
    min_length : float
        Components whose major axis is shorter than this fraction of the IPD are dropped.
    min_elongation : float
        Components whose major / minor axis ratio (second moments) is below this are dropped.
    response : ndarray, shape (H, W), float32, optional
        :func:`wrinkle_response` of this image, if already computed.

    Returns
    -------
    WrinkleMap
    """
    import cv2

    if not 0.0 < low_threshold <= threshold <= 1.0:
        raise ValueError(f"need 0 < low_threshold <= threshold <= 1, got {low_threshold!r}, {threshold!r}")
    rgb = _check_rgb(rgb)
    ipd = _check_positive(ipd_px, "ipd_px", 4.0)
    if response is None:
        response = wrinkle_response(rgb, ipd, roi)
    elif np.shape(response) != rgb.shape[:2] or np.asarray(response).dtype != np.float32:
        raise ValueError(f"response must be float32 of shape {rgb.shape[:2]}, got shape {np.shape(response)} "
                         f"dtype {np.asarray(response).dtype}")
    n, labels = cv2.connectedComponents((response >= low_threshold).astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[np.unique(labels[response >= threshold])] = True
    keep[0] = False
    ys, xs = np.nonzero(keep[labels])
    lab, xs, ys = labels[ys, xs], xs.astype(np.float64), ys.astype(np.float64)
    cnt = np.maximum(np.bincount(lab, minlength=n), 1)
    mx, my = np.bincount(lab, xs, n) / cnt, np.bincount(lab, ys, n) / cnt
    sxx = np.bincount(lab, xs * xs, n) / cnt - mx * mx + 1 / 12  # + a pixel's own spread
    syy = np.bincount(lab, ys * ys, n) / cnt - my * my + 1 / 12
    sxy = np.bincount(lab, xs * ys, n) / cnt - mx * my
    half, root = (sxx + syy) / 2, np.sqrt(((sxx - syy) / 2) ** 2 + sxy**2)
    major, minor = 4 * np.sqrt(half + root), 4 * np.sqrt(np.maximum(half - root, 1 / 12))
    keep &= (major >= min_length * ipd) & (major >= min_elongation * minor)
    if keep.any():
        keep &= _two_sided_contrast(rgb, labels, keep, ipd) > _MIN_VALLEY
    params = {"threshold": threshold, "low_threshold": low_threshold, "min_length": min_length,
              "min_elongation": min_elongation, **response_params(), "min_valley": _MIN_VALLEY}
    return WrinkleMap(response=response, mask=keep[labels], ipd_px=ipd, params=params)


def response_params() -> dict:
    """The filter settings of :func:`wrinkle_response` with its defaults, for provenance."""
    return {"scales": list(SCALES_REL_IPD), "contrast_scale": CONTRAST_REL_IPD, "line_sigma": LINE_SIGMA,
            "orientations": N_ORIENTATIONS}


def _two_sided_contrast(rgb: np.ndarray, labels: np.ndarray, keep: np.ndarray, ipd: float) -> np.ndarray:
    """Per label: mean over its pixels of max over 4 axes of ``min(side1, side2) - centre``.

    Log luminance, lightly smoothed, sides 1 % IPD away: > 0 for a valley, <= 0 on an edge or on
    the flank of a bright ridge. Shape (n_labels,), float64.
    """
    import cv2

    inside = keep[labels]
    y0, y1, x0, x1 = _bbox(inside, 8, labels.shape)
    lum = cv2.GaussianBlur(_log_luminance(rgb[y0:y1, x0:x1]), (0, 0), max(0.5, 0.004 * ipd))
    ys, xs = np.nonzero(inside[y0:y1, x0:x1])
    d, (h, w) = max(1, round(0.01 * ipd)), lum.shape
    centre, best = lum[ys, xs], np.full(len(ys), -np.inf, np.float32)
    for dy, dx in ((0, d), (d, 0), (d, d), (d, -d)):
        a = lum[np.clip(ys + dy, 0, h - 1), np.clip(xs + dx, 0, w - 1)]
        b = lum[np.clip(ys - dy, 0, h - 1), np.clip(xs - dx, 0, w - 1)]
        best = np.maximum(best, np.minimum(a, b) - centre)
    lab = labels[y0:y1, x0:x1][ys, xs]
    return np.bincount(lab, best, len(keep)) / np.maximum(np.bincount(lab, minlength=len(keep)), 1)
