"""8-bit integer inference for the wrinkle U-Net on CPU.

The float network spends its time in 3×3 convolutions over 16–96 channels, where oneDNN's
float kernels reach well under half of the CPU's peak. With weights quantized per output
channel and activations per tensor (static quantization, PyTorch's ``x86`` engine), the
same network runs about twice as fast on one core (``benchmarks/wrinkle_cnn.py``).

Activation scales cannot come from the photo being measured (a result would then depend on
the photo's own range), so they are calibrated once, on held-out training renders, when a
model is exported; :func:`calibrate_int8` computes them and the weights file stores them
(metadata ``int8_qparams``). :func:`quantize_unet` rebuilds the same integer network from
the float weights and those stored numbers, with no data, so every load gives the same
network.

What stays in float, and why:

- the bilinear 2× upsampling: PyTorch's quantized kernel for it is slower than
  dequantize → float upsample → quantize (it took half the int8 network's time);
- the 1×1 head: it sets the logits, whose fine steps decide the 0.5 threshold, and costs
  almost nothing.

PyTorch marks its eager-mode quantization API as deprecated in favour of torchao, which is
not a dependency here; torch is pinned, and the tests check the integer network against the
float one on real faces, so a future torch that drops the API fails the tests, not silently.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.ao.nn.quantized import FloatFunctional

from outcomes.features.wrinkle_cnn import WrinkleUNet

QPARAMS_KEY = "int8_qparams"  # weights metadata entry: {activation name: [scale, zero_point]}
_ENGINE = "x86"
# 7-bit activations (0..127): the x86 engine's default, which cannot overflow the 16-bit
# intermediate sums of CPUs without VNNI; these weights must run on any x86 CPU.
_ACT_QMIN, _ACT_QMAX = 0, 127


def _quant_api():  # noqa: ANN202 - the torch.ao.quantization module
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the deprecation notice (module docstring)
        import torch.ao.quantization as tq
    return tq


def int8_available() -> bool:
    """True when this torch build has the ``x86`` quantized engine."""
    return _ENGINE in torch.backends.quantized.supported_engines


class _Int8UNet(nn.Module):
    """The float U-Net's layers arranged for eager-mode static quantization.

    Built from a :class:`WrinkleUNet` whose batch norms are folded (``prepare_for_inference``).
    Each decoder's first convolution is split at the skip concatenation (as in the float
    inference network), so the concatenation becomes a quantized ``add_relu``.
    """

    def __init__(self, folded: WrinkleUNet) -> None:
        super().__init__()
        tq = _quant_api()
        self.stride, self.widths, self.in_channels = folded.stride, folded.widths, folded.in_channels
        self.quant = tq.QuantStub()
        self.encoder = nn.ModuleList()
        for block in folded.encoder:
            convs = [layer for layer in block if isinstance(layer, nn.Conv2d)]
            self.encoder.append(nn.Sequential(*(_conv_relu(c) for c in convs)))
        self.up_float = nn.ModuleList()
        self.up_quant = nn.ModuleList()
        self.from_up = nn.ModuleList()
        self.from_skip = nn.ModuleList()
        self.join = nn.ModuleList()
        self.decoder_rest = nn.ModuleList()
        widths = folded.widths
        for level, block in enumerate(folded.decoder):
            first, rest = block[0], [layer for layer in list(block)[1:] if isinstance(layer, nn.Conv2d)]
            up_channels = widths[len(widths) - 1 - level]
            weight = first.weight.detach().contiguous()
            from_up = nn.Conv2d(up_channels, first.out_channels, 3, padding=1, bias=True)
            from_skip = nn.Conv2d(weight.shape[1] - up_channels, first.out_channels, 3, padding=1, bias=False)
            from_up.weight.data = weight[:, :up_channels].clone()
            from_up.bias.data = first.bias.detach().clone()
            from_skip.weight.data = weight[:, up_channels:].clone()
            self.from_up.append(from_up)
            self.from_skip.append(from_skip)
            self.join.append(FloatFunctional())
            self.up_float.append(tq.DeQuantStub())
            self.up_quant.append(tq.QuantStub())
            self.decoder_rest.append(nn.Sequential(*(_conv_relu(c) for c in rest)))
        self.to_float = tq.DeQuantStub()
        self.head = copy.deepcopy(folded.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[2] % self.stride or x.shape[3] % self.stride:
            raise ValueError(f"expected (N, C, H, W) with H, W multiples of {self.stride}, got {tuple(x.shape)}")
        x = self.quant(x)
        skips = []
        for i, block in enumerate(self.encoder):
            x = block(F.max_pool2d(x, 2) if i else x)
            skips.append(x)
        for level, skip in enumerate(reversed(skips[:-1])):
            up = F.interpolate(self.up_float[level](x), scale_factor=2.0, mode="bilinear", align_corners=False)
            up = self.up_quant[level](up)
            x = self.join[level].add_relu(self.from_up[level](up), self.from_skip[level](skip))
            x = self.decoder_rest[level](x)
        return self.head(self.to_float(x))


def _conv_relu(conv: nn.Conv2d) -> nn.Module:
    """Convolution and ReLU as one module: quantized, one kernel with one output scale."""
    from torch.ao.nn.intrinsic import ConvReLU2d

    return ConvReLU2d(copy.deepcopy(conv), nn.ReLU())


def _activation_points(net: _Int8UNet) -> dict[str, nn.Module]:
    """Modules whose (quantized) output needs a scale: name → module, in a fixed order."""
    points = {"quant": net.quant}
    for group in ("encoder", "decoder_rest"):
        for i, block in enumerate(getattr(net, group)):
            for j, module in enumerate(block):
                points[f"{group}.{i}.{j}"] = module
    for level in range(len(net.join)):
        points[f"up_quant.{level}"] = net.up_quant[level]
        points[f"from_up.{level}"] = net.from_up[level]
        points[f"from_skip.{level}"] = net.from_skip[level]
        points[f"join.{level}"] = net.join[level]
    return points


def _weight_observer():  # noqa: ANN202
    return _quant_api().default_per_channel_weight_observer


def calibrate_int8(model: WrinkleUNet, inputs: Iterable[np.ndarray]) -> dict[str, list[float]]:
    """Activation scales for :func:`quantize_unet`, from representative network inputs.

    Parameters
    ----------
    model : WrinkleUNet
        Prepared for inference (batch norm folded); not modified.
    inputs : iterable of ndarray, shape (3, H, W), float32
        Outputs of :func:`~outcomes.features.wrinkle_cnn.cnn_input` on faces the network was
        not trained on, H and W multiples of ``model.stride`` (cropped if not).

    Returns
    -------
    qparams : dict
        Activation name → ``[scale, zero_point]``, JSON-serialisable.
    """
    tq = _quant_api()
    net = _Int8UNet(_float_copy(model)).eval()
    observer = tq.HistogramObserver.with_args(dtype=torch.quint8, quant_min=_ACT_QMIN, quant_max=_ACT_QMAX)
    qconfig = tq.QConfig(activation=observer, weight=_weight_observer())
    for module in _activation_points(net).values():
        module.qconfig = qconfig
    _mark_dequantize(net, qconfig)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = tq.prepare(net, inplace=False)
    seen = 0
    s = model.stride
    with torch.inference_mode():
        for x in inputs:
            x = np.asarray(x, dtype=np.float32)
            if x.ndim != 3 or x.shape[0] != model.in_channels:
                raise ValueError(f"calibration inputs must be ({model.in_channels}, H, W), got {x.shape}")
            h, w = x.shape[1] // s * s, x.shape[2] // s * s
            if h == 0 or w == 0:
                raise ValueError(f"calibration input {x.shape} is smaller than the network's stride {s}")
            prepared(torch.from_numpy(np.ascontiguousarray(x[None, :, :h, :w])))
            seen += 1
    if seen == 0:
        raise ValueError("calibrate_int8 needs at least one input")
    qparams = {}
    for name, module in _activation_points(prepared).items():
        scale, zero_point = module.activation_post_process.calculate_qparams()
        qparams[name] = [float(scale.item()), int(zero_point.item())]
    return qparams


def quantize_unet(model: WrinkleUNet, qparams: dict) -> nn.Module:
    """The int8 network for ``model`` with stored activation scales (no data needed).

    Parameters
    ----------
    model : WrinkleUNet
        Prepared for inference (batch norm folded); not modified.
    qparams : dict
        From :func:`calibrate_int8` for these weights.

    Returns
    -------
    net : nn.Module
        Same input and output contract as ``model`` (float in, float logits out), CPU only.

    Raises
    ------
    ValueError
        ``qparams`` does not name exactly the network's activation points, or holds
        a non-positive scale or a zero point outside 0..127.
    RuntimeError
        This torch build lacks the ``x86`` quantized engine.
    """
    if not int8_available():
        raise RuntimeError(f"this torch build has no {_ENGINE!r} quantized engine "
                           f"(has {torch.backends.quantized.supported_engines})")
    tq = _quant_api()
    net = _Int8UNet(_float_copy(model)).eval()
    points = _activation_points(net)
    if not isinstance(qparams, dict) or set(qparams) != set(points):
        found = sorted(qparams) if isinstance(qparams, dict) else type(qparams).__name__
        raise ValueError(f"int8 activation scales must name {sorted(points)}, got {found}")
    for name, module in points.items():
        scale, zero_point = qparams[name]
        if not (np.isfinite(scale) and scale > 0 and _ACT_QMIN <= int(zero_point) <= _ACT_QMAX):
            raise ValueError(f"int8 activation {name!r}: scale {scale} must be > 0 and zero point {zero_point} "
                             f"in {_ACT_QMIN}..{_ACT_QMAX}")
        fixed = tq.FixedQParamsObserver.with_args(scale=float(scale), zero_point=int(zero_point), dtype=torch.quint8,
                                                  quant_min=_ACT_QMIN, quant_max=_ACT_QMAX)
        module.qconfig = tq.QConfig(activation=fixed, weight=_weight_observer())
    _mark_dequantize(net, tq.QConfig(activation=tq.PlaceholderObserver, weight=_weight_observer()))
    torch.backends.quantized.engine = _ENGINE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tq.convert(tq.prepare(net, inplace=False), inplace=False).eval()


def _mark_dequantize(net: _Int8UNet, qconfig) -> None:  # noqa: ANN001
    """Eager-mode convert swaps only stubs that carry a qconfig (any will do for a dequantize)."""
    for stub in (*net.up_float, net.to_float):
        stub.qconfig = qconfig


def _float_copy(model: WrinkleUNet) -> WrinkleUNet:
    if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        raise ValueError("quantize a model prepared for inference (batch norm folded: prepare_for_inference)")
    return copy.deepcopy(model).to("cpu", memory_format=torch.contiguous_format).eval()
