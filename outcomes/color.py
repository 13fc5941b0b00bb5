"""Skin colour: sRGB → CIELAB, skin-pixel classification, ITA and Fitzpatrick.

Lighting differences between visits are corrected in :mod:`outcomes.illumination`.

CIELAB is D65 / 2° throughout (as ``skimage.color.rgb2lab``). The ITA-based
Fitzpatrick estimate is a weak proxy (see :func:`fitzpatrick_from_ita`); a
type reported by the clinic always wins (:func:`skin_tone`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WHITE_D65 = np.array([95.047, 100.0, 108.883])  # XYZ of the reference white, Y = 100
_RGB_TO_XYZ = np.array([[0.412453, 0.357580, 0.180423],
                        [0.212671, 0.715160, 0.072169],
                        [0.019334, 0.119193, 0.950227]])  # linear sRGB → XYZ (Y = 1), as skimage
_EPS, _KAPPA = (6.0 / 29.0) ** 3, (29.0 / 6.0) ** 2 / 3.0  # CIE f(t) break point and linear slope
_LUMA = np.array([0.212671, 0.715160, 0.072169])  # Y weights of linear R, G, B
CHARDON: tuple[tuple[float, str, str], ...] = (  # (lower bound, exclusive), category, Fitzpatrick
    (55.0, "very light", "I"), (41.0, "light", "II"), (28.0, "intermediate", "III"),
    (10.0, "tan", "IV"), (-30.0, "brown", "V"), (-np.inf, "dark", "VI"))
FITZPATRICK_TYPES: tuple[str, ...] = ("I", "II", "III", "IV", "V", "VI")


def _check_rgb(rgb: np.ndarray, name: str = "rgb") -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"{name} must be an (H, W, 3) uint8 RGB image, got shape {rgb.shape} dtype {rgb.dtype}")
    return rgb


def _check_mask(mask: np.ndarray, shape: tuple[int, ...], name: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.shape != tuple(shape[:2]) or mask.dtype != bool:
        raise ValueError(f"{name} must be a bool array of shape {tuple(shape[:2])}, got {mask.shape} {mask.dtype}")
    return mask


def _decode_lut() -> np.ndarray:
    """Linear light of each 8-bit sRGB code, shape (256,), float64 in [0, 1]."""
    c = np.arange(256) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _encode(lin: np.ndarray) -> np.ndarray:
    """Linear light → 8-bit sRGB codes (clipped, rounded), same shape, uint8."""
    v = np.clip(lin, 0.0, 1.0)
    enc = np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(v, 1.0 / 2.4) - 0.055)
    return np.rint(enc * 255.0).astype(np.uint8)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert 8-bit sRGB to CIELAB (D65, 2° observer), as ``skimage.color.rgb2lab`` to ~2e-4.

    Channels are linearised (``c ≤ 0.04045 → c/12.92``, else ``((c + 0.055)/1.055)**2.4``),
    mapped to XYZ with the sRGB matrix and normalised by the white point (95.047, 100, 108.883).

    Parameters
    ----------
    rgb : ndarray, shape (..., 3), uint8

    Returns
    -------
    lab : ndarray, shape (..., 3), float32
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"rgb must be uint8 with a last axis of 3 (R, G, B), got shape {rgb.shape} dtype {rgb.dtype}")
    import cv2

    if rgb.size == 0:
        return np.zeros(rgb.shape, np.float32)
    flat = np.ascontiguousarray(rgb).reshape(-1, 1, 3)
    m = (_RGB_TO_XYZ * (100.0 / WHITE_D65)[:, None]).astype(np.float32)  # straight to X/Xn, Y/Yn, Z/Zn
    t = cv2.transform(cv2.LUT(flat, _decode_lut().astype(np.float32)), m)
    f = np.cbrt(t)
    low = t <= _EPS
    f[low] = _KAPPA * t[low] + 4.0 / 29.0
    to_lab = np.array([[0, 116, 0, -16], [500, -500, 0, 0], [0, 200, -200, 0]], np.float32)
    return cv2.transform(f, to_lab).reshape(rgb.shape)


def _lab_to_linear(lab: np.ndarray) -> np.ndarray:
    """CIELAB (..., 3) → linear sRGB (..., 3) float32, unclipped."""
    import cv2

    lab = np.asarray(lab, dtype=np.float32)
    if lab.size == 0:
        return np.zeros(lab.shape, np.float32)
    to_f = np.array([[1 / 116, 1 / 500, 0, 16 / 116], [1 / 116, 0, 0, 16 / 116], [1 / 116, 0, -1 / 200, 16 / 116]])
    f = cv2.transform(np.ascontiguousarray(lab).reshape(-1, 1, 3), to_f.astype(np.float32))
    t = f**3
    low = f <= 6.0 / 29.0
    t[low] = (f[low] - 4.0 / 29.0) / _KAPPA
    m = np.linalg.inv(_RGB_TO_XYZ) * (WHITE_D65 / 100.0)  # X/Xn, Y/Yn, Z/Zn → linear RGB
    return cv2.transform(t, m.astype(np.float32)).reshape(lab.shape)


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """Convert CIELAB (D65, 2°), shape (..., 3), to 8-bit sRGB (..., 3) uint8, clipping out-of-gamut colours."""
    if np.ndim(lab) < 1 or np.shape(lab)[-1] != 3:
        raise ValueError(f"lab must have a last axis of 3 (L*, a*, b*), got shape {np.shape(lab)}")
    return _encode(_lab_to_linear(lab))


def _robust(x: np.ndarray) -> tuple[float, float]:
    """Median and MAD-based standard deviation (1.4826 MAD)."""
    med = float(np.median(x))
    return med, 1.4826 * float(np.median(np.abs(x - med)))


def skin_pixels(
    rgb: np.ndarray, seed_mask: np.ndarray, *, lab: np.ndarray | None = None, k_sigma: float = 4.0,
    min_darker: float = 25.0, min_brighter: float = 12.0, chroma_ratio: tuple[float, float] = (0.5, 3.0),
    max_hue_deg: float = 20.0, saturation_code: int = 250, min_seed_pixels: int = 100,
    within: np.ndarray | None = None,
) -> np.ndarray:
    """Pixels that look like this person's skin, judged against a seed region that is mostly skin.

    The seed's robust statistics (medians, 1.4826 MAD; computed twice, the
    second time on the seed pixels that pass, which drops hair in the seed)
    model the skin in L* and in the shading-invariant chroma
    ``(a*, b*) / (L* + 16)`` (dimming linear light scales L* + 16, a*, b*
    alike), split into ``u`` along the seed's median hue and ``v`` across it.
    A pixel is skin when no RGB channel is ≥ ``saturation_code`` (glare), and

    - ``L* - L0`` is within ``-max(k_sigma σ_L, min_darker)`` … ``+max(k_sigma σ_L, min_brighter)``
      (hair, brows, beard, deep shadow are much darker; highlights brighter);
    - ``u / u0`` is within ``chroma_ratio`` (grey backdrop, glare and black
      hair have far less chroma than skin of the same lightness);
    - ``|v - v0| ≤ max(k_sigma σ_v, tan(max_hue_deg) u)``: the hue is the seed's.

    Tolerances are contrasts scaled by the seed's own spread, never absolute
    L*, so light and dark skin (Fitzpatrick I–VI) are treated alike. PIH-like
    macules (L* 5–15 lower, b* up to 5 higher: chroma up to ×2.6 on very dark
    skin, hue +≤ 8°) and wrinkles (dimmed light, same chroma) stay skin, except
    a deep macule on skin already > 10 L* below the seed median. Skin-coloured
    backgrounds pass; callers restrict to the face.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
    seed_mask : ndarray, shape (H, W), bool
        Mostly skin, e.g. both cheeks; at least ``min_seed_pixels`` unsaturated pixels.
    lab : ndarray, shape (H, W, 3), float, optional
        ``srgb_to_lab(rgb)`` if already computed.
    k_sigma, min_darker, min_brighter, chroma_ratio, max_hue_deg : float
        Tolerances as above: robust SDs of the seed; ΔL* floors below / above the seed median;
        (low, high) chroma relative to the seed; hue floor in degrees.
    saturation_code, min_seed_pixels : int
        8-bit code from which a channel counts as clipped; fewest usable seed pixels.
    within : ndarray, shape (H, W), bool, optional
        Only these pixels are tested (the rest are False); the work is done on the
        bounding box of ``within | seed_mask``, so a face mask saves most of a full-frame pass.

    Returns
    -------
    skin : ndarray, shape (H, W), bool

    Raises
    ------
    ValueError
        Wrong shapes or dtypes, too few seed pixels, or a grey seed.
    """
    rgb = _check_rgb(rgb)
    seed_mask = _check_mask(seed_mask, rgb.shape, "seed_mask")
    if lab is not None and np.shape(lab) != rgb.shape:
        raise ValueError(f"lab must have the shape of rgb {rgb.shape}, got {np.shape(lab)}")
    if within is not None:
        within = _check_mask(within, rgb.shape, "within")
        rows, cols = np.flatnonzero((within | seed_mask).any(axis=1)), np.flatnonzero((within | seed_mask).any(axis=0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)) if len(rows) else (slice(0, 0),) * 2
        skin = np.zeros(rgb.shape[:2], bool)
        skin[box] = within[box] & skin_pixels(
            rgb[box], seed_mask[box], lab=None if lab is None else lab[box], k_sigma=k_sigma, min_darker=min_darker,
            min_brighter=min_brighter, chroma_ratio=chroma_ratio, max_hue_deg=max_hue_deg,
            saturation_code=saturation_code, min_seed_pixels=min_seed_pixels)
        return skin
    lab = srgb_to_lab(rgb) if lab is None else np.asarray(lab, dtype=np.float32)
    import cv2

    unsat = cv2.max(cv2.max(rgb[..., 0], rgb[..., 1]), rgb[..., 2]) < saturation_code
    seed = lab[seed_mask & unsat].reshape(-1, 1, 3)
    if len(seed) < min_seed_pixels:
        raise ValueError(f"seed_mask has {len(seed)} unsaturated pixels, need at least {min_seed_pixels}")

    def features(p: np.ndarray, hue: np.ndarray) -> list[np.ndarray]:
        """L* + 16 and the chroma along / across ``hue`` (times L* + 16), each p.shape[:-1]."""
        m = np.array([[1, 0, 0, 16], [0, hue[0], hue[1], 0], [0, -hue[1], hue[0], 0]], np.float32)
        return list(cv2.split(cv2.transform(p, m)))

    def model(p: np.ndarray) -> tuple[np.ndarray, list[float]]:
        ab = np.median(p[:, 0, 1:], axis=0)
        if np.hypot(*ab) < 2.0:  # skin has C* ≥ ~5 even at ITA -80°
            raise ValueError(f"the seed region has no chroma (median a*, b* = {ab[0]:.1f}, {ab[1]:.1f}): "
                             "it does not look like skin")
        hue = ab / float(np.hypot(*ab))
        lp, u, v = (x.ravel() for x in features(p, hue))
        (l0, sl), (u0, _), (v0, sv) = _robust(lp), _robust(u / lp), _robust(v / lp)
        return hue, [l0 - max(k_sigma * sl, min_darker), l0 + max(k_sigma * sl, min_brighter),
                     u0 * chroma_ratio[0], u0 * chroma_ratio[1], v0, k_sigma * sv, np.tan(np.deg2rad(max_hue_deg))]

    def test(p: np.ndarray, hue: np.ndarray, lim: list[float]) -> np.ndarray:
        lp, u, v = features(p, hue)
        return ((lp >= lim[0]) & (lp <= lim[1]) & (u >= lim[2] * lp) & (u <= lim[3] * lp)
                & (np.abs(v - lim[4] * lp) <= np.maximum(lim[5] * lp, lim[6] * u)))

    hue, lim = model(seed)  # first pass; then again on the seed pixels that pass (drops hair in the seed)
    kept = seed[test(seed, hue, lim)[:, 0]]
    if len(kept) >= min_seed_pixels:
        hue, lim = model(kept)
    return test(np.ascontiguousarray(lab), hue, lim) & unsat


def ita_deg(lab: np.ndarray, mask: np.ndarray, *, drop_brightest: float = 0.05, min_pixels: int = 100) -> float:
    """Individual Typology Angle of the masked skin, degrees.

    ``ITA = atan2(median L* - 50, median b*) * 180 / π`` over the mask, after dropping pixels with
    an sRGB channel ≥ 250 and the brightest ``drop_brightest`` fraction of L* (specular highlights).

    Parameters
    ----------
    lab : ndarray, shape (H, W, 3), float
        CIELAB (:func:`srgb_to_lab`).
    mask : ndarray, shape (H, W), bool
        Skin to measure, e.g. cheeks and forehead, skin pixels only.
    drop_brightest : float
        In [0, 0.5).
    min_pixels : int
        Fewest pixels left after the drops; fewer raise ValueError (as do wrong shapes).

    Returns
    -------
    ita : float
        Degrees; in (-90, 90] when the median b* ≥ 0.
    """
    lab = np.asarray(lab)
    if lab.ndim != 3 or lab.shape[2] != 3:
        raise ValueError(f"lab must be an (H, W, 3) CIELAB image, got shape {lab.shape}")
    if not 0.0 <= drop_brightest < 0.5:
        raise ValueError(f"drop_brightest must be in [0, 0.5), got {drop_brightest}")
    p = lab[_check_mask(mask, lab.shape, "mask")].astype(np.float64)
    p = p[_lab_to_linear(p).max(axis=1) < _decode_lut()[249:251].mean()]  # no channel at code ≥ 250
    if len(p) * (1.0 - drop_brightest) < min_pixels:
        raise ValueError(f"too few skin pixels for ITA: {len(p)} unsaturated pixels in the mask, "
                         f"need at least {int(np.ceil(min_pixels / (1.0 - drop_brightest)))}")
    p = p[p[:, 0] <= np.quantile(p[:, 0], 1.0 - drop_brightest)]
    return float(np.degrees(np.arctan2(np.median(p[:, 0]) - 50.0, np.median(p[:, 2]))))


def _chardon(ita: float) -> tuple[str, str]:
    if not np.isfinite(ita):
        raise ValueError(f"ITA must be a finite number of degrees, got {ita}")
    return next((cat, fitz) for low, cat, fitz in CHARDON if ita > low)


def ita_category(ita: float) -> str:
    """Chardon category of an ITA (degrees): > 55 "very light", (41, 55] "light", (28, 41]
    "intermediate", (10, 28] "tan", (-30, 10] "brown", ≤ -30 "dark" (boundaries go to the darker)."""
    return _chardon(float(ita))[0]


def fitzpatrick_from_ita(ita: float) -> str:
    """Fitzpatrick type estimated from ITA: the Chardon categories mapped to "I" … "VI" in order.

    A weak proxy: from ordinary, uncalibrated photos it is within one type of an expert's label
    in only ~46–53 % of clinical images (r ≈ 0.57, vs 0.84–0.86 between experts); with colour
    calibration much better (ICC ≈ 0.93). A reported type always wins (:func:`skin_tone`).
    """
    return _chardon(float(ita))[1]


@dataclass(frozen=True)
class SkinTone:
    """Skin tone of a subject: ``ita_deg`` (degrees, None if not measured), its Chardon
    ``category`` (or None), ``fitzpatrick`` "I" … "VI" and ``fitzpatrick_source``: "reported"
    (by the clinic), "estimated" (from ITA, a weak proxy) or "not measured" (no skin to measure
    and none reported; ``fitzpatrick`` is then None)."""

    ita_deg: float | None
    category: str | None
    fitzpatrick: str | None
    fitzpatrick_source: str  # "reported" | "estimated" | "not measured"


def skin_tone(ita: float | None, reported: str | None = None) -> SkinTone:
    """Combine a measured ITA (degrees or None) with a reported Fitzpatrick type; the reported type wins.

    Raises ValueError when ``reported`` is not one of "I" … "VI" (case and surrounding spaces
    ignored) or when there is neither an ITA nor a reported type.
    """
    category = None if ita is None else ita_category(ita)
    if reported is not None:
        fitz = reported.strip().upper() if isinstance(reported, str) else None
        if fitz not in FITZPATRICK_TYPES:
            raise ValueError(f"reported Fitzpatrick type must be one of {', '.join(FITZPATRICK_TYPES)}, "
                             f"got {reported!r}")
        return SkinTone(None if ita is None else float(ita), category, fitz, "reported")
    if ita is None:
        raise ValueError("need a measured ITA or a reported Fitzpatrick type")
    return SkinTone(float(ita), category, fitzpatrick_from_ita(ita), "estimated")
