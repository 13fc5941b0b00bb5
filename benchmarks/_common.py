"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    """``$OUTCOMES_SHARED_DATA`` or ``../shared/data``; exits with a message if absent."""
    path = Path(os.environ.get("OUTCOMES_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not (path / "london" / "neutral").is_dir():
        sys.exit(f"real face photos not found at {path}; set OUTCOMES_SHARED_DATA")
    return path


def summary(values: np.ndarray, unit: str = "") -> str:
    v = np.asarray(values, dtype=float)
    return (f"median {np.median(v):.3f}{unit}  p90 {np.percentile(v, 90):.3f}{unit}  "
            f"max {v.max():.3f}{unit}  (n={v.size})")


def london_faces(paths):  # noqa: ANN001, ANN201 - iterable of Path -> iterator of tuples
    """Yield ``(path, rgb, anchors from the .tem, mesh landmarks)`` for each London photo."""
    from outcomes.io import read_photo
    from outcomes.landmarks import FaceLandmarker
    from outcomes.simulate import london_anchors, read_tem

    with FaceLandmarker() as landmarker:
        for path in paths:
            photo = read_photo(path)
            yield path, photo.pixels, london_anchors(read_tem(path.with_suffix(".tem"))), landmarker.detect(photo)


def london_trial(work: Path, faces: int, seed: int = 0) -> Path:
    """Simulate a trial of ``faces`` London subjects (baseline, day 30, day 90) in ``work``; returns its manifest.

    The faces are spread over the set (every k-th); ``truth.csv`` records each
    subject's ethnicity as its group.
    """
    import csv
    import time

    from outcomes.simulate import TrialSubject, simulate_trial

    data = shared_data()
    files = sorted((data / "london" / "neutral").glob("*.jpg"))
    files = files[:: max(1, len(files) // faces)][:faces]
    with open(data / "london" / "faces.csv", newline="") as f:
        ethnicity = {r["face_id"]: r["face_eth"] for r in csv.DictReader(f)}
    subjects = [TrialSubject(path.stem.split("_")[0], rgb, dict(anchors), ethnicity.get(path.stem.split("_")[0], ""))
                for path, rgb, anchors, _ in london_faces(files)]
    start = time.perf_counter()
    paths = simulate_trial(subjects, work, seed=seed)
    print(f"simulated {len(subjects)} subjects x 2 follow-ups in {time.perf_counter() - start:.0f} s")
    return paths["manifest"]


def write_rows(path: str | Path, rows: list[dict]) -> None:
    """Write benchmark rows (dicts with the same keys) as CSV with a header."""
    import csv

    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
