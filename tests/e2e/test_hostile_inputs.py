"""Hostile and careless inputs, tried as a new user would: each exits 0 with a correct result or
1 with one line on stderr (no traceback), and no input or unrelated file changes.

Every case runs the installed command in a fresh folder holding copies of two bundled photos,
an unrelated file and whatever the case adds; the folder is fingerprinted before and after.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
UNRELATED = "notes.txt"


@dataclass(frozen=True)
class Case:
    """``args(folder)`` → the command line; ``rc`` 0 or 1; ``outputs``: files a success may write;
    ``check(folder, stdout, stderr)``: anything else to assert; ``setup(folder)``: extra files."""

    args: Callable[[Path], list[str]]
    rc: int
    outputs: tuple[str, ...] = ()
    setup: Callable[[Path], None] | None = None
    check: Callable[[Path, str, str], None] | None = None
    error_mentions: str | None = None


def _jpeg(path: Path, pixels: np.ndarray, **kw) -> None:
    Image.fromarray(pixels).save(path, format="JPEG", quality=92, **kw)


def _photo(name: str = "S01_baseline.jpg") -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / name).convert("RGB"))


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda d: (d / name).write_bytes(data)


def _png_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk) & 0xFFFFFFFF) + b"\x00" * 64)


def _grey8(d: Path) -> None:
    _jpeg(d / "grey.jpg", np.repeat(np.asarray(Image.fromarray(_photo()).convert("L"))[..., None], 3, axis=2))


def _grey16(d: Path) -> None:
    grey = np.asarray(Image.fromarray(_photo()).convert("L")).astype(np.uint16) * 257
    Image.fromarray(grey).save(d / "grey16.png")


def _rgba(d: Path) -> None:
    rgba = np.dstack([_photo(), np.full(_photo().shape[:2], 255, np.uint8)])
    rgba[:40, :40, 3] = 0
    Image.fromarray(rgba, "RGBA").save(d / "rgba.png")


def _cmyk(d: Path) -> None:
    Image.fromarray(_photo()).convert("CMYK").save(d / "cmyk.jpg", format="JPEG", quality=92)


def _exif_rotated(d: Path) -> None:
    """The photo stored turned a quarter round, with EXIF orientation 6 (display: turn it back)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    _jpeg(d / "exif6.jpg", np.ascontiguousarray(np.rot90(_photo(), k=1)), exif=exif.tobytes())


def _truncated(d: Path) -> None:
    data = (d / "before.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 3])


def _bitflip_png(d: Path) -> None:
    buffer = io.BytesIO()
    Image.fromarray(_photo()).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    for i in range(200, len(data), 997):
        data[i] ^= 0x5A
    (d / "flipped.png").write_bytes(bytes(data))


def _upside_down(d: Path) -> None:
    _jpeg(d / "upside_down.jpg", np.ascontiguousarray(_photo()[::-1, ::-1]))


def _gif(d: Path) -> None:
    frames = [Image.fromarray(np.full((64, 64, 3), v, np.uint8)) for v in (0, 255)]
    frames[0].save(d / "anim.gif", save_all=True, append_images=frames[1:])


def _symlink(name: str, target: str) -> Callable[[Path], None]:
    return lambda d: os.symlink(target, d / name)


def _folder(name: str) -> Callable[[Path], None]:
    return lambda d: (d / name).mkdir()


def _fifo(d: Path) -> None:
    os.mkfifo(d / "pipe.jpg")


def _json_at(name: str, key: str) -> Callable[[Path, str, str], None]:
    def check(d: Path, out: str, err: str) -> None:
        assert key in json.loads((d / name).read_text())
    return check


def _fitzpatrick_iv(d: Path, out: str, err: str) -> None:
    skin = json.loads((d / "out.json").read_text())["skin"]
    assert skin["fitzpatrick"] == "IV" and skin["fitzpatrick_source"] == "reported"


def _flag(flag: str) -> Callable[[Path, str, str], None]:
    def check(d: Path, out: str, err: str) -> None:
        flags = json.loads((d / "out.json").read_text())["qc_flags"]
        assert any(f.startswith(flag) for f in flags), flags
        assert f"warning: {flag}" in err
    return check


def _summary_line(d: Path, out: str, err: str) -> None:
    lines = out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("GAIS ") and "report.html" in lines[0], out


def _landmarks_ok(d: Path, out: str, err: str) -> None:
    data = json.loads((d / "out.json").read_text())
    assert data["faces_found"] >= 1 and len(data["points"]) == 478


ASSESS = ["assess", "before.jpg", "after.jpg"]
CASES: dict[str, Case] = {
    # unreadable or unsuitable inputs
    "missing_before": Case(lambda d: ["assess", "absent.jpg", "after.jpg", "--json", "out.json"], 1,
                           error_mentions="absent.jpg"),
    "before_is_a_folder": Case(lambda d: ["assess", "dir.jpg", "after.jpg", "--json", "out.json"], 1,
                               setup=_folder("dir.jpg")),
    "empty_file": Case(lambda d: ["assess", "empty.jpg", "after.jpg", "--json", "out.json"], 1,
                       setup=_write("empty.jpg", b"")),
    "random_bytes": Case(lambda d: ["assess", "noise.jpg", "after.jpg", "--json", "out.json"], 1,
                         setup=_write("noise.jpg", np.random.default_rng(0).bytes(5000))),
    "truncated_jpeg": Case(lambda d: ["assess", "truncated.jpg", "after.jpg", "--json", "out.json"], 1,
                           setup=_truncated),
    "text_named_png": Case(lambda d: ["assess", "text.png", "after.jpg", "--json", "out.json"], 1,
                           setup=_write("text.png", b"hello, this is not a picture\n")),
    "corrupt_png_data": Case(lambda d: ["assess", "flipped.png", "after.jpg", "--json", "out.json"], 1,
                             setup=_bitflip_png),
    "animated_gif_no_face": Case(lambda d: ["assess", "anim.gif", "after.jpg", "--json", "out.json"], 1, setup=_gif),
    "one_pixel": Case(lambda d: ["assess", "dot.png", "after.jpg", "--json", "out.json"], 1,
                      setup=lambda d: Image.new("RGB", (1, 1), (200, 150, 120)).save(d / "dot.png")),
    "declared_too_large": Case(lambda d: ["assess", "huge.png", "after.jpg", "--json", "out.json"], 1,
                               setup=_write("huge.png", _png_header(200_000, 200_000)), error_mentions="huge.png"),
    "greyscale_8bit": Case(lambda d: ["assess", "grey.jpg", "after.jpg", "--json", "out.json"], 1, setup=_grey8,
                           error_mentions="greyscale"),
    "greyscale_16bit": Case(lambda d: ["assess", "grey16.png", "after.jpg", "--json", "out.json"], 1, setup=_grey16,
                            error_mentions="greyscale"),
    "rgba_png": Case(lambda d: ["assess", "rgba.png", "after.jpg", "--json", "out.json"], 0, ("out.json",),
                     setup=_rgba),
    "cmyk_jpeg": Case(lambda d: ["assess", "cmyk.jpg", "after.jpg", "--json", "out.json"], 0, ("out.json",),
                      setup=_cmyk),
    "exif_orientation": Case(lambda d: ["assess", "before.jpg", "exif6.jpg", "--json", "out.json"], 0, ("out.json",),
                             setup=_exif_rotated),
    "no_face": Case(lambda d: ["assess", "grey_square.png", "after.jpg", "--json", "out.json"], 1,
                    setup=lambda d: Image.new("RGB", (600, 600), (128, 120, 110)).save(d / "grey_square.png"),
                    error_mentions="no face"),
    "same_file_twice": Case(lambda d: ["assess", "before.jpg", "before.jpg", "--json", "out.json"], 1,
                            error_mentions="same photograph"),
    "same_bytes_two_names": Case(lambda d: ["assess", "before.jpg", "copy.jpg", "--json", "out.json"], 1,
                                 setup=lambda d: shutil.copy(d / "before.jpg", d / "copy.jpg")),
    "fifo_as_input": Case(lambda d: ["assess", "pipe.jpg", "after.jpg", "--json", "out.json"], 1, setup=_fifo,
                          error_mentions="not a regular file"),
    "device_as_input": Case(lambda d: ["assess", "/dev/zero", "after.jpg", "--json", "out.json"], 1,
                            error_mentions="not a regular file"),
    "control_characters_in_name": Case(lambda d: ["assess", "bad\nname\x1b.jpg", "after.jpg", "--json", "out.json"], 1,
                                       error_mentions="\\n"),
    "unicode_and_spaces_in_names": Case(
        lambda d: ["assess", "avant été.jpg", "après 90 j.jpg", "--json", "résultat 1.json"], 0, ("résultat 1.json",),
        setup=lambda d: (shutil.copy(d / "before.jpg", d / "avant été.jpg"),
                         shutil.copy(d / "after.jpg", d / "après 90 j.jpg"))),
    "upside_down_landmarks": Case(lambda d: ["landmarks", "upside_down.jpg", "--json", "out.json"], 0, ("out.json",),
                                  setup=_upside_down, check=_flag("face_rotated")),
    # outputs that would harm something
    "json_is_the_before_photo": Case(lambda d: [*ASSESS, "--json", "before.jpg"], 1, error_mentions="BEFORE"),
    "json_is_the_after_photo_by_another_path": Case(lambda d: [*ASSESS, "--json", "./sub/../after.jpg"], 1,
                                                    setup=_folder("sub"), error_mentions="AFTER"),
    "json_is_dev_full": Case(lambda d: [*ASSESS, "--json", "/dev/full"], 1, error_mentions="not a regular file"),
    "json_is_a_folder": Case(lambda d: [*ASSESS, "--json", "results"], 1, setup=_folder("results"),
                             error_mentions="folder"),
    "json_parent_is_a_file": Case(lambda d: [*ASSESS, "--json", f"{UNRELATED}/out.json"], 1),
    "json_and_report_same_path": Case(lambda d: [*ASSESS, "--json", "out.x", "--report", "out.x"], 1,
                                      error_mentions="also given"),
    "json_dangling_symlink": Case(lambda d: [*ASSESS, "--json", "link.json"], 1,
                                  setup=_symlink("link.json", "nowhere/x.json")),
    "json_symlink_to_input": Case(lambda d: [*ASSESS, "--json", "alias.json"], 1,
                                  setup=_symlink("alias.json", "before.jpg"), error_mentions="BEFORE"),
    "existing_output_kept_when_the_run_fails": Case(
        lambda d: ["assess", "grey_square.png", "after.jpg", "--json", UNRELATED], 1,
        setup=lambda d: Image.new("RGB", (600, 600), (128, 120, 110)).save(d / "grey_square.png")),
    "report_in_a_new_nested_folder": Case(lambda d: [*ASSESS, "--report", "a/b/report.html"], 0, ("a/b/report.html",),
                                          check=lambda d, o, e: _summary_line(d, o.replace("a/b/", ""), e)),
    "wrinkles_mask_is_the_image": Case(lambda d: ["wrinkles", "before.jpg", "--mask", "before.jpg"], 1,
                                       error_mentions="IMAGE"),
    "landmarks_overlay_is_a_folder": Case(lambda d: ["landmarks", "before.jpg", "--json", "out.json", "--overlay", "."],
                                          1),
    "align_out_image_is_the_after_photo": Case(
        lambda d: ["align", "before.jpg", "after.jpg", "--json", "out.json", "--out-image", "after.jpg"], 1),
    # arguments
    "fitzpatrick_as_a_number": Case(lambda d: [*ASSESS, "--json", "out.json", "--fitzpatrick", "4"], 0, ("out.json",),
                                    check=_fitzpatrick_iv),
    "fitzpatrick_out_of_range": Case(lambda d: [*ASSESS, "--json", "out.json", "--fitzpatrick", "VII"], 1,
                                     error_mentions="--fitzpatrick"),
    "fitzpatrick_empty": Case(lambda d: [*ASSESS, "--json", "out.json", "--fitzpatrick", ""], 1),
    "no_output_given": Case(lambda d: ASSESS, 1, error_mentions="--json"),
    "empty_output_name": Case(lambda d: ["landmarks", "before.jpg", "--json", "", "--overlay", "o.png"], 1,
                              error_mentions="empty file name"),
    "json_is_the_scorer": Case(lambda d: [*ASSESS, "--json", "s.json", "--scorer", "s.json"], 1,
                               setup=_write("s.json", b"{}"), error_mentions="--scorer"),
    "json_is_the_config": Case(lambda d: ["--config", "c.yaml", *ASSESS, "--json", "c.yaml"], 1,
                               setup=_write("c.yaml", b"wrinkles:\n  threshold: 0.5\n"), error_mentions="--config"),
    "json_name_too_long": Case(lambda d: [*ASSESS, "--json", "x" * 300 + ".json"], 1, error_mentions="--json"),
    "config_name_too_long": Case(lambda d: ["--config", "c" * 300 + ".yaml", *ASSESS, "--json", "out.json"], 1),
    "calibrate_out_is_the_ratings": Case(lambda d: ["calibrate", "r.csv", "--out", "r.csv", "--no-cache"], 1,
                                         setup=_write("r.csv", b"subject_id,before,after,gais\nS1,before.jpg,"
                                                               b"after.jpg,3\n"), error_mentions="RATINGS.csv"),
    "calibrate_out_is_a_folder": Case(lambda d: ["calibrate", "r.csv", "--out", "dir", "--no-cache"], 1,
                                      setup=lambda d: ((d / "dir").mkdir(), (d / "r.csv").write_bytes(
                                          b"subject_id,before,after,gais\nS1,before.jpg,after.jpg,3\n")),
                                      error_mentions="folder"),
    "report_only_prints_a_summary": Case(lambda d: [*ASSESS, "--report", "report.html"], 0, ("report.html",),
                                         check=_summary_line),
    "missing_config": Case(lambda d: ["--config", "absent.yaml", *ASSESS, "--json", "out.json"], 1,
                           error_mentions="absent.yaml"),
    "config_with_unknown_key": Case(lambda d: ["--config", "bad.yaml", *ASSESS, "--json", "out.json"], 1,
                                    setup=_write("bad.yaml", b"wrinkles:\n  treshold: 0.5\n"),
                                    error_mentions="treshold"),
    "config_not_yaml": Case(lambda d: ["--config", "bad.yaml", *ASSESS, "--json", "out.json"], 1,
                            setup=_write("bad.yaml", b"wrinkles: [unclosed\n")),
    "bundled_config_by_name": Case(lambda d: ["--config", "classical", "wrinkles", "before.jpg", "--mask", "m.png",
                                              "--json", "out.json"], 0, ("m.png", "out.json"),
                                   check=_json_at("out.json", "detector")),
    "scorer_not_json": Case(lambda d: [*ASSESS, "--json", "out.json", "--scorer", "s.json"], 1,
                            setup=_write("s.json", b"{not json")),
    "manifest_missing": Case(lambda d: ["batch", "absent.csv", "--out", "job"], 1, error_mentions="absent.csv"),
    "manifest_column_typo": Case(lambda d: ["batch", "m.csv", "--out", "job"], 1,
                                 setup=_write("m.csv", b"subjet_id,visit,image\nS1,baseline,before.jpg\n"),
                                 error_mentions="did you mean subject_id"),
    "batch_out_is_a_file": Case(lambda d: ["batch", "m.csv", "--out", UNRELATED], 1,
                                setup=_write("m.csv", b"subject_id,visit,image,visit_day\nS1,baseline,before.jpg,0\n"
                                                      b"S1,day90,after.jpg,90\n")),
    "ratings_not_utf8": Case(lambda d: ["calibrate", "r.csv", "--out", "s.json", "--no-cache"], 1,
                             setup=_write("r.csv", "subject_id,before,after,gais\nS1,é,b,3\n".encode("latin-1")),
                             error_mentions="UTF-8"),
    "train_data_missing": Case(lambda d: ["train", "wrinkles", "--data", "absent", "--out", "run"], 1,
                               check=lambda d, o, e: None),
    "landmarks_upright_photo": Case(lambda d: ["landmarks", "before.jpg", "--json", "out.json"], 0, ("out.json",),
                                    check=_landmarks_ok),
}


def _fingerprint(folder: Path) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif stat.S_ISFIFO(path.lstat().st_mode):
            out[rel] = "fifo"
        elif path.is_dir():
            out[rel] = "dir"
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input(name, tmp_path):
    case = CASES[name]
    shutil.copy(SAMPLES / "S01_baseline.jpg", tmp_path / "before.jpg")
    shutil.copy(SAMPLES / "S01_day90.jpg", tmp_path / "after.jpg")
    (tmp_path / UNRELATED).write_text("an unrelated file that must not change\n")
    if case.setup is not None:
        case.setup(tmp_path)
    before = _fingerprint(tmp_path)
    done = subprocess.run([sys.executable, "-m", "outcomes.cli", *case.args(tmp_path)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == case.rc, (done.returncode, done.stderr)
    after = _fingerprint(tmp_path)
    for path, digest in before.items():  # no input or unrelated file changed or went away
        assert after.get(path) == digest, f"{path} changed"
    assert set(after) - set(before) <= {o for out in case.outputs for o in _with_parents(out)}, \
        f"unexpected files: {set(after) - set(before)}"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode) and stat.S_ISCHR(os.stat("/dev/zero").st_mode)
    if case.rc == 1:
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("outcomes: error: "), done.stderr
        if case.error_mentions:
            assert case.error_mentions in lines[0], lines[0]
    if case.check is not None:
        case.check(tmp_path, done.stdout, done.stderr)


def _with_parents(rel: str) -> list[str]:
    parts = Path(rel).parts
    return [str(Path(*parts[: i + 1])) for i in range(len(parts))]


def test_the_suite_covers_at_least_forty_kinds():
    assert len(CASES) >= 40
