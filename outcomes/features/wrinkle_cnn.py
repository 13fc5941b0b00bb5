"""Wrinkle CNN inference: a compact U-Net mapping a face photo to per-pixel wrinkle probability.

The network sees the photo at a fixed face scale (``WORK_IPD`` px between the pupils), as
three channels of log linear-light RGB minus the local mean of log luminance (Gaussian
σ = ``CONTEXT_REL_IPD`` × IPD). Exposure, white balance and skin tone scale linear light,
so in log space they are offsets that this subtraction removes; hue survives, so brown
macules and red patches stay distinguishable from grey-brown creases. Inference runs in
overlapping tiles over the region of interest only and returns probabilities at the
photo's own resolution.

The network itself is an ONNX file run by onnxruntime
(:mod:`outcomes.features.wrinkle_model`); its torch definition, used only for training and
export, is :mod:`outcomes.training.unet`. This module needs neither torch nor onnxruntime:
it runs any callable that maps ``(N, C, H, W)`` float32 inputs to logits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np

from outcomes.color import _decode_lut

if TYPE_CHECKING:
    from outcomes.features.wrinkle_model import WrinkleCNN

# A network: (N, C, H, W) float32 → (N, 1, H, W) logits, with H and W multiples of its ``stride``.
LogitsFunction = Callable[[np.ndarray], np.ndarray]

WORK_IPD = 200.0  # px between the pupils at which the network sees a face
CONTEXT_REL_IPD = 0.05  # σ of the local log-luminance mean subtracted from the input
_LOG_EPS = 2e-3  # linear-light floor before the log (as the classical detector)
_INPUT_GAIN = 4.0  # log units → roughly unit variance on skin texture
_TILE = 1024  # largest inference tile (px at WORK_IPD; a whole face at IPD 200 fits in one), a multiple of 8
_TILE_MARGIN = 32  # context discarded at each tile edge


def cnn_input(rgb: np.ndarray) -> np.ndarray:
    """The network's input for an RGB image already at ``WORK_IPD``.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8

    Returns
    -------
    x : ndarray, shape (3, H, W), float32
        ``4 * (log(c + 0.002) - G_σ * log(Y + 0.002))`` for linear R, G, B; Y is linear
        luminance and σ = ``CONTEXT_REL_IPD * WORK_IPD`` px.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be an (H, W, 3) uint8 image, got shape {rgb.shape} dtype {rgb.dtype}")
    lin = _decode_lut().astype(np.float32)[rgb]
    log_rgb = np.log(lin + _LOG_EPS)
    log_y = np.log(lin @ np.array([0.2126, 0.7152, 0.0722], dtype=np.float32) + _LOG_EPS)
    sigma = CONTEXT_REL_IPD * WORK_IPD
    local = cv2.GaussianBlur(log_y, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    return np.ascontiguousarray(np.moveaxis(_INPUT_GAIN * (log_rgb - local[..., None]), 2, 0), dtype=np.float32)


def _tiling(n: int, tile: int, margin: int, stride: int) -> tuple[int, int]:
    """``(tile, core)`` along one axis: one tile when the axis fits, else ``tile``-sized ones."""
    if n + 2 * margin <= tile:
        size = -(-(n + 2 * margin) // stride) * stride
        return size, size - 2 * margin
    return tile, tile - 2 * margin


def predict_logits(model: LogitsFunction, x: np.ndarray, tile: int = _TILE, margin: int = _TILE_MARGIN,
                   keep: np.ndarray | None = None) -> np.ndarray:
    """Logits for a whole preprocessed image, in overlapping tiles of at most ``tile`` px.

    An axis that fits in one tile (with ``margin`` of mirrored context each side) is not
    split; longer axes are cut into tiles whose outer ``margin`` px are discarded, so each
    output pixel sees the same context as in a whole-image pass.

    Parameters
    ----------
    model : callable with a ``stride`` attribute
        A :class:`~outcomes.features.wrinkle_model.WrinkleCNN`, or a torch network wrapped
        by :class:`~outcomes.training.unet.TorchLogits`.
    x : ndarray, shape (C, H, W), float32
        Output of :func:`cnn_input`.
    keep : ndarray, shape (H, W), bool, optional
        Tiles whose core holds no True pixel are skipped (their logits stay at -20).

    Returns
    -------
    logits : ndarray, shape (H, W), float32
    """
    s = model.stride
    if tile % s or margin % s or tile <= 2 * margin:
        raise ValueError(f"tile ({tile}) and margin ({margin}) must be multiples of {s} with tile > 2 * margin")
    _, h, w = x.shape
    (tile_h, core_h), (tile_w, core_w) = _tiling(h, tile, margin, s), _tiling(w, tile, margin, s)
    ny, nx = -(-h // core_h), -(-w // core_w)
    padded = np.pad(x, ((0, 0), (margin, ny * core_h - h + margin), (margin, nx * core_w - w + margin)),
                    mode="reflect")
    out = np.full((ny * core_h, nx * core_w), -20.0, dtype=np.float32)
    for i in range(ny):
        for j in range(nx):
            y0, x0 = i * core_h, j * core_w
            if keep is not None and not keep[y0:y0 + core_h, x0:x0 + core_w].any():
                continue
            patch = np.ascontiguousarray(padded[None, :, y0:y0 + tile_h, x0:x0 + tile_w])
            out[y0:y0 + core_h, x0:x0 + core_w] = model(patch)[0, 0, margin:margin + core_h, margin:margin + core_w]
    return out[:h, :w]


def wrinkle_probability(cnn: WrinkleCNN, rgb: np.ndarray, ipd_px: float, roi: np.ndarray | None = None,
                        mirror_average: bool = False) -> np.ndarray:
    """Per-pixel wrinkle probability of one photo.

    Parameters
    ----------
    cnn : WrinkleCNN
    rgb : ndarray, shape (H, W, 3), uint8
    ipd_px : float
        Inter-pupil distance in this photo, px (sets the working scale).
    roi : ndarray, shape (H, W), bool, optional
        Where to look; the network runs on its bounding box (plus 0.1 IPD of context) and
        the result is 0 outside it.
    mirror_average : bool
        Also run the network on the left-right mirror image and average the two logits
        (test-time augmentation; training mirrors patches too). Twice the network time.

    Returns
    -------
    probability : ndarray, shape (H, W), float32 in [0, 1]
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be an (H, W, 3) uint8 image, got shape {rgb.shape} dtype {rgb.dtype}")
    if not (isinstance(ipd_px, (int, float, np.number)) and np.isfinite(ipd_px) and ipd_px > 0):
        raise ValueError(f"ipd_px must be a positive finite number, got {ipd_px!r}")
    h, w = rgb.shape[:2]
    if roi is not None and (roi.shape != (h, w) or roi.dtype != bool):
        raise ValueError(f"roi must be a bool array of shape {(h, w)}, got {roi.shape} {roi.dtype}")
    out = np.zeros((h, w), dtype=np.float32)
    if roi is not None and not roi.any():
        return out
    pad = int(round(0.1 * ipd_px))
    if roi is None:
        y0, y1, x0, x1 = 0, h, 0, w
    else:
        rows, cols = np.flatnonzero(roi.any(axis=1)), np.flatnonzero(roi.any(axis=0))
        y0, y1 = max(rows[0] - pad, 0), min(rows[-1] + pad + 1, h)
        x0, x1 = max(cols[0] - pad, 0), min(cols[-1] + pad + 1, w)
    crop = rgb[y0:y1, x0:x1]
    scale = WORK_IPD / float(ipd_px)
    size = (max(8, round(crop.shape[1] * scale)), max(8, round(crop.shape[0] * scale)))
    work = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    keep = None
    if roi is not None:
        keep = cv2.resize(roi[y0:y1, x0:x1].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    x = cnn_input(work)
    logits = predict_logits(cnn, x, keep=keep)
    if mirror_average:
        # The input filter is a symmetric blur with mirrored borders, so the mirrored photo's
        # input is the mirrored input.
        mirrored = predict_logits(cnn, np.ascontiguousarray(x[:, :, ::-1]),
                                  keep=None if keep is None else np.ascontiguousarray(keep[:, ::-1]))
        logits = 0.5 * (logits + mirrored[:, ::-1])
    prob = 1.0 / (1.0 + np.exp(-logits))
    prob = cv2.resize(prob, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    out[y0:y1, x0:x1] = np.clip(prob, 0.0, 1.0)
    if roi is not None:
        out[~roi] = 0.0
    return out
