"""Regenerate ``data_samples/``: simulated before/after pairs of Grace Hopper's portrait.

The portrait (Rear Admiral Grace M. Hopper, 1984, by James S. Davis, U.S. Navy; public
domain as a work of the U.S. federal government) ships inside matplotlib as
``sample_data/grace_hopper.jpg``, so the samples need nothing outside the installed
packages. It is frontal, with a neutral expression and real wrinkles. Her head is
cropped and upscaled ×2.3 to 1050×1050 (inter-pupil distance ≈ 195 px, as in a clinical
portrait) so that rendered wrinkles are a few pixels wide. Landmarks from our own
detector only place the simulated changes; the simulator's ground truth is written
beside each pair.

    python scripts/make_data_samples.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import matplotlib

from outcomes.io import photo_from_array
from outcomes.landmarks import FaceLandmarker
from outcomes.simulate import TreatmentSpec, simulate_pair

OUT = Path(__file__).resolve().parents[1] / "data_samples"
SMOOTHING_PASSES = 3

# subject → what the follow-up shows
SPECS = {
    "S01": TreatmentSpec(wrinkle_severity=1.0, wrinkle_reduction=0.9, seed=11),  # clear improvement
    "S02": TreatmentSpec(wrinkle_severity=0.6, wrinkle_reduction=0.0, seed=12),  # no skin change
    "S03": TreatmentSpec(wrinkle_severity=0.6, wrinkle_reduction=0.3, macules=3, seed=13),  # PIH
    "S04": TreatmentSpec(wrinkle_severity=0.8, wrinkle_reduction=-0.8, redness=True, seed=14),  # worse, red
}


def main() -> None:
    portrait = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    head = cv2.cvtColor(portrait, cv2.COLOR_BGR2RGB)[6:460, 35:489]
    face = cv2.resize(head, (1050, 1050), interpolation=cv2.INTER_CUBIC)
    # Her own deep lines would outweigh the rendered ones whose change the truth files
    # record: an edge-preserving smoothing (as a portrait retoucher's) softens them first.
    for _ in range(SMOOTHING_PASSES):
        face = cv2.bilateralFilter(face, d=15, sigmaColor=40, sigmaSpace=9)
    with FaceLandmarker() as landmarker:
        anchors = landmarker.detect(photo_from_array(face, "grace_hopper")).anchors
    OUT.mkdir(exist_ok=True)
    rows = []
    for subject, spec in SPECS.items():
        pair = simulate_pair(face, anchors, spec)
        for visit, day, pixels in (("baseline", 0, pair.before), ("day90", 90, pair.after)):
            name = f"{subject}_{visit}.jpg"
            cv2.imwrite(str(OUT / name), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
            rows.append({"subject_id": subject, "visit": visit, "visit_day": day, "view": "frontal", "image": name})
        (OUT / f"{subject}_truth.json").write_text(json.dumps(pair.ground_truth, indent=1) + "\n")
    with open(OUT / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} photos of {len(SPECS)} subjects to {OUT}")


if __name__ == "__main__":
    main()
