"""The CLI's error contract, run as a real subprocess on bad inputs.

A command that cannot do its job exits non-zero with ONE line on stderr that
names the input at fault and what is wrong with it, prints no traceback, and
leaves no output file behind (see the project's CONTRACT.md).

Real faces come from the shared data folder (env ``OUTCOMES_SHARED_DATA``,
default ``<repo>/../shared/data``); cases that need one skip without it.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import outcomes

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("OUTCOMES_SHARED_DATA", REPO.parent / "shared" / "data"))
HUGE_SIDE = 20_000
HEAVY_MODULES = ("cv2", "mediapipe", "torch", "scipy")


# --------------------------------------------------------------------------- helpers


def run_cli(*args: str | os.PathLike, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "outcomes.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def london_face() -> Path | None:
    folder = SHARED_DATA / "london" / "neutral"
    preferred = folder / "005_03.jpg"
    if preferred.is_file():
        return preferred
    found = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
    return found[0] if found else None


def require_face() -> Path:
    face = london_face()
    if face is None:
        pytest.skip(
            f"shared face photos not found at {SHARED_DATA / 'london' / 'neutral'} "
            "(set OUTCOMES_SHARED_DATA to the folder holding london/)"
        )
    return face


def _png_chunk(f, kind: bytes, data: bytes) -> None:
    f.write(struct.pack(">I", len(data)))
    f.write(kind)
    f.write(data)
    f.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF))


def write_black_png(path: Path, width: int, height: int, rows_per_step: int = 100) -> None:
    """A real greyscale 8-bit PNG of zeros, streamed: little memory, a few seconds."""
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        _png_chunk(f, b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        compressor = zlib.compressobj(1)  # fast; ~1.7 MB
        block = b"\x00" * ((width + 1) * rows_per_step)  # filter byte 0 + a row of zeros, repeated
        done = 0
        while done < height:
            n = min(rows_per_step, height - done)
            out = compressor.compress(block if n == rows_per_step else block[: (width + 1) * n])
            if out:
                _png_chunk(f, b"IDAT", out)
            done += n
        _png_chunk(f, b"IDAT", compressor.flush())
        _png_chunk(f, b"IEND", b"")


def check_png_stream(path: Path, width: int, height: int) -> None:
    """Every chunk's CRC is right and the image data inflates to exactly height × (1 + width) bytes."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, total, inflater = 8, 0, zlib.decompressobj()
    kinds = []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(body, zlib.crc32(kind)) & 0xFFFFFFFF == crc, kind
        kinds.append(kind)
        if kind == b"IDAT":
            chunk = body
            while chunk:
                total += len(inflater.decompress(chunk, 1 << 22))
                chunk = inflater.unconsumed_tail
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert inflater.eof and not inflater.unused_data
    assert total == height * (width + 1)


@pytest.fixture(scope="session")
def huge_png(tmp_path_factory) -> Path:
    """A real 20000×20000 PNG (400 MP, ~1.7 MB on disk): above the default 100 MP limit."""
    path = tmp_path_factory.mktemp("huge") / "huge_20000x20000.png"
    write_black_png(path, HUGE_SIDE, HUGE_SIDE)
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # only to look at the header here
    try:
        with Image.open(path) as im:
            assert im.format == "PNG"
            assert im.size == (HUGE_SIDE, HUGE_SIDE)
            assert im.mode == "L"
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    check_png_stream(path, HUGE_SIDE, HUGE_SIDE)
    return path


# --------------------------------------------------------------------------- bad inputs


def make_empty(folder: Path) -> Path:
    path = folder / "empty.jpg"
    path.write_bytes(b"")
    return path


def make_text(folder: Path) -> Path:
    path = folder / "notes.jpg"
    path.write_text("Patient 12, visit 2: photo to follow.\n" * 10)
    return path


def make_truncated(folder: Path) -> Path:
    face = london_face()
    if face is not None:
        data = face.read_bytes()
    else:
        rng = np.random.default_rng(0)
        noise = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(noise).save(buf, format="JPEG", quality=90)
        data = buf.getvalue()
    path = folder / "truncated.jpg"
    path.write_bytes(data[: len(data) // 2])
    return path


def make_no_face(folder: Path) -> Path:
    h, w = 480, 640
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([255 * x / (w - 1), 255 * y / (h - 1), 255 * (1 - x / (w - 1)) * 0.6 + 40], axis=2)
    img += np.random.default_rng(1).normal(0, 6, img.shape)
    path = folder / "gradient.jpg"
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def make_folder(folder: Path) -> Path:
    path = folder / "folder.jpg"
    path.mkdir()
    return path


def make_missing(folder: Path) -> Path:
    return folder / "nowhere.jpg"


# (id, maker, regular expression the message must match, case-insensitive);
# the huge PNG comes from its session fixture, made once.
BAD_INPUTS: dict[str, tuple[Callable[[Path], Path] | None, str]] = {
    "empty": (make_empty, r"empty"),
    "text_named_jpg": (make_text, r"not a recogni[sz]ed image|not an image|unidentified"),
    "truncated_jpeg": (make_truncated, r"truncated|corrupt"),
    "huge_png": (None, r"pixels.*limit|limit.*pixels|too many pixels"),
    "no_face": (make_no_face, r"no face"),
}
# Checked for `landmarks` only (reading is shared code; each extra case costs a model load).
LANDMARKS_ONLY: dict[str, tuple[Callable[[Path], Path] | None, str]] = {
    "missing": (make_missing, r"not found|no such file|does not exist"),
    "folder": (make_folder, r"folder|directory"),
}


@dataclass
class Case:
    workdir: Path  # holds in/ (the inputs made here) and, wrongly, any outputs
    bad: Path
    good: Path | None
    phrase: str
    outputs: tuple[Path, ...]
    future: Future

    def result(self) -> subprocess.CompletedProcess:
        return self.future.result()


def _case_key(item: pytest.Item) -> tuple[str, str, str | None] | None:
    """The CLI run a collected test of this module needs, if any."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or item.module is not sys.modules[__name__]:
        return None
    name = callspec.params.get("bad_name")
    if item.originalname == "test_landmarks_refuses_bad_input":
        return ("landmarks", name, None)
    if item.originalname == "test_align_refuses_bad_input":
        return ("align", name, callspec.params["bad_side"])
    return None


@pytest.fixture(scope="module")
def cli_cases(request, tmp_path_factory):
    """Every bad-input CLI run the selected tests need, started at once and run side by side.

    Each run loads the face models (about a second), so running them one after
    the other would dominate this file's time; each test waits on its own run.
    """
    keys = {k for k in map(_case_key, request.session.items) if k is not None}
    face = london_face()
    if face is None:  # those tests skip; do not run them
        keys = {k for k in keys if k[0] != "align"}
    workers = max(2, min(4, os.cpu_count() or 2))
    pool = ThreadPoolExecutor(max_workers=workers)
    cases: dict[tuple[str, str, str | None], Case] = {}

    def submit(key: tuple[str, str, str | None], bad: Path, phrase: str, workdir: Path) -> None:
        command, _, side = key
        if command == "landmarks":
            outputs = (workdir / "out.json", workdir / "overlay.png")
            args = ["landmarks", bad, "--json", outputs[0], "--overlay", outputs[1]]
            good = None
        else:
            outputs = (workdir / "out.json", workdir / "out.png")
            before, after = (bad, face) if side == "before" else (face, bad)
            args = ["align", before, after, "--json", outputs[0], "--out-image", outputs[1]]
            good = face
        future = pool.submit(run_cli, *args, cwd=workdir)
        cases[key] = Case(workdir, bad, good, phrase, outputs, future)

    deferred = []
    # Align cases first: they take longest.
    for key in sorted(keys, key=lambda k: (k[0] != "align", k[1], k[2] or "")):
        make, phrase = {**BAD_INPUTS, **LANDMARKS_ONLY}[key[1]]
        workdir = tmp_path_factory.mktemp("-".join(p for p in key if p))
        (workdir / "in").mkdir()
        if make is None:
            deferred.append((key, phrase, workdir))
        else:
            submit(key, make(workdir / "in"), phrase, workdir)
    for key, phrase, workdir in deferred:  # made while the others already run
        submit(key, request.getfixturevalue(key[1]), phrase, workdir)
    yield cases
    pool.shutdown(wait=True, cancel_futures=True)


def assert_one_line_error(result: subprocess.CompletedProcess, bad: Path, phrase: str) -> str:
    err = result.stderr
    assert result.returncode > 0, (result.returncode, err)
    assert "Traceback" not in err, err
    lines = err.rstrip("\n").split("\n")
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    line = lines[0]
    assert str(bad) in line, line
    assert re.search(phrase, line, re.IGNORECASE), f"{line!r} does not say {phrase!r}"
    return line


def assert_no_outputs(workdir: Path, *outputs: Path) -> None:
    for out in outputs:
        assert not out.exists(), f"{out} was left behind"
    leftovers = sorted(p.name for p in workdir.iterdir() if p.name != "in")
    assert leftovers == [], f"files left behind: {leftovers}"


# --------------------------------------------------------------------------- landmarks


@pytest.mark.parametrize("bad_name", [*BAD_INPUTS, *LANDMARKS_ONLY])
def test_landmarks_refuses_bad_input(cli_cases, bad_name):
    case = cli_cases[("landmarks", bad_name, None)]
    assert_one_line_error(case.result(), case.bad, case.phrase)
    assert_no_outputs(case.workdir, *case.outputs)


# --------------------------------------------------------------------------- align


@pytest.mark.parametrize("bad_side", ["before", "after"])
@pytest.mark.parametrize("bad_name", list(BAD_INPUTS))
def test_align_refuses_bad_input(cli_cases, bad_name, bad_side):
    require_face()
    case = cli_cases[("align", bad_name, bad_side)]
    line = assert_one_line_error(case.result(), case.bad, case.phrase)
    assert str(case.good) not in line, "the message blames the good photo"
    assert_no_outputs(case.workdir, *case.outputs)


# --------------------------------------------------------------------------- config errors


@pytest.mark.parametrize(
    "text",
    ["landmarks:\n  crop_scale: [\n", "input: !!python/object/apply:os.system ['true']\n"],
    ids=["syntax_error", "python_tag"],
)
def test_bad_config_is_one_line(tmp_path, text):
    config = tmp_path / "in" / "bad.yaml"
    config.parent.mkdir()
    config.write_text(text)
    out_json = tmp_path / "out.json"
    result = run_cli("--config", config, "landmarks", tmp_path / "in" / "x.jpg", "--json", out_json, cwd=tmp_path)
    assert not out_json.exists()
    assert_one_line_error(result, config, r"config|yaml")


def test_bad_config_key_is_one_line(tmp_path):
    config = tmp_path / "in" / "bad.yaml"
    config.parent.mkdir()
    config.write_text("landmarks:\n  crop_sclae: 2.0\n")
    out_json = tmp_path / "out.json"
    result = run_cli("--config", config, "landmarks", tmp_path / "in" / "x.jpg", "--json", out_json, cwd=tmp_path)
    line = assert_one_line_error(result, config, r"crop_sclae")
    assert "landmarks" in line
    assert not out_json.exists()


# --------------------------------------------------------------------------- help and version


def test_help_is_quick(tmp_path):
    start = time.perf_counter()
    result = run_cli("--help", cwd=tmp_path, timeout=30)
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    assert "landmarks" in result.stdout and "align" in result.stdout
    assert result.stderr == ""
    assert elapsed < 5.0, f"outcomes --help took {elapsed:.1f} s"


@pytest.mark.parametrize("command", ["landmarks", "align"])
def test_subcommand_help(tmp_path, command):
    result = run_cli(command, "--help", cwd=tmp_path, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "--json" in result.stdout


def test_cli_does_not_import_heavy_libraries(tmp_path):
    probe = (
        "import contextlib, io, json, sys\n"
        "import outcomes.cli\n"
        "outcomes.cli.build_parser()\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        outcomes.cli.main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(json.dumps(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert imported.isdisjoint(HEAVY_MODULES), sorted(imported & set(HEAVY_MODULES))


def test_version(tmp_path):
    result = run_cli("--version", cwd=tmp_path, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"outcomes {outcomes.__version__}"


def test_console_script_version(tmp_path):
    script = Path(sys.executable).parent / ("outcomes.exe" if os.name == "nt" else "outcomes")
    if not script.exists():
        pytest.skip(f"console script not installed next to {sys.executable}")
    result = subprocess.run([str(script), "--version"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert outcomes.__version__ in result.stdout


def test_missing_arguments_is_a_usage_error(tmp_path):
    result = run_cli("landmarks", cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "usage" in result.stderr.lower()
