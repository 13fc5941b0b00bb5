"""dlib's face-recognition ResNet, read from its model file and run with numpy.

dlib's own runner (``face_recognition_model_v1``) computes the network with
its built-in convolution and holds Python's global interpreter lock for the
whole ~85 ms; the same arithmetic as matrix products in numpy (whose BLAS
releases the lock) takes ~20 ms on two cores and lets the baseline's
embedding run beside the follow-up's other stages. The outputs equal dlib's to
float32 rounding (``tests/test_dlib_resnet.py`` compares them), so the
distances and the 0.6 operating point of :mod:`outcomes.identity` are
unchanged.

The file is dlib's serialisation of the network of its
``dnn_face_recognition_ex`` example (a 29-convolution ResNet on a 150×150
chip, 128 outputs): layer records in forward order, each a type string
(``con_4``, ``affine_``, ``relu_``, ``max_pool_2``, ``avg_pool_2``,
``add_prev_``, ``fc_2``) followed by its settings and a float32 tensor. The
residual topology (tag and skip layers) is not stored as records; it is the
example's: after the stem, blocks of ``con affine relu con affine
[avg_pool] add_prev relu``, where ``avg_pool`` marks a down-sampling block
whose shortcut is the block's input pooled 2×2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from outcomes.errors import ModelError

_RECORD = re.compile(rb"\x01([\x03-\x20])(input_rgb_image_sized|con_4|affine_|relu_|max_pool_2|avg_pool_2|"
                     rb"add_prev_|fc_2)")
EXPECTED_COUNTS = {"conv": 29, "affine": 29, "relu": 29, "add": 14, "avgpool": 5, "maxpool": 1, "fc": 1}


@dataclass(frozen=True)
class Layer:
    """One layer record: its kind (``input``, ``conv``, ``affine``, ``relu``, ``maxpool``,
    ``avgpool``, ``add``, ``fc``) and its settings and weights."""

    kind: str
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FaceResNet:
    """The network's layers in forward order, as read from the model file.

    Pure numpy on read-only weights: :meth:`embed` may run from several threads at once.
    """

    layers: tuple[Layer, ...]

    @property
    def chip_size(self) -> tuple[int, int]:
        return self.layers[0].settings["size"]

    def embed(self, chip: np.ndarray) -> np.ndarray:
        """The 128-d embedding of an aligned face chip.

        Parameters
        ----------
        chip : ndarray, shape (150, 150, 3), uint8
            RGB face chip from ``dlib.get_face_chip`` (150 px, padding 0.25).

        Returns
        -------
        ndarray, shape (128,), float32
            What dlib's ``compute_face_descriptor`` returns for the chip.
        """
        size = self.chip_size
        if chip.shape != (*size, 3) or chip.dtype != np.uint8:
            raise ValueError(f"face chip must be uint8 of shape {(*size, 3)}, got {chip.dtype} {chip.shape}")
        mean = np.asarray(self.layers[0].settings["mean"], np.float32)
        x = ((chip.astype(np.float32) - mean) / np.float32(256.0)).transpose(2, 0, 1)  # C, H, W
        block_input = shortcut = None
        for position, layer in enumerate(self.layers[1:], start=1):
            if layer.kind == "conv" and _starts_block(self.layers, position):
                block_input = x
            s = layer.settings
            if layer.kind == "conv":
                x = _conv(x, s["weights"], s["bias"], s["stride"], s["padding"])
            elif layer.kind == "affine":
                x = x * s["gamma"][:, None, None] + s["beta"][:, None, None]
            elif layer.kind == "relu":
                x = np.maximum(x, np.float32(0))
            elif layer.kind == "maxpool":
                x = _pool(x, s["size"], s["stride"], np.max)
            elif layer.kind == "avgpool" and s["size"] == (0, 0):  # dlib's avg_pool_everything
                x = x.mean(axis=(1, 2))
            elif layer.kind == "avgpool":
                shortcut = _pool(block_input, s["size"], s["stride"], np.mean)
            elif layer.kind == "add":
                x = _add_zero_padded(x, block_input if shortcut is None else shortcut)
                shortcut = None
            elif layer.kind == "fc":
                x = x @ s["weights"]
        return x.astype(np.float32)


def read_face_resnet(data: bytes) -> FaceResNet:
    """Read dlib's serialised face-recognition network (the ``.dat`` file's bytes).

    Raises
    ------
    ModelError
        The bytes are not that network (a layer count or a shape differs, or a record is cut short).
    """
    layers = []
    for match in _RECORD.finditer(data):
        name = match.group(2)
        if match.group(1)[0] != len(name):
            continue  # the bytes only look like a record's name
        try:
            layers.append(_read_record(name.decode(), data, match.end()))
        except (ValueError, IndexError) as exc:  # a record cut short
            raise ModelError(f"dlib network file: the {name.decode()} record at byte {match.start()} "
                             f"cannot be read ({exc}); the file is cut short or not dlib's") from exc
    counts = {kind: sum(layer.kind == kind for layer in layers) for kind in EXPECTED_COUNTS}
    if not layers or layers[0].kind != "input" or counts != EXPECTED_COUNTS or layers[-1].kind != "fc":
        raise ModelError(f"not dlib's face-recognition ResNet: layer counts {counts}, expected {EXPECTED_COUNTS}")
    return FaceResNet(layers=tuple(layers))


def _starts_block(layers: tuple[Layer, ...], position: int) -> bool:
    """A convolution right after the stem's pooling or after a block's closing relu opens a block."""
    before = layers[position - 1].kind
    return before == "maxpool" or (before == "relu" and layers[position - 2].kind == "add")


def _conv(x: np.ndarray, weights: np.ndarray, bias: np.ndarray, stride: tuple[int, int],
          padding: tuple[int, int]) -> np.ndarray:
    """Cross-correlation as one matrix product (im2col); x (C, H, W), weights (F, C, kh, kw)."""
    filters, channels, kh, kw = weights.shape
    if padding != (0, 0):
        x = np.pad(x, ((0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    windows = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, :: stride[0], :: stride[1]]
    out_h, out_w = windows.shape[1:3]
    columns = np.ascontiguousarray(windows.transpose(0, 3, 4, 1, 2)).reshape(channels * kh * kw, out_h * out_w)
    return (weights.reshape(filters, -1) @ columns).reshape(filters, out_h, out_w) + bias[:, None, None]


def _pool(x: np.ndarray, size: tuple[int, int], stride: tuple[int, int], reduce) -> np.ndarray:  # noqa: ANN001
    windows = sliding_window_view(x, size, axis=(1, 2))[:, :: stride[0], :: stride[1]]
    return reduce(windows, axis=(3, 4))


def _add_zero_padded(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """dlib's add_prev: the sum over the larger of each dimension, the smaller tensor padded with zeros.

    A down-sampling block's strided convolution and its pooled shortcut can differ by one
    row and column (3×3 against 4×4 at 8 px), and the shortcut has half the channels.
    """
    out = np.zeros(tuple(max(p, q) for p, q in zip(a.shape, b.shape)), np.float32)
    out[: a.shape[0], : a.shape[1], : a.shape[2]] += a
    out[: b.shape[0], : b.shape[1], : b.shape[2]] += b
    return out


# dlib's serialisation of numbers ------------------------------------------------------------


def _read_int(data: bytes, at: int) -> tuple[int, int]:
    """A packed integer: one byte (count of magnitude bytes, 0x80 if negative), then little-endian bytes."""
    head = data[at]
    size = head & 0x0F
    value = int.from_bytes(data[at + 1: at + 1 + size], "little")
    return (-value if head & 0x80 else value), at + 1 + size


def _read_ints(data: bytes, at: int, count: int) -> tuple[list[int], int]:
    values = []
    for _ in range(count):
        value, at = _read_int(data, at)
        values.append(value)
    return values, at


def _read_float(data: bytes, at: int) -> tuple[float, int]:
    """A float as dlib writes scalars: packed integer mantissa, then packed integer exponent of 2."""
    mantissa, at = _read_int(data, at)
    exponent, at = _read_int(data, at)
    return mantissa * 2.0 ** exponent, at


def _read_tensor(data: bytes, at: int) -> tuple[np.ndarray, int]:
    """A tensor: version 2, four packed dimensions, then little-endian float32 values."""
    (version, *dims), at = _read_ints(data, at, 5)
    if version != 2:
        raise ModelError(f"dlib tensor of serialisation version {version}; only version 2 is read")
    count = int(np.prod(dims))
    values = np.frombuffer(data, dtype="<f4", count=count, offset=at).astype(np.float32)
    values.flags.writeable = False  # shared by threads running the network
    return values, at + 4 * count


def _read_record(name: str, data: bytes, at: int) -> Layer:
    if name == "input_rgb_image_sized":
        mean = []
        for _ in range(3):
            value, at = _read_float(data, at)
            mean.append(value)
        (rows, cols), at = _read_ints(data, at, 2)
        return Layer("input", {"mean": tuple(mean), "size": (rows, cols)})
    if name == "con_4":
        params, at = _read_tensor(data, at)
        (filters, rows, cols, stride_y, stride_x, pad_y, pad_x), at = _read_ints(data, at, 7)
        channels = (params.size - filters) // (filters * rows * cols)
        n_weights = filters * channels * rows * cols
        if n_weights + filters != params.size:
            raise ModelError(f"con_4 record: {params.size} values do not make {filters} filters of {rows}×{cols}")
        return Layer("conv", {"weights": params[:n_weights].reshape(filters, channels, rows, cols),
                              "bias": params[n_weights:], "stride": (stride_y, stride_x), "padding": (pad_y, pad_x)})
    if name == "affine_":
        params, at = _read_tensor(data, at)
        half = params.size // 2
        return Layer("affine", {"gamma": params[:half], "beta": params[half:]})
    if name in ("max_pool_2", "avg_pool_2"):
        (rows, cols, stride_y, stride_x, pad_y, pad_x), at = _read_ints(data, at, 6)
        if (pad_y, pad_x) != (0, 0):
            raise ModelError(f"{name} record with padding {(pad_y, pad_x)}; the network has none")
        return Layer("maxpool" if name == "max_pool_2" else "avgpool",
                     {"size": (rows, cols), "stride": (stride_y, stride_x)})
    if name == "fc_2":
        (outputs, inputs), at = _read_ints(data, at, 2)
        params, at = _read_tensor(data, at)
        if params.size != inputs * outputs:
            raise ModelError(f"fc_2 record: {params.size} values for {inputs}×{outputs} weights (no bias expected)")
        return Layer("fc", {"weights": params.reshape(inputs, outputs)})
    return Layer({"relu_": "relu", "add_prev_": "add"}[name])
