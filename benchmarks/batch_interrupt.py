"""Ctrl-C on a running ``outcomes batch``: how fast it stops, and whether --resume finishes it exactly.

A simulated trial of the bundled portrait (the example in ``examples/recalibrate_gais.py``,
four subjects, eight pairs) is run once uninterrupted. Then, ``--tries`` times, the same
job is started in its own process group with 2 workers and SIGINT is sent to the group
(as a terminal's Ctrl-C) at a point spread over the job: while the workers start, and after
1, 2, ... pairs were saved. For each try: seconds from the signal to exit, the exit status,
whether the --resume command was printed, no traceback, and whether running that command
gives outputs identical to the uninterrupted run's.

    python benchmarks/batch_interrupt.py [--tries 20]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTPUTS = ("assessments.csv", "summary.json", "report.html")


def _cli(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "outcomes.cli", *args], capture_output=True, text=True, cwd=REPO,
                          **kw)


def _records(out: Path) -> int:
    return len(list((out / "pairs").glob("*.json"))) if (out / "pairs").is_dir() else 0


def _as_in_a_terminal() -> None:
    """The job as a terminal's foreground command gets it: Ctrl-C not ignored. (A shell without job
    control starts background commands with SIGINT ignored, and a child inherits that.)"""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupted_run(manifest: Path, out: Path, after_records: int) -> dict:
    job = subprocess.Popen([sys.executable, "-m", "outcomes.cli", "batch", str(manifest), "--out", str(out),
                            "--workers", "2"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           start_new_session=True, preexec_fn=_as_in_a_terminal)
    while (not (out / "batch.log").is_file() or _records(out) < after_records) and job.poll() is None:
        time.sleep(0.02)
    os.killpg(job.pid, signal.SIGINT)
    t0 = time.monotonic()
    try:
        _, err = job.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        _, err = job.communicate()
    seconds = time.monotonic() - t0
    command = err.strip().splitlines()[-1].strip() if err.strip() else ""
    return {"seconds": seconds, "rc": job.returncode, "traceback": "Traceback" in err,
            "command": command if command.endswith("--resume") else None, "saved": _records(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("recalibrate_gais", REPO / "examples" / "recalibrate_gais.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        example.demo_trial(folder / "trial", subjects=4)
        manifest = folder / "trial" / "manifest.csv"
        reference = folder / "reference"
        done = _cli(["batch", str(manifest), "--out", str(reference), "--workers", "2"])
        if done.returncode:
            raise SystemExit(done.stderr)
        pairs = _records(reference)
        results = []
        for i in range(args.tries):
            out = folder / f"try{i}"
            result = interrupted_run(manifest, out, i % (pairs + 1) if i % (pairs + 1) < pairs else 0)
            same = False
            if result["command"]:
                resumed = _cli(shlex.split(result["command"])[1:])
                same = resumed.returncode == 0 and all((out / n).read_bytes() == (reference / n).read_bytes()
                                                       for n in OUTPUTS)
            results.append({**result, "resumed_identical": same})
            print(f"try {i + 1:2d}: signal after {result['saved']} saved pairs, exit {result['rc']} in "
                  f"{result['seconds']:.2f} s, resume command {'printed' if result['command'] else 'MISSING'}, "
                  f"{'traceback, ' if result['traceback'] else ''}resumed outputs "
                  f"{'identical' if same else 'DIFFER'}", flush=True)
    fast = sum(bool(r["seconds"] <= 5 and r["rc"] == 130 and not r["traceback"] and r["command"]) for r in results)
    same = sum(r["resumed_identical"] for r in results)
    worst = max(r["seconds"] for r in results)
    print(f"\n{pairs} pairs a job; stopped within 5 s with the --resume command and no traceback: {fast}/{len(results)} "
          f"(slowest {worst:.2f} s); resumed outputs identical to the uninterrupted run's: {same}/{len(results)}")


if __name__ == "__main__":
    main()
