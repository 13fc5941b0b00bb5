"""Lighting changes (exposure, white balance, tone) applied in linear sRGB."""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _decode_lut() -> np.ndarray:
    """Linear-light value of every 8-bit sRGB code, shape (256,), float64 in [0, 1]."""
    c = np.arange(256, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _encode_exact(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0.0, 1.0)
    enc = np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(v, 1.0 / 2.4) - 0.055)
    return np.clip(np.rint(enc * 255.0), 0, 255).astype(np.uint8)


@lru_cache(maxsize=1)
def _encode_lut() -> np.ndarray:
    """8-bit sRGB code of linear values k / 65535, shape (65536,), uint8."""
    return _encode_exact(np.arange(65536, dtype=np.float64) / 65535.0)


def srgb_to_linear(image: np.ndarray) -> np.ndarray:
    """Decode 8-bit sRGB to linear light.

    Parameters
    ----------
    image : ndarray of uint8, any shape

    Returns
    -------
    linear : ndarray, same shape, float64 in [0, 1]
    """
    return _decode_lut()[np.asarray(image, dtype=np.uint8)]


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Encode linear light to 8-bit sRGB (clipped to [0, 1], rounded).

    Uses a 16-bit lookup table (linear values quantised to 1/65535, which
    can move a value lying within ~0.05 code of a rounding boundary by one
    code); decoding then encoding any 8-bit code returns it exactly.

    Parameters
    ----------
    linear : ndarray of float, any shape

    Returns
    -------
    image : ndarray of uint8, same shape
    """
    v = np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0)
    return _encode_lut()[np.rint(v * 65535.0).astype(np.intp)]


def change_lighting(
    image: np.ndarray,
    *,
    exposure_stops: float = 0.0,
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0),
    gamma: float = 1.0,
) -> np.ndarray:
    """Change exposure, white balance and tone of an RGB image.

    In linear sRGB: ``out = clip(lin * 2**exposure_stops * gain_c, 0, 1) ** gamma``,
    then re-encoded to sRGB.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8
        RGB image.
    exposure_stops : float
        Exposure change in photographic stops (+1 doubles linear light).
    white_balance : (float, float, float)
        Per-channel linear gains for R, G, B (dimensionless).
    gamma : float
        Power applied to the clipped linear values (1 = no tone change;
        > 1 darkens mid-tones).

    Returns
    -------
    out : ndarray, shape (H, W, 3), uint8
    """
    gains = np.asarray(white_balance, dtype=np.float64).reshape(3)
    if exposure_stops == 0.0 and np.all(gains == 1.0) and gamma == 1.0:
        return np.array(image, dtype=np.uint8, copy=True)
    # The change is per channel and per code, so it is exactly a (3, 256) lookup.
    lin = np.clip(_decode_lut()[None, :] * (2.0**exposure_stops) * gains[:, None], 0.0, 1.0)
    lut = _encode_exact(lin**gamma if gamma != 1.0 else lin)
    img = np.asarray(image, dtype=np.uint8)
    return np.stack([lut[c][img[..., c]] for c in range(3)], axis=-1)


def random_lighting(
    rng: np.random.Generator,
    *,
    max_stops: float = 0.5,
    max_wb: float = 0.08,
    max_gamma: float = 0.0,
) -> dict:
    """Draw random keyword arguments for :func:`change_lighting`.

    Parameters
    ----------
    rng : numpy.random.Generator
    max_stops : float
        Exposure change uniform in ``±max_stops`` stops.
    max_wb : float
        Each channel gain uniform in ``[1 - max_wb, 1 + max_wb]``.
    max_gamma : float
        Gamma uniform in ``[1 - max_gamma, 1 + max_gamma]`` (default 0: gamma 1,
        no random draw).

    Returns
    -------
    params : dict
        ``exposure_stops`` (float), ``white_balance`` (tuple of 3 floats),
        ``gamma`` (float); plain Python numbers, JSON-serialisable.
    """
    stops = float(rng.uniform(-max_stops, max_stops))
    gains = tuple(float(g) for g in rng.uniform(1.0 - max_wb, 1.0 + max_wb, size=3))
    gamma = float(rng.uniform(1.0 - max_gamma, 1.0 + max_gamma)) if max_gamma > 0 else 1.0
    return {"exposure_stops": stops, "white_balance": gains, "gamma": gamma}


def side_light(image: np.ndarray, anchors, strength: float) -> np.ndarray:  # noqa: ANN001 - mapping
    """Light from one side: linear light scaled by a ramp across the face.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8
        RGB photo.
    anchors : mapping of str to [x, y]
        Must hold ``right_pupil`` and ``left_pupil`` (px).
    strength : float
        Gain change at 1.5 inter-pupil distances from the face's midline, towards the
        subject's left (``+0.1``: 10 % more light there, 10 % less on the right side);
        constant beyond.

    Returns
    -------
    lit : ndarray, shape (H, W, 3), uint8
    """
    from .geometry import face_frame

    centre, ex, _, ipd = face_frame(anchors)
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    u = ((xx - centre[0]) * ex[0] + (yy - centre[1]) * ex[1]) / (1.5 * ipd)
    gain = 1.0 + strength * np.clip(u, -1.0, 1.0)
    return linear_to_srgb(srgb_to_linear(image) * gain[..., None])
