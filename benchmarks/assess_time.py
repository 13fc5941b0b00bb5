"""Time of ``assess_pair`` per pair, for this checkout and, side by side, another source tree.

Pairs: simulated treatments (wrinkle reduction, lighting and pose change) on London faces,
written once as JPEG files so that every run reads the same bytes. Each measured run is a
fresh process that loads the models, assesses one pair untimed (warm-up), then times every
pair; runs of the two trees alternate, ``--rounds`` times each, so that a busier moment of
the machine does not favour one of them.

    python benchmarks/assess_time.py [--faces 10] [--rounds 2] [--against /tmp/old]

``--against DIR`` is a source tree of the package (e.g. ``git worktree add /tmp/old REV``),
run with the same Python; it must be importable with its own dependencies installed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import shared_data

REPO = Path(__file__).resolve().parents[1]

_TIMER = """
import json, sys, time
from pathlib import Path
import importlib
import outcomes
import outcomes.pipeline as pipeline
from outcomes.pipeline import assess_pair
# trees from before outcomes.runtime have load_models in the pipeline module
load_models = getattr(pipeline, "load_models", None) or importlib.import_module("outcomes.runtime").load_models
pairs = json.loads(sys.argv[1])
start = time.perf_counter()
models = load_models()
load_ms = (time.perf_counter() - start) * 1e3
assess_pair(*pairs[0], models)
ms = []
for before, after in pairs:
    t0 = time.perf_counter()
    assess_pair(before, after, models)
    ms.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"load_ms": load_ms, "ms": ms, "package": str(Path(outcomes.__file__).parent),
                  "torch_loaded": "torch" in sys.modules}))
"""


def make_pairs(folder: Path, faces: int, seed: int) -> list[tuple[str, str]]:
    from outcomes.io import read_photo
    from outcomes.simulate import TreatmentSpec, simulate_pair
    from outcomes.simulate.templates import london_anchors, read_tem

    files = sorted((shared_data() / "london" / "neutral").glob("*.jpg"))
    files = files[:: max(1, len(files) // faces)][:faces]
    rng = np.random.default_rng(seed)
    pairs = []
    import cv2

    for i, path in enumerate(files):
        spec = TreatmentSpec(wrinkle_severity=0.6, wrinkle_reduction=float(rng.uniform(0, 0.9)), geometric=True,
                             lighting=True, seed=seed * 1000 + i)
        pair = simulate_pair(read_photo(path).pixels, london_anchors(read_tem(path.with_suffix(".tem"))), spec)
        names = []
        for side, rgb in (("before", pair.before), ("after", pair.after)):
            out = folder / f"{path.stem}_{side}.jpg"
            cv2.imwrite(str(out), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
            names.append(str(out))
        pairs.append((names[0], names[1]))
    return pairs


def timed_run(tree: Path, pairs: list[tuple[str, str]]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", _TIMER, json.dumps(pairs)], capture_output=True, text=True,
                          env=env, cwd=tree, timeout=3600)
    if done.returncode:
        raise SystemExit(f"{tree}: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--against", type=Path, help="another source tree to time side by side")
    args = parser.parse_args()
    trees = {"this checkout": REPO}
    if args.against is not None:
        trees[f"{args.against}"] = args.against.resolve()
    with tempfile.TemporaryDirectory() as folder:
        pairs = make_pairs(Path(folder), args.faces, args.seed)
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, tree in trees.items():
                runs[name].append(timed_run(tree, pairs))
    print(f"{len(pairs)} pairs, {args.rounds} alternating runs per tree, median over all timed pairs")
    print(f"{'tree':40s} {'median ms':>10s} {'p90 ms':>8s} {'model load ms':>14s}  torch loaded")
    for name, results in runs.items():
        ms = np.concatenate([r["ms"] for r in results])
        load = np.median([r["load_ms"] for r in results])
        print(f"{name:40s} {np.median(ms):10.0f} {np.percentile(ms, 90):8.0f} {load:14.0f}  "
              f"{results[0]['torch_loaded']}")


if __name__ == "__main__":
    main()
