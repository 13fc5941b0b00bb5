"""Corrupt or mismatched wrinkle-CNN weights: a one-line error naming the file and the expected checksum.

Never a silent fallback to untrained weights: the command fails before any output is written.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from outcomes.config import Config
from outcomes.model_store import find_model_file

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


def _assess(tmp_path: Path, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "outcomes.cli", "--config", str(config), "wrinkles", str(SAMPLES / "S01_baseline.jpg"),
         "--mask", str(tmp_path / "mask.png")], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "other_file"])
def test_damaged_weights_fail_naming_file_and_checksum(tmp_path, damage):
    """A changed weights file is refused with its path and the configured sha256; no mask is written."""
    expected = Config().wrinkles.cnn_int8_sha256
    weights = tmp_path / "wrinkle_unet.int8.onnx"
    shutil.copy(find_model_file(Config().wrinkles.cnn_int8_weights, "test"), weights)
    data = bytearray(weights.read_bytes())
    if damage == "flip_byte":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncate":
        data = data[: len(data) // 3]
    else:
        data = bytearray(b"not a model")
    weights.write_bytes(bytes(data))
    config = tmp_path / "c.yaml"
    config.write_text(f"wrinkles:\n  detector: fused\n  device: cpu\n  cnn_int8_weights: {weights}\n"
                      f"  cnn_int8_sha256: '{expected}'\n")
    done = _assess(tmp_path, config)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert str(weights) in lines[0] and expected in lines[0]
    assert not (tmp_path / "mask.png").exists()


def test_missing_weights_fail_clearly(tmp_path):
    """A configured weights file that does not exist is named; the classical detector runs without it."""
    config = tmp_path / "c.yaml"
    config.write_text(f"wrinkles:\n  detector: cnn\n  cnn_int8_weights: {tmp_path / 'absent.onnx'}\n")
    done = _assess(tmp_path, config)
    assert done.returncode == 1 and "absent.onnx" in done.stderr and "not found" in done.stderr
    config.write_text(f"wrinkles:\n  detector: classical\n  cnn_int8_weights: {tmp_path / 'absent.onnx'}\n")
    done = _assess(tmp_path, config)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "mask.png").exists()


def test_fused_detector_on_the_command_line(tmp_path):
    """With the fused detector the wrinkles JSON names it and the shipped model's sha256."""
    import json

    config = tmp_path / "c.yaml"
    config.write_text("wrinkles:\n  detector: fused\n")
    js = tmp_path / "w.json"
    done = subprocess.run(
        [sys.executable, "-m", "outcomes.cli", "--config", str(config), "wrinkles", str(SAMPLES / "S01_baseline.jpg"),
         "--mask", str(tmp_path / "mask.png"), "--json", str(js)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    d = json.loads(js.read_text())
    assert d["detector"]["name"] == "cnn+classical" and d["detector"]["model_sha256"] == Config().wrinkles.cnn_int8_sha256
    assert d["detector"]["mirror_average"] is False
    assert len(d["regions"]) >= 10
