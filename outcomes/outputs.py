"""Output files of a command: checked before any work, written all together or not at all.

A command names its outputs (``--json``, ``--report``...) and its inputs. Before it loads a
model, :func:`check_outputs` refuses, in one line each, an output that is one of the
inputs, an existing folder or anything but a regular file (a device, a pipe), one whose
folder is a file or cannot be written, or two outputs on one path. Afterwards
:func:`commit_outputs` writes every output to a temporary file beside it and only when
all are written renames them into place; if any write fails, the temporary files are
removed and no output, new or existing, is touched. A file that is not one of the
command's outputs is never written or removed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from outcomes.errors import OutputPathError


@dataclass(frozen=True)
class Output:
    """One output: the option that named it and where it goes."""

    option: str
    path: Path


def shown(path: str | Path) -> str:
    """A path as it may be printed: control characters and odd bytes escaped (a name may hold anything)."""
    text = os.fsdecode(os.fspath(path))
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def check_outputs(outputs: Mapping[str, str | Path | None], inputs: Mapping[str, str | Path]) -> list[Output]:
    """The outputs that were given, after checking each can be written without harm.

    Parameters
    ----------
    outputs : mapping
        Option name (``--json``) → path, or None when the option was not given.
    inputs : mapping
        Input name (``BEFORE``) → path.

    Raises
    ------
    OutputPathError
        The first output that is an input, a folder or not a regular file, whose folder is a
        file or not writable, or that another output also names.
    """
    for option, path in outputs.items():
        if path is not None and not str(path).strip():
            raise OutputPathError(f"{option}: an empty file name; give a file name", code="usage")
    given = [Output(option, Path(path)) for option, path in outputs.items() if path is not None]
    seen: dict[Path, str] = {}
    for out in given:
        try:
            _check_one(out, inputs, seen)
        except OSError as exc:  # a name too long, a folder that cannot be searched
            raise OutputPathError(f"{out.option} {shown(out.path)}: cannot be used as an output "
                                  f"({exc.strerror or exc})") from None
    return given


def _check_one(out: Output, inputs: Mapping[str, str | Path], seen: dict[Path, str]) -> None:
    """One output against the inputs and the outputs seen so far (``seen``: path → option)."""
    where = f"{out.option} {shown(out.path)}"
    key = _identity(out.path)
    if key in seen:
        raise OutputPathError(f"{where}: also given as {seen[key]}; each output needs its own file")
    seen[key] = out.option
    for name, source in inputs.items():
        if _same_file(out.path, Path(source)):
            raise OutputPathError(f"{where}: is the input {name}; it would be overwritten — choose another name")
    if out.path.is_symlink() and not out.path.exists():
        raise OutputPathError(f"{where}: is a link to nothing; give a plain file name")
    if out.path.exists():
        if out.path.is_dir():
            raise OutputPathError(f"{where}: is a folder; give a file name")
        if not out.path.is_file():
            raise OutputPathError(f"{where}: is not a regular file (a device or pipe); give a file name")
    folder = _nearest_existing(out.path.parent)
    if not folder.is_dir():
        raise OutputPathError(f"{where}: {shown(folder)} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"{where}: the folder {shown(folder)} cannot be written")


def commit_outputs(writers: Mapping[Output, Callable[[], bytes]]) -> None:
    """Produce every output's bytes, write them beside their targets, then rename all into place.

    Raises
    ------
    OutputPathError
        A write failed (disk full, permissions changed): nothing was left behind and no
        existing file was changed.
    """
    staged: list[tuple[Path, Output]] = []
    try:
        for out, produce in writers.items():
            data = produce()
            tmp = out.path.parent / f".{out.path.name}.{secrets.token_hex(8)}.tmp"
            try:
                out.path.parent.mkdir(parents=True, exist_ok=True)
                with open(tmp, "xb") as f:
                    staged.append((tmp, out))
                    f.write(data)
            except OSError as exc:
                raise OutputPathError(f"{out.option} {shown(out.path)}: cannot write ({exc.strerror or exc})") \
                    from None
        for tmp, out in staged:
            try:
                os.replace(tmp, out.path)
            except OSError as exc:  # rare after the checks (a file of another user in a sticky folder)
                raise OutputPathError(f"{out.option} {shown(out.path)}: cannot replace the file "
                                      f"({exc.strerror or exc})") from None
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise


def _identity(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return _identity(a) == _identity(b)


def _nearest_existing(folder: Path) -> Path:
    folder = folder if str(folder) else Path(".")
    while not folder.exists() and folder != folder.parent:
        if folder.is_symlink():  # a dangling link where a folder should be
            return folder
        folder = folder.parent
    return folder
