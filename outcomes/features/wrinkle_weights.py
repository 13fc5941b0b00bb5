"""Wrinkle CNN weight files: the format, saving, and checksum-verified loading for inference.

Weights are a ``torch.save`` dict (format ``WEIGHTS_FORMAT``: architecture plus state dict),
verified against an expected sha256 and read with ``weights_only=True``; a wrong checksum or
a foreign file is a :class:`~outcomes.errors.ModelError` naming the file, never a silent
fallback to untrained weights. On CPU the network runs in 8-bit integers when the weights
carry int8 activation scales (``outcomes.features.wrinkle_int8``).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from outcomes.config import CNN_PRECISIONS
from outcomes.errors import ModelError
from outcomes.features.wrinkle_cnn import WrinkleUNet, prepare_for_inference
from outcomes.io import file_sha256

WEIGHTS_FORMAT = "outcomes.wrinkle_unet/1"


@dataclass(frozen=True, eq=False)
class WrinkleCNN:
    """A loaded wrinkle network and where it came from.

    Attributes
    ----------
    model : nn.Module
        The inference network on ``device``: a :class:`~outcomes.features.wrinkle_cnn.WrinkleUNet` prepared for inference,
        or its int8 counterpart; both map ``(N, 3, H, W)`` inputs to ``(N, 1, H, W)`` logits.
    path : Path
        The weights file.
    sha256 : str
        Its verified checksum.
    device : str
        ``"cpu"`` or ``"cuda"``.
    metadata : dict
        Extra entries saved with the weights (e.g. training config hash).
    precision : str
        ``"float32"`` or ``"int8"``: how the network computes.
    """

    model: nn.Module
    path: Path
    sha256: str
    device: str
    metadata: dict = field(default_factory=dict)
    precision: str = "float32"

    def describe(self) -> dict[str, str]:
        return {"wrinkle-cnn": f"{self.path.name} sha256:{self.sha256} {self.precision}"}


def pick_device(device: str = "auto") -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is present, else ``"cpu"``."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' was requested but torch sees no CUDA GPU")
    return device


def save_wrinkle_weights(model: WrinkleUNet, path: str | Path, metadata: dict | None = None) -> str:
    """Write weights (float32 on CPU) plus architecture; return the file's sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.detach().cpu()
             for k, v in model.state_dict().items()}
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({"format": WEIGHTS_FORMAT, "arch": model.arch(), "state_dict": state,
                "metadata": dict(metadata or {})}, tmp)
    tmp.replace(path)
    return file_sha256(path)


_CONFIGURED_MODEL = "set wrinkles.cnn_sha256 to the model card's sha256 after retraining"


def read_wrinkle_unet(path: str | Path, sha256: str | None, device: str = "cpu",
                      setting: str = _CONFIGURED_MODEL) -> tuple[WrinkleUNet, dict, str]:
    """The trainable network stored in a weights file, after checking its checksum.

    Parameters
    ----------
    path : str or Path
        Weights written by :func:`save_wrinkle_weights`.
    sha256 : str or None
        Expected checksum (hex); ``None`` skips the check.
    device : {"cpu", "cuda"}
    setting : str
        What to change when the checksum differs (ends the error message).

    Returns
    -------
    model : WrinkleUNet
        In training form (batch norm not folded), on ``device``.
    metadata : dict
        Extra entries saved with the weights.
    sha256 : str
        The file's actual checksum.

    Raises
    ------
    ModelError
        Missing file, checksum mismatch (names the file and both checksums), unreadable or
        foreign file, or weights that do not fit the architecture they declare.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: wrinkle CNN weights not found")
    data = path.read_bytes()  # read once: the bytes checked are the bytes loaded
    actual = hashlib.sha256(data).hexdigest()
    if sha256 is not None and actual != sha256.lower():
        raise ModelError(f"{path}: sha256 is {actual}, expected {sha256} — the weights file is corrupt or is not "
                         f"the configured model ({setting})")
    try:
        blob = torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except Exception as exc:  # pickle, zip and tensor errors all mean the same here
        raise ModelError(f"{path}: not a readable torch weights file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(blob, dict) or blob.get("format") != WEIGHTS_FORMAT:
        found = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise ModelError(f"{path}: expected weights format {WEIGHTS_FORMAT!r}, found {found!r}")
    arch = blob.get("arch") or {}
    try:
        model = WrinkleUNet(tuple(arch["widths"]), int(arch["in_channels"]))
        model.load_state_dict(blob["state_dict"], strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{path}: weights do not match the declared architecture {arch}: {exc}") from exc
    return model.to(device), dict(blob.get("metadata") or {}), actual


def load_wrinkle_cnn(path: str | Path, sha256: str | None, device: str = "auto",
                     precision: str = "auto") -> WrinkleCNN:
    """Load verified weights for inference; never falls back to untrained ones.

    Parameters
    ----------
    path : str or Path
        Weights written by :func:`save_wrinkle_weights`.
    sha256 : str or None
        Expected checksum (hex). ``None`` skips the check: only for weights a training run
        has just written.
    device : {"auto", "cpu", "cuda"}
    precision : {"auto", "int8", "float32"}
        ``"auto"``: int8 on CPU when the weights carry int8 activation scales, else float32.

    Raises
    ------
    ModelError
        As :func:`read_wrinkle_unet`, or int8 asked for where it cannot run (no stored
        scales, a CUDA device, a torch without the engine).
    """
    if precision not in CNN_PRECISIONS:
        raise ValueError(f"precision must be one of {list(CNN_PRECISIONS)}, got {precision!r}")
    path = Path(path)
    dev = pick_device(device)
    model, metadata, actual = read_wrinkle_unet(path, sha256, dev)
    model = prepare_for_inference(model)
    chosen = _pick_precision(precision, dev, metadata, path)
    if chosen == "int8":
        from outcomes.features.wrinkle_int8 import QPARAMS_KEY, quantize_unet

        try:
            model = quantize_unet(model, metadata[QPARAMS_KEY])
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{path}: unusable int8 activation scales ({exc})") from exc
    return WrinkleCNN(model=model, path=path, sha256=actual, device=dev, metadata=metadata, precision=chosen)


def _pick_precision(precision: str, device: str, metadata: dict, path: Path) -> str:
    from outcomes.features.wrinkle_int8 import QPARAMS_KEY, int8_available

    if precision == "float32":
        return "float32"
    calibrated = QPARAMS_KEY in metadata
    if precision == "auto":
        return "int8" if device == "cpu" and calibrated and int8_available() else "float32"
    if device != "cpu":
        raise ModelError(f"{path}: int8 inference runs on the CPU only, but the device is {device!r} "
                         "(set wrinkles.cnn_precision to auto or float32)")
    if not calibrated:
        raise ModelError(f"{path}: int8 was requested but these weights carry no int8 activation scales "
                         f"(metadata {QPARAMS_KEY!r}; add them with scripts/calibrate_wrinkle_int8.py, "
                         "or set wrinkles.cnn_precision to float32)")
    if not int8_available():
        raise ModelError(f"{path}: int8 was requested but this torch build has no x86 quantized engine")
    return "int8"
