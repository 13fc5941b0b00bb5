"""Where model files are found, and the check that a file is the configured one.

A model is named in a configuration by its file name (``wrinkle_unet.int8.onnx``) and
pinned by its sha256. The file is looked up along a search path:

1. each folder in ``$OUTCOMES_MODELS_DIR`` (several separated by ``os.pathsep``),
2. the ``models`` folder inside the installed package,
3. for a relative path with folders (``models/visible_swa4/wrinkle_unet.onnx``), the
   working folder.

An absolute path is used as given. Whatever is found is refused unless its sha256 is the
configured one, so a search path can never swap in another model silently.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from outcomes.errors import ModelError

MODELS_DIR_ENV = "OUTCOMES_MODELS_DIR"


def package_models_dir() -> Path:
    """The folder of models shipped inside the package."""
    return Path(__file__).resolve().parent / "models"


def search_path() -> list[Path]:
    """Folders searched for a model file named by a relative path, first match wins."""
    extra = [Path(p).expanduser() for p in os.environ.get(MODELS_DIR_ENV, "").split(os.pathsep) if p.strip()]
    return [*extra, package_models_dir()]


def find_model_file(name: str | Path, setting: str) -> Path:
    """The file a configured model name or path refers to.

    Parameters
    ----------
    name : str or Path
        A file name or relative path (searched, see the module docstring) or an absolute path.
    setting : str
        The configuration key or option the name came from, for the error message.

    Raises
    ------
    ModelError
        Nothing by that name along the search path (the message lists the folders tried).
    """
    path = Path(name).expanduser()
    if path.is_absolute():
        if path.is_file():
            return path
        raise ModelError(f"{path}: model file not found ({setting})", code="model_not_found")
    tried = search_path()
    for folder in tried:
        if (folder / path).is_file():
            return folder / path
    if len(path.parts) > 1 and path.is_file():
        return path.resolve()
    folders = ", ".join(str(f) for f in tried)
    raise ModelError(f"{path}: model file not found in {folders} (set {MODELS_DIR_ENV} to a folder that holds it, "
                     f"or give an absolute path in {setting})", code="model_not_found")


def read_verified(path: Path, sha256: str | None, setting: str) -> tuple[bytes, str]:
    """The file's bytes and sha256, refused unless the sha256 is the expected one.

    The bytes checked are the bytes returned: a file replaced between a check and a
    load cannot slip through.

    Raises
    ------
    ModelError
        Unreadable file, or a checksum that differs (the message names both).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model file ({exc.strerror or exc})", code="model_unreadable") from None
    actual = hashlib.sha256(data).hexdigest()
    if sha256 is not None and actual != sha256.lower():
        raise ModelError(f"{path}: sha256 is {actual}, expected {sha256} — the file is corrupt or is not the "
                         f"configured model ({setting})", code="model_checksum")
    return data, actual


def model_card(name: str | Path, setting: str) -> dict:
    """The JSON model card beside a model file: ``NAME.card.json`` for ``NAME.onnx`` or ``NAME.int8.onnx``.

    Raises
    ------
    ModelError
        No model file by that name, or no readable card beside it.
    """
    import json

    path = find_model_file(name, setting)
    stem = path.name.split(".")[0]
    card = path.with_name(f"{stem}.card.json")
    try:
        return json.loads(card.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{card}: no readable model card beside {path.name} ({exc})", code="model_invalid") from None
