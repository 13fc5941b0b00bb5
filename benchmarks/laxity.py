"""Do the jawline and fold measures follow rendered sagging and its tightening?

On each London face, jowls and fold shading are rendered from the face's
hand-placed template (``outcomes.simulate.sagging``: jowl displacement
0.02–0.08 IPD, fold depth 8–35 % of the light at the crease, widths
0.02–0.045 IPD), then tightened at follow-up by a known fraction drawn from
−50 % (worse) to +100 %. Wrinkles are rendered at the same depth at both
visits, so only laxity changes. Every follow-up has its own exposure, white
balance and position; one in two is also photographed again
(``simulate.recapture``: 0.6–1.6× size, blur, noise, JPEG, ±3° turn) and one
in three is lit from one side (±12 % of the light across the face). One pair
per face is not tightened at all.

Printed, for the tuning half (faces at even positions) and the held-out half,
and by skin tone (ITA of the baseline): Spearman(true jowl change, jawline
change), Spearman(true fold-depth change, fold change), Spearman(true
tightening, laxity component), the share of untightened pairs graded No
change, and the laxity confidences.

    python benchmarks/laxity.py [--faces 61] [--pairs 3] [--seed 0] [--out rows.csv]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_data, summary, write_rows  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from outcomes.config import load_config  # noqa: E402
from outcomes.io import photo_from_array, read_photo  # noqa: E402
from outcomes.pipeline import assess_pair  # noqa: E402
from outcomes.runtime import load_models  # noqa: E402
from outcomes.simulate import (  # noqa: E402
    SaggingSpec,
    TreatmentSpec,
    london_anchors,
    london_lower_face,
    read_tem,
    simulate_pair,
)
from outcomes.simulate.photometric import side_light  # noqa: E402
from outcomes.simulate.recapture import random_recapture, recapture  # noqa: E402

ITA_GROUPS = (("> 41°", 41, 99), ("28–41°", 28, 41), ("10–28°", 10, 28), ("< 10°", -99, 10))


def sagging_specs(rng: np.random.Generator, pairs: int) -> list[SaggingSpec]:
    """``pairs`` tightened specs and one untightened one."""
    def draw(tightening: float) -> SaggingSpec:
        return SaggingSpec(jowl_ipd=float(rng.uniform(0.02, 0.08)), fold_depth=float(rng.uniform(0.08, 0.35)),
                           fold_width_ipd=float(rng.uniform(0.02, 0.045)), tightening=tightening)
    return [draw(float(rng.uniform(-0.5, 1.0))) for _ in range(pairs)] + [draw(0.0)]


def laxity_row(a, truth: dict) -> dict:  # noqa: ANN001 - Assessment
    """Measured jawline, fold and laxity changes of one assessment beside the truth."""
    def change(prefix: str) -> tuple[float | None, float | None]:
        values = [(c.laxity_before - c.laxity_after, c.laxity_confidence) for n, c in a.regions.items()
                  if n.startswith(prefix) and c.laxity_before is not None]
        if not values:
            return None, None
        return float(np.mean([v for v, _ in values])), float(np.mean([c for _, c in values]))
    jaw, jaw_conf = change("jawline")
    nasolabial, nl_conf = change("nasolabial")
    marionette, _ = change("marionette")
    fold_values = [v for v in (nasolabial, marionette) if v is not None]
    sag = truth["sagging"]
    return {
        "tightening": sag["tightening"], "true_jowl_change_ipd": sag["jowl_change_ipd"],
        "true_fold_change": sag["fold_depth_change"], "jowl_ipd": sag["before"]["jowl_ipd"],
        "fold_depth": sag["before"]["fold_depth"],
        "jawline_change": jaw, "fold_change": float(np.mean(fold_values)) if fold_values else None,
        "laxity_component": a.gais.laxity_component, "jaw_confidence": jaw_conf, "fold_confidence": nl_conf,
        "score": a.gais.improvement_score, "grade": a.gais.grade, "usable": a.usable,
        "ita": a.skin_before.ita_deg, "flags": ";".join(f.split(":")[0] for f in a.qc_flags),
    }


def spearman(rows: list[dict], truth: str, measured: str) -> str:
    pairs = [(r[truth], r[measured]) for r in rows if r[measured] is not None]
    if len(pairs) < 3:
        return "  n/a"
    t, m = zip(*pairs)
    return f"{spearmanr(t, m).statistic:5.3f} (n={len(pairs)})"


def report(rows: list[dict], title: str) -> None:
    tightened = [r for r in rows if r["kind"] == "tightened"]
    still = [r for r in rows if r["kind"] == "untightened"]
    print(f"{title}: {len(rows)} pairs, not usable {sum(not r['usable'] for r in rows)}")
    print(f"  Spearman(true jowl change, jawline change):     {spearman(tightened, 'true_jowl_change_ipd', 'jawline_change')}")
    print(f"  Spearman(true fold change, fold change):        {spearman(tightened, 'true_fold_change', 'fold_change')}")
    print(f"  Spearman(true tightening, laxity component):    {spearman(tightened, 'tightening', 'laxity_component')}")
    if still:
        print(f"  untightened → No change: {sum(r['grade'] == 4 for r in still)}/{len(still)}; "
              f"|laxity component| {summary(np.abs([r['laxity_component'] or 0.0 for r in still]))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=61)
    parser.add_argument("--pairs", type=int, default=3, help="tightened pairs per face (plus one untightened)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config")
    parser.add_argument("--out", help="write one row per pair to this CSV")
    args = parser.parse_args()
    files = sorted((shared_data() / "london" / "neutral").glob("*.jpg"))
    files = files[:: max(1, len(files) // args.faces)][: args.faces]
    config = load_config(args.config)
    models = load_models(config)
    rng = np.random.default_rng(args.seed)
    rows = []
    for i, path in enumerate(files):
        points = read_tem(path.with_suffix(".tem"))
        anchors, lower = london_anchors(points), london_lower_face(points)
        pixels = read_photo(path).pixels
        half = "tuning" if sorted(files).index(path) % 2 == 0 else "held-out"
        for j, sag in enumerate(sagging_specs(rng, args.pairs)):
            spec = TreatmentSpec(wrinkle_severity=float(rng.uniform(0.3, 0.8)), sagging=sag,
                                 seed=args.seed * 100_000 + i * 100 + j)
            pair = simulate_pair(pixels, anchors, spec, lower)
            after = pair.after
            if j % 2 == 1:
                after, _ = recapture(after, anchors, random_recapture(rng), rng)
            if j % 3 == 2:
                after = side_light(after, anchors, float(rng.uniform(-0.12, 0.12)))
            a = assess_pair(photo_from_array(pair.before, f"{path.stem}-{j}-before"),
                            photo_from_array(after, f"{path.stem}-{j}-after"), models, config)
            rows.append({"face": path.stem, "half": half, "kind": "untightened" if sag.tightening == 0 else "tightened",
                         "recaptured": j % 2 == 1, "side_light": j % 3 == 2, **laxity_row(a, pair.ground_truth)})
        print(f"  {i + 1}/{len(files)} faces", flush=True, end="\r")
    models.close()
    print()
    if args.out:
        write_rows(args.out, rows)
    report(rows, "all faces")
    for half in ("tuning", "held-out"):
        report([r for r in rows if r["half"] == half], f"{half} half")
    for name, lo, hi in ITA_GROUPS:
        report([r for r in rows if r["ita"] is not None and lo <= r["ita"] < hi], f"ITA {name}")
    for name, test in (("recaptured", lambda r: r["recaptured"]), ("side light", lambda r: r["side_light"])):
        report([r for r in rows if test(r)], name)
    conf = [r["jaw_confidence"] for r in rows if r["jaw_confidence"] is not None]
    fold_conf = [r["fold_confidence"] for r in rows if r["fold_confidence"] is not None]
    print(f"confidence: jawline {summary(np.array(conf))}; folds {summary(np.array(fold_conf))}")


if __name__ == "__main__":
    main()
