"""Wrinkle CNN: a compact U-Net mapping a face photo to per-pixel wrinkle probability.

The network sees the photo at a fixed face scale (``WORK_IPD`` px between the pupils), as
three channels of log linear-light RGB minus the local mean of log luminance (Gaussian
σ = ``CONTEXT_REL_IPD`` × IPD). Exposure, white balance and skin tone scale linear light,
so in log space they are offsets that this subtraction removes; hue survives, so brown
macules and red patches stay distinguishable from grey-brown creases. Inference runs in
overlapping tiles over the region of interest only and returns probabilities at the
photo's own resolution.

Weight files (checksum-verified loading, int8 choice) are :mod:`outcomes.features.wrinkle_weights`.
This module imports torch; the rest of the core imports it only when a CNN is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from outcomes.color import _decode_lut

if TYPE_CHECKING:
    from outcomes.features.wrinkle_weights import WrinkleCNN

WORK_IPD = 200.0  # px between the pupils at which the network sees a face
CONTEXT_REL_IPD = 0.05  # σ of the local log-luminance mean subtracted from the input
DEFAULT_WIDTHS = (16, 32, 64, 96)
_LOG_EPS = 2e-3  # linear-light floor before the log (as the classical detector)
_INPUT_GAIN = 4.0  # log units → roughly unit variance on skin texture
_TILE = 1024  # largest inference tile (px at WORK_IPD; a whole face at IPD 200 fits in one), a multiple of 8
_TILE_MARGIN = 32  # context discarded at each tile edge


def _block(c_in: int, c_out: int, first: type[nn.Conv2d] = nn.Conv2d) -> nn.Sequential:
    return nn.Sequential(
        first(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class _SkipConv(nn.Conv2d):
    """A decoder's first convolution, over the upsampled features and the skip concatenated.

    Called as ``conv(up, skip)``. Once :meth:`split_weights` has run (inference), it
    computes ``conv_up(up) + conv_skip(skip)`` instead: the same sum without building
    the concatenation, which in channels-last layout costs a tenth of the network's
    CPU time. Parameters and state-dict keys are those of a plain ``Conv2d``.
    """

    _halves: tuple[torch.Tensor, torch.Tensor] | None = None

    def split_weights(self, up_channels: int) -> None:
        layout = torch.channels_last
        w = self.weight.detach()
        self._halves = (w[:, :up_channels].contiguous(memory_format=layout),
                        w[:, up_channels:].contiguous(memory_format=layout))

    def forward(self, up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if self._halves is None or self.training:
            return super().forward(torch.cat([up, skip], dim=1))
        w_up, w_skip = self._halves
        out = F.conv2d(up, w_up, self.bias, padding=self.padding)
        return out.add_(F.conv2d(skip, w_skip, None, padding=self.padding))


class WrinkleUNet(nn.Module):
    """U-Net: ``len(widths)`` levels, max-pool down, bilinear up, skip concatenation.

    Input ``(N, in_channels, H, W)`` with H and W multiples of ``2 ** (len(widths) - 1)``;
    output ``(N, 1, H, W)`` logits.
    """

    def __init__(self, widths: tuple[int, ...] = DEFAULT_WIDTHS, in_channels: int = 3) -> None:
        super().__init__()
        if len(widths) < 2 or any(int(w) < 1 for w in widths):
            raise ValueError(f"widths must list at least 2 positive channel counts, got {widths!r}")
        self.widths, self.in_channels = tuple(int(w) for w in widths), int(in_channels)
        self.encoder = nn.ModuleList()
        c = self.in_channels
        for w in self.widths:
            self.encoder.append(_block(c, w))
            c = w
        self.decoder = nn.ModuleList(_block(self.widths[i] + self.widths[i - 1], self.widths[i - 1], _SkipConv)
                                     for i in range(len(self.widths) - 1, 0, -1))
        self.head = nn.Conv2d(self.widths[0], 1, 1)

    @property
    def stride(self) -> int:
        return 2 ** (len(self.widths) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels or x.shape[2] % self.stride or x.shape[3] % self.stride:
            raise ValueError(f"expected (N, {self.in_channels}, H, W) with H, W multiples of {self.stride}, "
                             f"got {tuple(x.shape)}")
        skips = []
        for i, block in enumerate(self.encoder):
            x = block(F.max_pool2d(x, 2) if i else x)
            skips.append(x)
        for block, skip in zip(self.decoder, reversed(skips[:-1])):
            # Exactly 2x (H, W are multiples of the stride); a scale factor, rather than the
            # target size, takes torch's faster path with the same result.
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = block[1:](block[0](x, skip))
        return self.head(x)

    def arch(self) -> dict:
        return {"name": "WrinkleUNet", "widths": list(self.widths), "in_channels": self.in_channels}


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


def prepare_for_inference(model: WrinkleUNet) -> WrinkleUNet:
    """Eval mode, batch norm folded into the convolutions, channels-last memory layout,
    decoder convolutions split at the skip concatenation.

    The same function up to float rounding (≈1e-5 in the logits); about 2.1× faster on
    CPU, where oneDNN's convolutions prefer channels-last. Not for training: the folded
    network has no batch-norm layers left.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model.eval()
    for block in (*model.encoder, *model.decoder):
        layers = list(block)
        for i in range(len(layers) - 1):
            if isinstance(layers[i], nn.Conv2d) and isinstance(layers[i + 1], nn.BatchNorm2d):
                block[i] = fuse_conv_bn_eval(layers[i], layers[i + 1])
                block[i + 1] = nn.Identity()
    model = model.to(memory_format=torch.channels_last)
    for level, block in enumerate(model.decoder):
        block[0].split_weights(up_channels=model.widths[len(model.widths) - 1 - level])
    return model


def _tiling(n: int, tile: int, margin: int, stride: int) -> tuple[int, int]:
    """``(tile, core)`` along one axis: one tile when the axis fits, else ``tile``-sized ones."""
    if n + 2 * margin <= tile:
        size = -(-(n + 2 * margin) // stride) * stride
        return size, size - 2 * margin
    return tile, tile - 2 * margin


def predict_logits(model: nn.Module, x: np.ndarray, device: str = "cpu", tile: int = _TILE,
                   margin: int = _TILE_MARGIN, keep: np.ndarray | None = None) -> np.ndarray:
    """Logits for a whole preprocessed image, in overlapping tiles of at most ``tile`` px.

    An axis that fits in one tile (with ``margin`` of mirrored context each side) is not
    split; longer axes are cut into tiles whose outer ``margin`` px are discarded, so each
    output pixel sees the same context as in a whole-image pass.

    Parameters
    ----------
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
    with torch.inference_mode():
        for i in range(ny):
            for j in range(nx):
                y0, x0 = i * core_h, j * core_w
                if keep is not None and not keep[y0:y0 + core_h, x0:x0 + core_w].any():
                    continue
                patch = torch.from_numpy(padded[None, :, y0:y0 + tile_h, x0:x0 + tile_w]).to(device).contiguous(
                    memory_format=torch.channels_last)  # the layout the loaded model's weights are in
                logits = model(patch)[0, 0, margin:margin + core_h, margin:margin + core_w]
                out[y0:y0 + core_h, x0:x0 + core_w] = logits.float().cpu().numpy()
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
    logits = predict_logits(cnn.model, x, cnn.device, keep=keep)
    if mirror_average:
        # The input filter is a symmetric blur with mirrored borders, so the mirrored photo's
        # input is the mirrored input.
        mirrored = predict_logits(cnn.model, np.ascontiguousarray(x[:, :, ::-1]), cnn.device,
                                  keep=None if keep is None else np.ascontiguousarray(keep[:, ::-1]))
        logits = 0.5 * (logits + mirrored[:, ::-1])
    prob = 1.0 / (1.0 + np.exp(-logits))
    prob = cv2.resize(prob, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    out[y0:y1, x0:x1] = np.clip(prob, 0.0, 1.0)
    if roi is not None:
        out[~roi] = 0.0
    return out
