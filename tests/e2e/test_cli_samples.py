"""The CLI on the bundled data_samples/ (needs nothing outside the repository)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from outcomes.align import apply_homography

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "outcomes.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("subject", ["S01", "S03"])
def test_align_recovers_the_simulated_change(tmp_path, subject):
    truth = json.loads((SAMPLES / f"{subject}_truth.json").read_text())
    out, image = tmp_path / "align.json", tmp_path / "aligned.png"
    done = _run("align", str(SAMPLES / f"{subject}_baseline.jpg"), str(SAMPLES / f"{subject}_day90.jpg"),
                "--json", str(out), "--out-image", str(image))
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["schema_version"] == "1" and result["ok"] is True
    assert set(result) >= {"after_to_before", "residual_px", "residual_rel_ipd", "pose_change_deg", "ok", "qc_flags"}
    # Compare the estimated and true AFTER→BEFORE maps over the face area.
    grid = np.array([[x, y] for x in range(350, 700, 50) for y in range(300, 700, 50)], float)
    err = np.linalg.norm(apply_homography(result["after_to_before"], grid) - apply_homography(truth["after_to_before"], grid), axis=1)
    assert np.median(err) < 0.5, f"median error {np.median(err):.3f} px"
    assert Image.open(image).size == tuple(truth["image_size"])


def test_landmarks_json_follows_the_contract(tmp_path):
    out, overlay = tmp_path / "lm.json", tmp_path / "lm.png"
    done = _run("landmarks", str(SAMPLES / "S02_baseline.jpg"), "--json", str(out), "--overlay", str(overlay))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    result = json.loads(out.read_text())
    assert result["schema_version"] == "1" and result["scheme"] == "mediapipe-478"
    assert len(result["points"]) == 478 and result["faces_found"] == 1
    assert set(result["anchors"]) == {
        "right_pupil", "left_pupil", "right_eye_outer", "right_eye_inner", "left_eye_inner",
        "left_eye_outer", "subnasale", "mouth_right", "mouth_left", "chin",
    }
    assert set(result["pose_deg"]) == {"yaw", "pitch", "roll"}
    assert result["image"]["width"] == 1050 and len(result["image"]["sha256"]) == 64
    assert result["anchors"]["right_pupil"][0] < result["anchors"]["left_pupil"][0]
    assert Image.open(overlay).size == (1050, 1050)
