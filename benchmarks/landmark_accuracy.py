"""Landmark accuracy on the 61 London faces against their hand-placed points.

Error at the contract's ten anchors, in % of the hand-placed inter-pupil
distance (IPD), and the time to place landmarks on one 1350×1350 photo.

    python benchmarks/landmark_accuracy.py
"""

from __future__ import annotations

import time

import numpy as np
from _common import shared_data, summary

from outcomes.io import read_photo
from outcomes.landmarks import FaceLandmarker
from outcomes.simulate.templates import LONDON_ANCHOR_INDEX, RIGID_ANCHORS, read_tem
from outcomes.types import ANCHOR_NAMES


def main() -> None:
    files = sorted((shared_data() / "london" / "neutral").glob("*.jpg"))
    errors, times = [], []
    with FaceLandmarker() as landmarker:
        for path in files:
            photo = read_photo(path)
            start = time.perf_counter()
            lm = landmarker.detect(photo)
            times.append(time.perf_counter() - start)
            tem = read_tem(path.with_suffix(".tem"))
            ipd = np.linalg.norm(tem[0] - tem[1])
            errors.append([np.linalg.norm(lm.anchors[n] - tem[LONDON_ANCHOR_INDEX[n]]) / ipd * 100 for n in ANCHOR_NAMES])
    errors = np.array(errors)
    rigid = errors[:, [ANCHOR_NAMES.index(n) for n in RIGID_ANCHORS]]
    print(f"London faces: {len(files)}")
    print(f"all ten anchors, % IPD:   {summary(errors)}")
    print(f"rigid anchors, % IPD:     {summary(rigid)}   ({', '.join(RIGID_ANCHORS)})")
    for i, name in enumerate(ANCHOR_NAMES):
        print(f"  {name:16s} median {np.median(errors[:, i]):.2f}%  p90 {np.percentile(errors[:, i], 90):.2f}%")
    print(f"landmarks per 1350x1350 photo, ms: {summary(np.array(times) * 1e3)}")


if __name__ == "__main__":
    main()
