"""Time per stage, in-process, for pairs of 1350×1350 London photos.

Models are loaded once (their load time is printed separately). Stages:
read (decode + sha256), landmarks (detector + two mesh passes + pose),
registration steps (landmark fit, ECC refinement, local correction) and the
final warp. Also the CLI's start-up cost (`outcomes --help`).

    python benchmarks/speed.py [--pairs 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import defaultdict

import numpy as np
from _common import shared_data, summary

from outcomes.align import register, warp_to_before
from outcomes.io import read_photo
from outcomes.landmarks import FaceLandmarker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    args = parser.parse_args()
    data = shared_data()
    neutral = sorted((data / "london" / "neutral").glob("*.jpg"))[: args.pairs]
    start = time.perf_counter()
    landmarker = FaceLandmarker()
    print(f"model load: {(time.perf_counter() - start) * 1e3:.0f} ms")
    stages: dict[str, list[float]] = defaultdict(list)
    for path in neutral:
        smiling = data / "london" / "smiling" / path.name.replace("_03", "_08")
        t0 = time.perf_counter()
        before, after = read_photo(path), read_photo(smiling)
        t1 = time.perf_counter()
        before_lm, after_lm = landmarker.detect(before), landmarker.detect(after)
        t2 = time.perf_counter()
        reg = register(before.pixels, before_lm, after.pixels, after_lm)
        t3 = time.perf_counter()
        warp_to_before(after.pixels, reg, (before.width, before.height))
        t4 = time.perf_counter()
        stages["read, per photo"].append((t1 - t0) / 2)
        stages["landmarks, per photo"].append((t2 - t1) / 2)
        for k, v in reg.stage_ms.items():
            stages[f"  register: {k.removesuffix('_ms')}"].append(v / 1e3)
        stages["register, total"].append(t3 - t2)
        stages["warp"].append(t4 - t3)
        stages["alignment per pair (register + warp)"].append(t4 - t2)
        stages["whole pair (read + landmarks + align)"].append(t4 - t0)
    landmarker.close()
    print(f"{len(neutral)} neutral→smiling pairs, 1350x1350, times in ms:")
    for name, values in stages.items():
        print(f"  {name:42s} {summary(np.array(values) * 1e3)}")
    cli = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "outcomes.cli", "--help"], check=True, capture_output=True)
        cli.append(time.perf_counter() - start)
    print(f"`outcomes --help` wall time, ms: {summary(np.array(cli) * 1e3)}")


if __name__ == "__main__":
    main()
