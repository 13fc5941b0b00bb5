"""PIH detection limit by skin tone: which macules does the check find, at what false-alarm rate?

Each London face's neutral photo is the baseline. Follow-ups:

- no change, photographed again (``outcomes.simulate.recapture``): any PIH
  flag is a false alarm (specificity);
- macules rendered on the cheeks (``outcomes.simulate.add_macules``: soft
  irregular blobs, L* down by ΔL*, b* up by 0.4·ΔL*), then the follow-up is
  photographed again. Each face gets ``--cells`` random cells of the grid
  ΔL* × diameter, ``--macules`` macules per follow-up; a macule is found when
  the check's spot mask covers a fifth of its half-peak area.

Sensitivity is printed per ITA group of the baseline (> 41°, 28–41°, 10–28°,
< 10°) and per grid cell, with the macule's contrast relative to its skin's
L*; ``--plot FILE`` draws sensitivity against ΔL* per group.

    python benchmarks/pih_detection_limit.py [--faces N] [--cells 6] [--macules 4] [--plot docs/pih_detection_limit.png]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_data  # noqa: E402

from outcomes.config import load_config  # noqa: E402
from outcomes.face_analysis import analyse_face  # noqa: E402
from outcomes.io import read_photo  # noqa: E402
from outcomes.pipeline import assess_pair  # noqa: E402
from outcomes.runtime import load_models  # noqa: E402
from outcomes.simulate import add_macules, london_anchors, read_tem  # noqa: E402
from outcomes.simulate.recapture import random_recapture, recapture  # noqa: E402
from outcomes.types import Photo  # noqa: E402

DELTA_L = (1.5, 2.0, 3.0, 4.0, 5.0, 8.0)
DIAMETER_IPD = (0.02, 0.04, 0.06, 0.1, 0.14, 0.2)
GROUPS = (("ITA > 41°", 41.0, 999.0), ("ITA 28–41°", 28.0, 41.0), ("ITA 10–28°", 10.0, 28.0), ("ITA < 10°", -999.0, 10.0))
FOUND_FRACTION = 0.2


def group_of(ita: float | None) -> str:
    if ita is None:
        return "ITA unknown"
    return next(name for name, lo, hi in GROUPS if lo <= ita < hi)


def photo(pixels: np.ndarray, name: str) -> Photo:
    return Photo(np.ascontiguousarray(pixels), name, hashlib.sha256(pixels.tobytes()).hexdigest())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=0, help="only the first N faces (0: all 61)")
    parser.add_argument("--cells", type=int, default=6, help="grid cells tried per face")
    parser.add_argument("--macules", type=int, default=4, help="macules per follow-up")
    parser.add_argument("--recaptures", type=int, default=2, help="no-change repeat photos per face")
    parser.add_argument("--config")
    parser.add_argument("--plot", help="write the sensitivity curves to this PNG")
    args = parser.parse_args()
    config = load_config(args.config)
    files = sorted((shared_data() / "london" / "neutral").glob("*.jpg"))
    if args.faces:
        files = files[:args.faces]
    cells = [(dl, d) for dl in DELTA_L for d in DIAMETER_IPD]
    models = load_models(config)
    found = defaultdict(list)  # (group, ΔL*, diameter) -> [bool per macule]
    relative = defaultdict(list)  # (group, ΔL*) -> ΔL*/L* of the macules' skin
    false_alarm = defaultdict(list)  # group -> [bool per no-change pair]
    start = time.perf_counter()
    for i, path in enumerate(files):
        base_photo = read_photo(path)
        anchors = london_anchors(read_tem(path.with_suffix(".tem")))
        base = analyse_face(base_photo, models, config)
        rng = np.random.default_rng(50_000 + i)
        group = None
        for j in range(args.recaptures):
            again, _ = recapture(base_photo.pixels, anchors, random_recapture(rng), rng)
            a = assess_pair(base, photo(again, f"{path.stem}-recapture-{j}"), models, config)
            group = group or group_of(a.skin_before.ita_deg)
            false_alarm[group].append(a.pih.flag)
        for k in rng.choice(len(cells), size=min(args.cells, len(cells)), replace=False):
            delta_l, diameter = cells[k]
            marked, _, params = add_macules(base_photo.pixels, anchors, rng, count=args.macules,
                                            radius_ipd=(diameter / 2, diameter / 2), delta_L=delta_l,
                                            delta_b=0.4 * delta_l)
            again, _ = recapture(marked, anchors, random_recapture(rng), rng)
            a = assess_pair(base, photo(again, f"{path.stem}-macules-{k}"), models, config)
            group = group or group_of(a.skin_before.ita_deg)
            light = base.lab[..., 0]
            ys, xs = np.mgrid[0:light.shape[0], 0:light.shape[1]]
            for p in params:
                cx, cy, r = p["center"][0], p["center"][1], p["radius_px"]
                near = (np.abs(xs - cx) <= r) & (np.abs(ys - cy) <= r)
                disc = near & ((xs - cx) ** 2 + (ys - cy) ** 2 <= r * r)
                covered = (a.pih.spot_mask & disc).sum() / max(disc.sum(), 1)
                found[(group, delta_l, diameter)].append(covered >= FOUND_FRACTION)
                relative[(group, delta_l)].append(delta_l / float(np.median(light[disc])))
        print(f"  {i + 1}/{len(files)} faces", end="\r", flush=True)
    models.close()
    print(f"\n{len(files)} faces in {time.perf_counter() - start:.0f} s; a macule is found when the PIH spot mask "
          f"covers {FOUND_FRACTION:.0%} of it")
    report(found, relative, false_alarm)
    if args.plot:
        plot(found, args.plot)


def rate(values: list[bool]) -> str:
    return f"{100 * np.mean(values):5.1f} % ({sum(values)}/{len(values)})" if values else "   n/a"


def report(found: dict, relative: dict, false_alarm: dict) -> None:
    groups = [g for g, _, _ in GROUPS] + ["ITA unknown"]
    print("specificity (no-change repeat photos without a PIH flag):")
    for g in groups:
        if false_alarm.get(g):
            print(f"  {g:12s} {rate([not f for f in false_alarm[g]])}")
    print("sensitivity for macules >= 3 L* darker and >= 0.06 IPD across (the target: >= 90 % in every group):")
    for g in groups:
        hits = [h for (gg, dl, d), v in found.items() if gg == g and dl >= 3 and d >= 0.06 for h in v]
        if hits:
            print(f"  {g:12s} {rate(hits)}")
    print("sensitivity by ΔL* (rows) and diameter in IPD (columns), per group; [ΔL*/L* of the skin]:")
    for g in groups:
        if not any(k[0] == g for k in found):
            continue
        print(f"  {g}")
        print("    ΔL*   " + "".join(f"{d:>10.2f}" for d in DIAMETER_IPD) + "   ΔL*/L*")
        for dl in DELTA_L:
            cells = []
            for d in DIAMETER_IPD:
                v = found.get((g, dl, d), [])
                cells.append(f"{100 * np.mean(v):6.0f}%/{len(v):<2d}" if v else "        - ")
            rel = relative.get((g, dl))
            print(f"    {dl:4.1f}  " + "".join(cells) + (f"   {100 * np.mean(rel):4.1f} %" if rel else ""))


def plot(found: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for g, _, _ in GROUPS:
        xs, ys = [], []
        for dl in DELTA_L:
            v = [h for (gg, ll, d), hits in found.items() if gg == g and ll == dl and d >= 0.06 for h in hits]
            if v:
                xs.append(dl)
                ys.append(100 * np.mean(v))
        if xs:
            ax.plot(xs, ys, marker="o", label=g)
    ax.axhline(90, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("macule ΔL* (darker than its skin)")
    ax.set_ylabel("sensitivity, macules ≥ 0.06 IPD across (%)")
    ax.set_ylim(0, 102)
    ax.legend()
    ax.set_title("PIH detection by skin tone (simulated macules, repeat photos)")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
