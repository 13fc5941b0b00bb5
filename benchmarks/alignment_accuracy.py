"""Alignment accuracy: London faces under random known changes, and the lisa sessions.

Each London face is warped by a random rotation (±8°), scale (±12 %), shift
(±5 %) and mild perspective, with an exposure (±0.5 stop) and white-balance
(±8 %) change, then registered back onto the original. The error is the
distance between each hand-placed point and where the registration maps its
warped copy, in % of the inter-pupil distance (IPD). lisa2–4 (other sessions)
are registered onto lisa1 and compared at the rigid anchors.

    python benchmarks/alignment_accuracy.py [--per-face 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import shared_data, summary

from outcomes.align import apply_homography, register
from outcomes.config import AlignmentConfig
from outcomes.io import photo_from_array, read_photo
from outcomes.landmarks import FaceLandmarker
from outcomes.simulate.geometry import random_geometric_change, warp_image
from outcomes.simulate.photometric import change_lighting, random_lighting
from outcomes.simulate.templates import read_tem

LISA_RIGID = {"right_pupil": 0, "left_pupil": 1, "right_eye_inner": 39, "left_eye_inner": 44, "subnasale": 80}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-face", type=int, default=2, help="random changes per London face")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = shared_data()
    rng = np.random.default_rng(args.seed)
    config = AlignmentConfig()
    errors, not_ok, times = [], 0, []
    with FaceLandmarker() as landmarker:
        for path in sorted((data / "london" / "neutral").glob("*.jpg")):
            photo = read_photo(path)
            tem = read_tem(path.with_suffix(".tem"))
            ipd = np.linalg.norm(tem[0] - tem[1])
            before_lm = landmarker.detect(photo)
            for _ in range(args.per_face):
                change = random_geometric_change(rng, (photo.width, photo.height))
                after = warp_image(change_lighting(photo.pixels, **random_lighting(rng)), change)
                after_lm = landmarker.detect(photo_from_array(after))
                start = time.perf_counter()
                reg = register(photo.pixels, before_lm, after, after_lm, config)
                times.append(time.perf_counter() - start)
                not_ok += not reg.ok
                mapped = apply_homography(reg.after_to_before, apply_homography(change, tem))
                errors.append(np.linalg.norm(mapped - tem, axis=1) / ipd * 100)
        errors = np.concatenate(errors)
        print(f"known changes: {len(times)} pairs, {errors.size} hand-placed points; pairs flagged not ok: {not_ok}")
        print(f"  error, % IPD: {summary(errors)}")
        print(f"  registration time (landmark fit + ECC + local), ms: {summary(np.array(times) * 1e3)}")

        lisa = data / "lisa"
        base = read_photo(lisa / "lisa1.jpg")
        base_lm = landmarker.detect(base)
        base_tem = read_tem(lisa / "lisa1.tem")
        ipd = np.linalg.norm(base_tem[0] - base_tem[1])
        idx = list(LISA_RIGID.values())
        print(f"lisa2-4 onto lisa1, error at rigid anchors ({', '.join(LISA_RIGID)}), % IPD of lisa1:")
        for k in (2, 3, 4):
            photo = read_photo(lisa / f"lisa{k}.jpg")
            reg = register(base.pixels, base_lm, photo.pixels, landmarker.detect(photo), config)
            err = np.linalg.norm(apply_homography(reg.after_to_before, read_tem(lisa / f"lisa{k}.tem")[idx]) - base_tem[idx], axis=1) / ipd * 100
            pose = ", ".join(f"{k2} {v:+.1f}°" for k2, v in reg.pose_change.as_dict().items())
            print(f"  lisa{k}: median {np.median(err):.2f}%  per anchor {np.round(err, 2).tolist()}  "
                  f"ok={reg.ok} flags={list(reg.qc_flags)} pose change: {pose}")


if __name__ == "__main__":
    main()
