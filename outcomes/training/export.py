"""Export of a trained wrinkle U-Net to ONNX, float32 and int8, for inference without torch.

The float32 file is the network as trained (batch norm folded by onnxruntime when it loads
it). The int8 file is onnxruntime's static quantization of it: weights int8 per output
channel, activations uint8 per tensor with min-max ranges from calibration images
(validation images, never test), as quantize/dequantize pairs around each convolution.
:mod:`outcomes.features.wrinkle_model` runs either.
"""

from __future__ import annotations

import contextlib
import copy
import tempfile
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from outcomes.features.wrinkle_cnn import cnn_input
from outcomes.features.wrinkle_model import INPUT_NAME, OUTPUT_NAME, STRIDE_KEY, load_wrinkle_cnn
from outcomes.io import file_sha256
from outcomes.training.metrics import evaluate
from outcomes.training.unet import WrinkleUNet

OPSET = 17
INT8_SCHEME = ("onnxruntime static quantization (QDQ): weights int8 per output channel, activations uint8 per "
               "tensor with min-max ranges from validation images; used on CPU when wrinkles.cnn_precision is "
               "auto or int8")


def _set_metadata(path: Path, metadata: dict) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in sorted(metadata.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = str(key), str(value)
    onnx.save(model, str(path))


def export_onnx(model: WrinkleUNet, path: str | Path, metadata: dict | None = None) -> str:
    """Write the float32 network as ONNX (any N, H, W; H and W multiples of its stride).

    Parameters
    ----------
    model : WrinkleUNet
        Not modified (a CPU copy in eval mode is exported).
    path : str or Path
    metadata : dict, optional
        Stored as the file's metadata (values as strings) with ``stride`` and ``precision``.

    Returns
    -------
    sha256 : str
        Of the written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = copy.deepcopy(model).to("cpu").float().eval()
    example = torch.zeros(1, net.in_channels, 8 * net.stride, 8 * net.stride)
    axes = {0: "batch", 2: "height", 3: "width"}
    tmp = path.with_name(f".{path.name}.tmp")
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter is the one that needs no onnxscript; its deprecation notice is not news
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (example,), str(tmp), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes}, opset_version=OPSET, dynamo=False)
    _set_metadata(tmp, {**(metadata or {}), STRIDE_KEY: net.stride, "precision": "float32",
                        "architecture": net.arch()})
    tmp.replace(path)
    return file_sha256(path)


class _Calibration:
    """onnxruntime's calibration reader over preprocessed images, padded to the stride."""

    def __init__(self, inputs: Iterable[np.ndarray], stride: int) -> None:
        self._inputs = iter(inputs)
        self._stride = stride

    def get_next(self) -> dict | None:
        x = next(self._inputs, None)
        if x is None:
            return None
        _, h, w = x.shape
        pad_h, pad_w = -h % self._stride, -w % self._stride
        x = np.pad(x, ((0, 0), (0, pad_h), (0, pad_w)), mode="reflect")
        return {INPUT_NAME: np.ascontiguousarray(x[None], dtype=np.float32)}


def quantize_int8(float_path: str | Path, path: str | Path, calibration: Iterable[np.ndarray],
                  stride: int, metadata: dict | None = None) -> str:
    """Write the int8 version of an exported float32 network.

    Parameters
    ----------
    float_path : str or Path
        Written by :func:`export_onnx`.
    path : str or Path
        The int8 file.
    calibration : iterable of ndarray, shape (3, H, W), float32
        :func:`~outcomes.features.wrinkle_cnn.cnn_input` of calibration images.
    stride : int
    metadata : dict, optional

    Returns
    -------
    sha256 : str
    """
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    path, float_path = Path(path).resolve(), Path(float_path).resolve()
    tmp = path.with_name(f".{path.name}.tmp")
    # onnxruntime's quantization tools leave scratch files in the working folder: give them their own
    with tempfile.TemporaryDirectory() as tmp_dir, contextlib.chdir(tmp_dir):
        prepared = Path(tmp_dir) / "prepared.onnx"
        # shapes are symbolic (any H, W): onnx's own shape inference is enough here
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(tmp), _Calibration(calibration, stride), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    _set_metadata(tmp, {**(metadata or {}), STRIDE_KEY: stride, "precision": "int8"})
    tmp.replace(path)
    return file_sha256(path)


def export_for_inference(model: WrinkleUNet, out_dir: str | Path, name: str, metadata: dict,
                         calibration: list, scored: dict[str, list], thresholds: tuple[float, ...]) -> dict:
    """Write ``name.onnx`` and, with calibration images, ``name.int8.onnx``; score the int8 one.

    Parameters
    ----------
    model : WrinkleUNet
    out_dir : str or Path
    name : str
        File stem, e.g. ``wrinkle_unet``.
    metadata : dict
        Stored in both files (training config hash, data fingerprint...).
    calibration : list of WrinkleSample
        Validation images for the int8 ranges; empty: no int8 file.
    scored : dict
        Split name → samples the int8 network is scored on (as the float one in the card).
    thresholds : tuple of float

    Returns
    -------
    dict
        For the model card: ``{"float32": {"file", "sha256"}, "int8": {...} or {"available": False}}``.
    """
    out_dir = Path(out_dir)
    float_path = out_dir / f"{name}.onnx"
    section = {"opset": OPSET, "float32": {"file": float_path.name,
                                           "sha256": export_onnx(model, float_path, metadata)}}
    if not calibration:
        section["int8"] = {"available": False}
        return section
    t0 = time.perf_counter()
    int8_path = out_dir / f"{name}.int8.onnx"
    sha = quantize_int8(float_path, int8_path, (cnn_input(s.image) for s in calibration), model.stride, metadata)
    network = load_wrinkle_cnn(int8_path, sha, "cpu", "int8")
    metrics = {split: evaluate(network, samples, "cpu", thresholds) for split, samples in scored.items() if samples}
    section["int8"] = {"available": True, "file": int8_path.name, "sha256": sha, "scheme": INT8_SCHEME,
                       "calibration_images": [s.name for s in calibration], "metrics": metrics,
                       "seconds": round(time.perf_counter() - t0, 1)}
    return section
