"""Build ``outcomes/data/expression_noise.json``: how much the expression measures move on repeat photos.

Each neutral photo of the TUNING half of the London set (even positions in
sorted order; the odd half is held out for ``benchmarks/real_photo_qc.py``)
is recaptured several times by ``outcomes.simulate.recapture`` (camera
distance 0.6–1.6×, focus blur, sensor noise, JPEG 70–95, ±0.3 EV, white
balance, ±3° yaw and pitch); the covariance of the measures' changes is the
noise model that ``outcomes.expression.compare_expressions`` judges a change by.

    python scripts/make_expression_noise.py [--data ../shared/data] [--per-face 4]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from outcomes.expression import MEASURES, measure_expression
from outcomes.io import read_photo
from outcomes.landmarks import FaceLandmarker
from outcomes.simulate import london_anchors, read_tem
from outcomes.simulate.recapture import random_recapture, recapture
from outcomes.types import Photo

OUT = Path(__file__).resolve().parents[1] / "outcomes" / "data" / "expression_noise.json"


def tuning_faces(data: Path) -> list[Path]:
    """The tuning half of the London neutral photos (even positions in sorted order)."""
    return sorted((data / "london" / "neutral").glob("*.jpg"))[0::2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("OUTCOMES_SHARED_DATA", "../shared/data"))
    parser.add_argument("--per-face", type=int, default=4)
    args = parser.parse_args()
    paths = tuning_faces(Path(args.data))
    deltas = []
    with FaceLandmarker() as landmarker:
        for k, path in enumerate(paths):
            photo = read_photo(path)
            base = measure_expression(landmarker.detect(photo)).as_vector()
            anchors = london_anchors(read_tem(path.with_suffix(".tem")))
            rng = np.random.default_rng(1000 + k)
            for _ in range(args.per_face):
                pixels, _ = recapture(photo.pixels, anchors, random_recapture(rng), rng)
                again = Photo(pixels, "recapture", hashlib.sha256(pixels.tobytes()).hexdigest())
                deltas.append(measure_expression(landmarker.detect(again)).as_vector() - base)
    deltas = np.array(deltas)
    covariance = np.cov(deltas.T)
    OUT.write_text(json.dumps({
        "measures": list(MEASURES),
        "covariance": np.round(covariance, 10).tolist(),
        "source": (f"{len(deltas)} simulated repeat photos ({args.per_face} per face) of {len(paths)} London-set "
                   f"neutral photos (the tuning half), scripts/make_expression_noise.py, "
                   f"{datetime.date.today().isoformat()}"),
    }, indent=1) + "\n")
    sd = np.sqrt(np.diag(covariance))
    print(f"wrote {OUT}: sd " + ", ".join(f"{m} {s:.4f}" for m, s in zip(MEASURES, sd)))


if __name__ == "__main__":
    main()
