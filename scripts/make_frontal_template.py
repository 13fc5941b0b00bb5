"""Build ``outcomes/data/frontal_template.npy``: the mean frontal face mesh.

The Face Research Lab London Set's neutral photos are standardised frontal
portraits; the generalised Procrustes mean of their mediapipe meshes defines
zero yaw, pitch and roll for :func:`outcomes.landmarks.estimate_pose`.

    python scripts/make_frontal_template.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from outcomes.io import read_photo
from outcomes.landmarks import FaceLandmarker

OUT = Path(__file__).resolve().parents[1] / "outcomes" / "data" / "frontal_template.npy"


def procrustes_mean(shapes: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Generalised Procrustes mean of (K, N, 3) shapes: centred, unit RMS size."""
    norm = shapes - shapes.mean(axis=1, keepdims=True)
    norm /= np.sqrt((norm**2).sum(axis=(1, 2), keepdims=True) / shapes.shape[1])
    mean = norm[0]
    for _ in range(iterations):
        aligned = []
        for s in norm:
            u, _, vt = np.linalg.svd(s.T @ mean)
            d = np.sign(np.linalg.det(u @ vt))
            aligned.append(s @ (u @ np.diag([1.0, 1.0, d]) @ vt))
        new = np.mean(aligned, axis=0)
        new /= np.sqrt((new**2).sum() / len(new))
        # Keep the mean in the photos' own axes (they are frontal): rotate it
        # back onto the plain average of the unrotated shapes.
        u, _, vt = np.linalg.svd(new.T @ norm.mean(axis=0))
        mean = new @ (u @ vt)
    return mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("OUTCOMES_SHARED_DATA", "../shared/data"))
    args = parser.parse_args()
    files = sorted(Path(args.data, "london", "neutral").glob("*.jpg"))
    if not files:
        raise SystemExit(f"no London faces under {args.data}")
    with FaceLandmarker() as landmarker:
        shapes = np.array([landmarker.mesh_points(read_photo(f))[0] for f in files])
    template = procrustes_mean(shapes).astype(np.float32)
    np.save(OUT, template)
    print(f"wrote {OUT} from {len(files)} faces")


if __name__ == "__main__":
    main()
