"""Regenerate ``data_samples/``: simulated before/after pairs of scikit-image's astronaut.

The astronaut photo (Eileen Collins, NASA, public domain) ships inside
scikit-image, so the samples need nothing outside this repository. Her head
is cropped and upscaled ×5 to 1050×1050 (inter-pupil distance ≈ 215 px, as
in a clinical portrait) so that rendered wrinkles are a few pixels wide.
Landmarks from our own detector only place the simulated changes; the
simulator's ground truth is written beside each pair.

    python scripts/make_data_samples.py
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
from skimage import data

from outcomes.io import photo_from_array
from outcomes.landmarks import FaceLandmarker
from outcomes.simulate import TreatmentSpec, simulate_pair

OUT = Path(__file__).resolve().parents[1] / "data_samples"

# subject → what the follow-up shows
SPECS = {
    "S01": TreatmentSpec(wrinkle_severity=1.0, wrinkle_reduction=0.9, seed=11),  # clear improvement
    "S02": TreatmentSpec(wrinkle_severity=0.6, wrinkle_reduction=0.0, seed=12),  # no skin change
    "S03": TreatmentSpec(wrinkle_severity=0.6, wrinkle_reduction=0.3, macules=3, seed=13),  # PIH
    "S04": TreatmentSpec(wrinkle_severity=0.8, wrinkle_reduction=-0.8, redness=True, seed=14),  # worse, red
}


def main() -> None:
    head = data.astronaut()[20:230, 120:330]
    face = cv2.resize(head, (1050, 1050), interpolation=cv2.INTER_CUBIC)
    with FaceLandmarker() as landmarker:
        anchors = landmarker.detect(photo_from_array(face, "astronaut")).anchors
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
