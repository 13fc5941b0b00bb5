"""Where the nasolabial fold lies relative to the face mesh: the offsets in outcomes/features/laxity.py.

The London set's hand-placed templates mark each smile (nasolabial) line with
three points (top, centre, bottom). For each, this prints its mean offset from
a nearby mesh point in IPD units (along the eye line, down the face) over the
tuning half (faces at even positions, sorted by id) and the spread; then how
far the resulting lines lie from the template points on the held-out half.

    python scripts/fit_fold_lines.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _common import london_faces, shared_data  # noqa: E402

from outcomes.features.laxity import fold_lines  # noqa: E402
from outcomes.simulate.templates import read_tem  # noqa: E402

MESH_POINTS = {"right": (203, 206, 216), "left": (423, 426, 436)}
TEMPLATE_POINTS = {"right": (158, 159, 160), "left": (161, 162, 163)}  # subject's sides


def frame(lm):  # noqa: ANN001, ANN202 - Landmarks -> (ex, ey, ipd)
    right, left = lm.anchors["right_pupil"], lm.anchors["left_pupil"]
    ipd = float(np.linalg.norm(left - right))
    ex = (left - right) / ipd
    return ex, np.array([-ex[1], ex[0]]), ipd


def main() -> None:
    files = sorted((shared_data() / "london" / "neutral").glob("*.jpg"))
    offsets = {(side, k): [] for side in MESH_POINTS for k in range(3)}
    for path, _, _, lm in london_faces(files[0::2]):
        template = read_tem(path.with_suffix(".tem"))
        ex, ey, ipd = frame(lm)
        for side in MESH_POINTS:
            for k, (mesh, marked) in enumerate(zip(MESH_POINTS[side], TEMPLATE_POINTS[side])):
                d = template[marked] - lm.points[mesh]
                offsets[side, k].append([d @ ex / ipd, d @ ey / ipd])
    print("tuning half: mean offset (along eye line, down the face) and sd, IPD units")
    for (side, k), values in offsets.items():
        v = np.array(values)
        print(f"  {side:5s} point {k} from mesh {MESH_POINTS[side][k]}: mean {np.round(v.mean(axis=0), 3)}, "
              f"sd {np.round(v.std(axis=0), 3)}")
    distances = []
    for path, _, _, lm in london_faces(files[1::2]):
        template = read_tem(path.with_suffix(".tem"))
        _, _, ipd = frame(lm)
        lines = fold_lines(lm)
        for side in MESH_POINTS:
            line = lines[f"nasolabial_{side}"]
            dense = np.concatenate([np.linspace(a, b, 50) for a, b in zip(line[:-1], line[1:])])
            distances += [np.linalg.norm(dense - template[i], axis=1).min() / ipd for i in TEMPLATE_POINTS[side]]
    d = np.array(distances)
    print(f"held-out half: template points to the fold line, IPD units: median {np.median(d):.3f}, "
          f"p90 {np.percentile(d, 90):.3f}, max {d.max():.3f} (n={d.size})")


if __name__ == "__main__":
    main()
