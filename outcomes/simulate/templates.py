"""Readers for hand-placed landmark templates (ground truth for tests and benchmarks).

The shared face sets carry WebMorph/Psychomorph ``.tem`` files: line 1 is the
point count, then one ``x<TAB>y`` line per point (pixel coordinates, origin at
the top-left pixel), then contour lines that are ignored here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Contract anchor name -> index in the Face Research Lab London 189-point template.
# The template names sides from the viewer; the contract uses the subject's side,
# so the template's "left pupil" (0) is the subject's right pupil.
LONDON_ANCHOR_INDEX: dict[str, int] = {
    "right_pupil": 0,
    "left_pupil": 1,
    "right_eye_outer": 18,
    "right_eye_inner": 22,
    "left_eye_inner": 23,
    "left_eye_outer": 27,
    "subnasale": 55,
    "mouth_right": 87,
    "mouth_left": 93,
    "chin": 129,
}

RIGID_ANCHORS: tuple[str, ...] = (
    "right_pupil",
    "left_pupil",
    "right_eye_inner",
    "left_eye_inner",
    "subnasale",
)


def read_tem(path: str | Path) -> np.ndarray:
    """Read the points of a ``.tem`` landmark file.

    Parameters
    ----------
    path : str or Path
        The ``.tem`` file.

    Returns
    -------
    points : ndarray, shape (N, 2), float64
        ``[x, y]`` pixel coordinates in file order.
    """
    lines = Path(path).read_text().splitlines()
    count = int(lines[0].strip())
    rows = [line.split() for line in lines[1 : 1 + count]]
    if len(rows) != count or any(len(r) < 2 for r in rows):
        raise ValueError(f"{path}: expected {count} 'x y' lines after the count line")
    return np.array([[float(r[0]), float(r[1])] for r in rows], dtype=np.float64)


def london_anchors(points: np.ndarray) -> dict[str, np.ndarray]:
    """Contract anchors from the 189 points of a London-set template."""
    if points.shape != (189, 2):
        raise ValueError(f"expected London template points of shape (189, 2), got {points.shape}")
    return {name: points[i].copy() for name, i in LONDON_ANCHOR_INDEX.items()}
