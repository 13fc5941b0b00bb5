"""The wrinkle CNN for inference: an ONNX network run by onnxruntime (no torch).

The training code (``outcomes train wrinkles``, ``outcomes.training.export``) writes the
network as ONNX twice: float32, and int8 (weights per output channel, activations per
tensor, quantize/dequantize nodes) with scales from validation images. On CPU the int8
file runs by default; on CUDA (``onnxruntime-gpu``'s CUDA provider) the float32 one.

Thread safety: ``InferenceSession.run`` may be called from several threads at once
(onnxruntime documents sessions as thread-safe for ``run``), so one loaded
:class:`WrinkleCNN` serves every thread of a process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from outcomes.config import CNN_PRECISIONS, WrinkleConfig
from outcomes.errors import ModelError
from outcomes.model_store import find_model_file, read_verified

INPUT_NAME = "input"  # (N, 3, H, W) float32, cnn_input of a photo at the working scale
OUTPUT_NAME = "logits"  # (N, 1, H, W) float32
STRIDE_KEY = "stride"  # ONNX metadata: H and W must be multiples of it
_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"


@dataclass(frozen=True, eq=False)
class WrinkleCNN:
    """A loaded wrinkle network and where it came from.

    Call it with a ``(N, 3, H, W)`` float32 array (H and W multiples of ``stride``) to get
    ``(N, 1, H, W)`` logits.

    Attributes
    ----------
    session : onnxruntime.InferenceSession
    path : Path
        The ONNX file.
    sha256 : str
        Its verified checksum.
    device : str
        ``"cpu"`` or ``"cuda"``.
    precision : str
        ``"int8"`` or ``"float32"``.
    stride : int
        Total downsampling of the network.
    metadata : dict
        The ONNX file's metadata (training config hash, source weights' sha256...).
    """

    session: object
    path: Path
    sha256: str
    device: str
    precision: str
    stride: int
    metadata: dict = field(default_factory=dict)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 4 or x.dtype != np.float32 or x.shape[2] % self.stride or x.shape[3] % self.stride:
            raise ValueError(f"expected (N, C, H, W) float32 with H and W multiples of {self.stride}, "
                             f"got {x.shape} {x.dtype}")
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: np.ascontiguousarray(x)})[0]

    def describe(self) -> dict[str, str]:
        """Provenance: the model file's name → its sha256 (the name says float32 or int8)."""
        return {self.path.name: self.sha256}


def available_providers() -> list[str]:
    import onnxruntime

    return list(onnxruntime.get_available_providers())


def pick_device(device: str = "auto") -> str:
    """``"auto"`` → ``"cuda"`` when onnxruntime has its CUDA provider, else ``"cpu"``."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    has_cuda = _CUDA in available_providers()
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    if device == "cuda" and not has_cuda:
        raise ModelError("device 'cuda' was requested but onnxruntime has no CUDA provider "
                         "(install onnxruntime-gpu instead of onnxruntime)", code="model_device")
    return device


def load_wrinkle_cnn(path: str | Path, sha256: str | None, device: str = "auto", precision: str = "float32",
                     threads: int = 0) -> WrinkleCNN:
    """Load a verified ONNX wrinkle network; never falls back to another one.

    Parameters
    ----------
    path : str or Path
        An ONNX file written by ``outcomes.training.export``.
    sha256 : str or None
        Expected checksum (hex). ``None`` skips the check: only for a file a training run
        has just written.
    device : {"auto", "cpu", "cuda"}
    precision : {"float32", "int8"}
        What the file holds (recorded in provenance; checked against its metadata).
    threads : int
        onnxruntime intra-op threads; 0 lets it choose (one per core).

    Raises
    ------
    ModelError
        Missing, unreadable or foreign file, checksum mismatch, a file whose precision is
        not the expected one, or CUDA asked for without the provider.
    """
    import onnxruntime

    path = Path(path)
    setting = "set wrinkles.cnn_sha256 / cnn_int8_sha256 to the model card's sha256 after retraining"
    if not path.is_file():
        raise ModelError(f"{path}: wrinkle CNN model not found", code="model_not_found")
    data, actual = read_verified(path, sha256, setting)
    dev = pick_device(device)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: onnxruntime's notices are not the user's business
    # Idle intra-op threads sleep instead of spinning: between network calls the pipeline's
    # own work (OpenCV, numpy) needs the cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = [_CUDA, _CPU] if dev == "cuda" else [_CPU]
    try:
        session = onnxruntime.InferenceSession(data, options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ModelError(f"{path}: not a loadable ONNX model ({type(exc).__name__}: {exc})",
                         code="model_invalid") from None
    if dev == "cuda" and _CUDA not in session.get_providers():  # the provider is there but no GPU answered
        dev = "cpu"
    meta = dict(session.get_modelmeta().custom_metadata_map)
    inputs, outputs = [i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()]
    if inputs != [INPUT_NAME] or OUTPUT_NAME not in outputs or STRIDE_KEY not in meta:
        raise ModelError(f"{path}: not a wrinkle CNN export (inputs {inputs}, outputs {outputs}, "
                         f"metadata keys {sorted(meta)})", code="model_invalid")
    stored = meta.get("precision", "float32")
    if stored != precision:
        raise ModelError(f"{path}: holds a {stored} network, but {precision} was configured", code="model_invalid")
    return WrinkleCNN(session=session, path=path, sha256=actual, device=dev, precision=precision,
                      stride=int(meta[STRIDE_KEY]), metadata=meta)


def load_configured_cnn(config: WrinkleConfig, threads: int = 0) -> WrinkleCNN | None:
    """The configured wrinkle CNN, or None when the detector is classical.

    ``cnn_precision: auto`` takes the int8 file on CPU when one is configured, float32
    otherwise (and on CUDA).
    """
    if config.detector == "classical":
        return None
    if config.cnn_precision not in CNN_PRECISIONS:
        raise ValueError(f"cnn_precision must be one of {list(CNN_PRECISIONS)}, got {config.cnn_precision!r}")
    device = pick_device(config.device)
    precision = config.cnn_precision
    if precision == "auto":
        precision = "int8" if device == "cpu" and config.cnn_int8_weights else "float32"
    if precision == "int8":
        if not config.cnn_int8_weights:
            raise ModelError("wrinkles.cnn_precision is int8 but no wrinkles.cnn_int8_weights is configured",
                             code="config_invalid")
        path = find_model_file(config.cnn_int8_weights, "wrinkles.cnn_int8_weights")
        return load_wrinkle_cnn(path, config.cnn_int8_sha256, device, "int8", threads)
    path = find_model_file(config.cnn_weights, "wrinkles.cnn_weights; set wrinkles.detector: classical to run "
                           "without the CNN")
    return load_wrinkle_cnn(path, config.cnn_sha256, device, "float32", threads)
