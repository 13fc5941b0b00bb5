"""GAIS calibration end to end: the example retraining script, `outcomes calibrate`, `assess --scorer`.

The example simulates a small trial of the bundled astronaut photo, so this
runs without ../shared/data (as CI does). Everything after the example reads
its assessment cache, so each pair is assessed once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from outcomes.config import Config

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    """Run examples/recalibrate_gais.py as CI does; returns its output folder."""
    out = tmp_path_factory.mktemp("example")
    done = _run("examples/recalibrate_gais.py", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "cross-validated by subject: quadratic kappa" in done.stdout
    assert "by calibrated:demo site" in done.stdout
    return out


def test_example_writes_a_loadable_scorer(example):
    from outcomes.scorer_file import load_scorer

    scorer = load_scorer(example / "scorer.json")
    assert scorer.name == "demo site" and scorer.wrinkle_detector == Config().wrinkles.detector == "fused"
    assert scorer.training["cross_validation"]["split_by"] == "subject"
    assert len(list((example / "cache").rglob("*.json"))) == 16  # 8 subjects x 2 follow-ups


def test_cli_calibrate_then_assess_with_the_scorer(example, tmp_path):
    ratings = example / "demo-trial" / "ratings.csv"
    done = _run("-m", "outcomes.cli", "calibrate", str(ratings), "--out", str(tmp_path / "s.json"),
                "--cache", str(example / "cache"), "--folds", "4", "--name", "site A")
    assert done.returncode == 0, done.stderr
    assert "cross-validated agreement (4 folds split by subject)" in done.stdout
    for row in ("calibrated vs ratings", "default scorer vs consensus", "rater vs rater"):
        assert row in done.stdout
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["format"] == "outcomes-gais-scorer" and doc["training"]["ratings"] == 48
    assert doc["training"]["cross_validation"]["calibrated"]["vs_ratings"]["n"] == 48

    before = example / "demo-trial" / "images" / "D00_baseline.jpg"
    after = example / "demo-trial" / "images" / "D00_day90.jpg"
    done = _run("-m", "outcomes.cli", "assess", str(before), str(after), "--json", str(tmp_path / "a.json"),
                "--scorer", str(tmp_path / "s.json"))
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "a.json").read_text())
    assert result["gais"]["scorer"] == "calibrated:site A"
    assert result["provenance"]["models"]["gais-scorer"].startswith("site A sha256:")
    assert sum(result["gais"]["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)


def test_bad_ratings_file_reports_every_problem_and_writes_nothing(example, tmp_path):
    images = example / "demo-trial" / "images"
    (tmp_path / "ratings.csv").write_text(
        "subject_id,before,after,gais,site\n"
        f"S1,{images}/D00_baseline.jpg,{images}/D00_day30.jpg,9,x\n"
        f"S1,{images}/D00_baseline.jpg,{images}/D00_day90.jpg,Better,x\n"
        f"S2,{images}/D01_baseline.jpg,{images}/absent.jpg,3,x\n")
    done = _run("-m", "outcomes.cli", "calibrate", str(tmp_path / "ratings.csv"), "--out", str(tmp_path / "s.json"),
                "--no-cache")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "5 problems" in lines[0]
    for part in ("line 1: unknown column 'site'", "line 2: gais: grade 9", "line 3: gais: 'Better'",
                 "line 4: after image", "subject 'S2' has 1 rated pair"):
        assert part in lines[0]
    assert not (tmp_path / "s.json").exists()


def test_bad_scorer_file_fails_before_assessing(tmp_path):
    (tmp_path / "s.json").write_text('{"format": "something else"}')
    samples = REPO / "data_samples"
    done = _run("-m", "outcomes.cli", "assess", str(samples / "S01_baseline.jpg"), str(samples / "S01_day90.jpg"),
                "--json", str(tmp_path / "a.json"), "--scorer", str(tmp_path / "s.json"))
    assert done.returncode == 1 and str(tmp_path / "s.json") in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "a.json").exists()
