"""The wrinkle U-Net in torch, for training and export (``outcomes/features/wrinkle_model.py`` runs the export).

A compact U-Net mapping :func:`~outcomes.features.wrinkle_cnn.cnn_input` to per-pixel
wrinkle logits. Only the training code imports this module (and torch).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_WIDTHS = (16, 32, 64, 96)


def _block(c_in: int, c_out: int, first: type[nn.Conv2d] = nn.Conv2d) -> nn.Sequential:
    return nn.Sequential(
        first(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class _SkipConv(nn.Conv2d):
    """A decoder's first convolution, over the upsampled features and the skip concatenated.

    Called as ``conv(up, skip)``; parameters and state-dict keys are those of a plain
    ``Conv2d`` (weights saved before this class existed load unchanged).
    """

    def forward(self, up: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(torch.cat([up, skip], dim=1))


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
        # not while tracing for ONNX export: sizes are symbolic there (the inference code checks them)
        if not torch.jit.is_tracing() and (x.ndim != 4 or x.shape[1] != self.in_channels
                                           or x.shape[2] % self.stride or x.shape[3] % self.stride):
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


class TorchLogits:
    """A torch network as the callable :func:`~outcomes.features.wrinkle_cnn.predict_logits` runs.

    Parameters
    ----------
    model : nn.Module
        Maps ``(N, C, H, W)`` to ``(N, 1, H, W)`` logits and has a ``stride``.
    device : str
    """

    def __init__(self, model: nn.Module, device: str = "cpu") -> None:
        self.model, self.device, self.stride = model, device, int(model.stride)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            # channels-last: the layout training keeps the weights in
            patch = torch.from_numpy(np.ascontiguousarray(x)).to(self.device).contiguous(
                memory_format=torch.channels_last)
            return self.model(patch).float().cpu().numpy()
