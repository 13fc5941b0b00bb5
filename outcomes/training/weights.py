"""Wrinkle U-Net weight files in torch form: saving and checksum-verified reading (training only).

Weights are a ``torch.save`` dict (format ``WEIGHTS_FORMAT``: architecture plus state dict),
verified against an expected sha256 and read with ``weights_only=True``; a wrong checksum or
a foreign file is a :class:`~outcomes.errors.ModelError` naming the file. Inference never
reads these: it runs the ONNX export (``outcomes.training.export``).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch

from outcomes.errors import ModelError
from outcomes.io import file_sha256
from outcomes.training.unet import WrinkleUNet

WEIGHTS_FORMAT = "outcomes.wrinkle_unet/1"


def pick_device(device: str = "auto") -> str:
    """``"auto"`` → ``"cuda"`` when a GPU is present, else ``"cpu"``."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' was requested but torch sees no CUDA GPU", code="model_device")
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
