"""Time and peak memory of the commands on the largest photos the default limits accept.

A bundled sample pair is enlarged to SIDE×SIDE (9000 and 10000 px: 81 and 100 megapixels,
the default limit being 100) and saved as JPEG; each command runs as its own process and
is measured by ``/usr/bin/time -v`` (wall time, maximum resident set size), model loading
included. The target: within 10 s and 2 GB for any accepted photo.

    python benchmarks/large_photo.py [--sides 9000 10000]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data_samples"


def measured(args: list[str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, peak resident MiB, exit status) of ``outcomes ARGS``."""
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "outcomes.cli", *args], capture_output=True,
                          text=True, cwd=cwd)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return seconds, int(rss.group(1)) / 1024, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", type=int, nargs="+", default=[9000, 10000])
    args = parser.parse_args()
    print(f"{'photo':>12s}  {'command':48s} {'wall s':>7s} {'peak MiB':>9s}  exit")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        for side in args.sides:
            for name in ("S01_baseline", "S01_day90"):
                big = cv2.resize(cv2.imread(str(SAMPLES / f"{name}.jpg")), (side, side), interpolation=cv2.INTER_CUBIC)
                cv2.imwrite(str(folder / f"{name}_{side}.jpg"), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
            b, a = f"S01_baseline_{side}.jpg", f"S01_day90_{side}.jpg"
            for command in (["assess", b, a, "--json", "out.json", "--report", "out.html"],
                            ["assess", b, f"{SAMPLES / 'S01_day90.jpg'}", "--json", "out.json"],
                            ["align", b, a, "--json", "align.json", "--out-image", "aligned.png"],
                            ["landmarks", b, "--json", "lm.json"],
                            ["wrinkles", b, "--mask", "mask.png"]):
                seconds, mib, rc = measured(command, folder)
                shown = " ".join(c if "/" not in c else "S01_day90.jpg (1050²)" for c in command)
                print(f"{side:>6d}×{side:<5d}  {shown[:48]:48s} {seconds:7.1f} {mib:9.0f}  {rc}", flush=True)


if __name__ == "__main__":
    main()
