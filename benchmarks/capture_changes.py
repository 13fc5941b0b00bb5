"""What one capture change of the follow-up alone does to the wrinkle and laxity components.

For faces of the London set's tuning half (even positions), a pair is simulated with
wrinkles unchanged, 50 % shallower (treated) or 70 % deeper (worsened) at follow-up, no
pose or lighting change; then the follow-up is photographed again
(``outcomes.simulate.recapture``) with one change at a time. Printed per change and
scenario: the mean change of the wrinkle component against the follow-up photographed
again without change (JPEG 97), the largest |change|, and the mean |change| of the laxity
component and of the improvement score.

    python benchmarks/capture_changes.py [--faces 8] [--changes blur1.2,scale0.6,...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_data  # noqa: E402

from outcomes.config import load_config  # noqa: E402
from outcomes.face_analysis import analyse_face  # noqa: E402
from outcomes.io import photo_from_array, read_photo  # noqa: E402
from outcomes.pipeline import assess_pair  # noqa: E402
from outcomes.runtime import load_models  # noqa: E402
from outcomes.simulate import TreatmentSpec, simulate_pair  # noqa: E402
from outcomes.simulate.recapture import RecaptureSpec, recapture  # noqa: E402
from outcomes.simulate.templates import london_anchors, read_tem  # noqa: E402

CHANGES = {
    "blur1.2": RecaptureSpec(focus_blur_px=1.2), "scale0.6": RecaptureSpec(scale=0.6),
    "scale1.6": RecaptureSpec(scale=1.6), "noise": RecaptureSpec(read_noise=0.004, shot_noise=0.01),
    "jpeg70": RecaptureSpec(jpeg_quality=70), "ev+0.3": RecaptureSpec(exposure_ev=0.3),
    "yaw3": RecaptureSpec(yaw_deg=3.0), "pitch3": RecaptureSpec(pitch_deg=3.0), "roll3": RecaptureSpec(roll_deg=3.0),
}
SCENARIOS = {"unchanged": 0.0, "treated": 0.5, "worsened": -0.7}
REFERENCE = RecaptureSpec(jpeg_quality=97)  # photographed again, nothing else changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=8, help="faces of the tuning half")
    parser.add_argument("--changes", default="blur1.2,scale0.6,jpeg70,yaw3,pitch3",
                        help=f"comma-separated, of {','.join(CHANGES)}")
    parser.add_argument("--config")
    args = parser.parse_args()
    changes = {name: CHANGES[name] for name in args.changes.split(",")}
    config = load_config(args.config)
    models = load_models(config)
    files = sorted((shared_data() / "london" / "neutral").glob("*.jpg"))[0::2][: args.faces]
    rows: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    reference_wrinkle: dict[str, list[float]] = {}
    for i, path in enumerate(files):
        anchors = london_anchors(read_tem(path.with_suffix(".tem")))
        for scenario, reduction in SCENARIOS.items():
            spec = TreatmentSpec(wrinkle_severity=0.75, wrinkle_reduction=reduction, geometric=False, lighting=False,
                                 seed=30_000 + i)
            pair = simulate_pair(read_photo(path).pixels, anchors, spec)
            base = analyse_face(photo_from_array(pair.before), models, config)

            def gais(capture: RecaptureSpec):  # noqa: ANN202
                again, _ = recapture(pair.after, anchors, capture, np.random.default_rng(5))
                return assess_pair(base, photo_from_array(again), models, config).gais

            ref = gais(REFERENCE)
            reference_wrinkle.setdefault(scenario, []).append(ref.wrinkle_component)
            for name, capture in changes.items():
                g = gais(capture)
                rows.setdefault((scenario, name), []).append((
                    g.wrinkle_component - ref.wrinkle_component,
                    (g.laxity_component or 0.0) - (ref.laxity_component or 0.0),
                    g.improvement_score - ref.improvement_score))
        print(f"  {i + 1}/{len(files)} faces", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print(f"{len(files)} faces; change against the follow-up photographed again unchanged (JPEG 97)")
    for scenario in SCENARIOS:
        print(f"{scenario}: wrinkle component without the change, mean {np.mean(reference_wrinkle[scenario]):+.3f}")
        for name in changes:
            a = np.asarray(rows[(scenario, name)])
            print(f"  {name:9s} wrinkle mean {a[:, 0].mean():+.3f} max|.| {np.abs(a[:, 0]).max():.3f}   "
                  f"laxity mean|.| {np.abs(a[:, 1]).mean():.3f}   score mean|.| {np.abs(a[:, 2]).mean():.3f} "
                  f"max|.| {np.abs(a[:, 2]).max():.3f}")


if __name__ == "__main__":
    main()
