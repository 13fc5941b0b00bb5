"""Batch throughput, scaling and memory; Ray vs local; kill -9 and --resume, on a simulated trial of real faces.

The study: ``--subjects`` London faces (default 60), each a subject with a
baseline and day-30 and day-90 follow-ups simulated by
``outcomes.simulate.simulate_trial`` (1350×1350 photos; 2 pairs per subject).
Steps, each printed with its figures:

1. ``run_batch`` with the local executor: 1 worker with both cores' threads, 1 worker
   with one thread, 2 workers with one thread each (``--runs``):
   wall time, pairs/s end to end (worker start-up included) and in steady
   state (after every worker's first pair), median seconds per pair, peak
   resident memory per worker process.
2. ``--executor ray`` with 2 workers: are ``assessments.csv`` bytes equal to
   the local run's?
3. ``outcomes batch`` killed with SIGKILL once half the pairs are recorded,
   then ``--resume``: rows lost or duplicated, pairs redone, and whether
   ``assessments.csv``, ``summary.json`` and ``report.html`` equal the
   uninterrupted run's.

    python benchmarks/batch.py [--subjects 60] [--config YAML] [--runs 1x2,1x1,2x1] [--work DIR]
                               [--skip-ray] [--skip-kill]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import REPO, london_trial

from outcomes.batch import run_batch
from outcomes.config import load_config


def timed_run(manifest: Path, out: Path, config, workers: int, executor: str = "local",  # noqa: ANN001
              threads: int | None = None) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    stamps: list[float] = []
    start = time.perf_counter()
    result = run_batch(manifest, out, config, workers=workers, executor=executor, threads=threads,
                       on_outcome=lambda _: stamps.append(time.perf_counter()))
    wall = time.perf_counter() - start
    seconds = [json.loads(p.read_text())["batch"]["seconds"] for p in (out / "pairs").glob("*.json")]
    steady = (len(stamps) - workers) / (stamps[-1] - stamps[workers - 1]) if len(stamps) > workers else None
    return {"pairs": result.pairs, "errors": result.errors, "wall_s": wall, "e2e_pairs_per_s": result.pairs / wall,
            "steady_pairs_per_s": steady, "median_pair_s": statistics.median(seconds),
            "peak_rss_mb": sorted(result.peak_rss_mb_by_worker.values()), "summary": result.summary}


def kill_and_resume(manifest: Path, out: Path, reference: Path, config_path: str | None, workers: int) -> None:
    shutil.rmtree(out, ignore_errors=True)
    cli = [sys.executable, "-m", "outcomes.cli"] + (["--config", config_path] if config_path else [])
    cli += ["batch", str(manifest), "--out", str(out), "--workers", str(workers)]
    total = len(list((reference / "pairs").glob("*.json")))
    job = subprocess.Popen(cli, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while job.poll() is None and len(list((out / "pairs").glob("*.json")) if (out / "pairs").is_dir() else []) \
            < total // 2:
        time.sleep(0.1)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "pairs").glob("*.json")}
    print(f"  killed (SIGKILL) with {len(before)} of {total} pairs recorded")
    start = time.perf_counter()
    done = subprocess.run(cli + ["--resume"], cwd=REPO, capture_output=True, text=True)
    print(f"  --resume: exit {done.returncode} in {time.perf_counter() - start:.0f} s: "
          f"{done.stdout.splitlines()[0] if done.stdout else done.stderr.strip()}")
    after = {p.name: p.stat().st_mtime_ns for p in (out / "pairs").glob("*.json")}
    redone = sum(1 for n, t in before.items() if after.get(n) != t)
    rows = (out / "assessments.csv").read_text().splitlines()[1:]
    keys = [",".join(r.split(",")[:3]) for r in rows]
    print(f"  rows {len(rows)} of {total}, duplicated {len(keys) - len(set(keys))}, finished pairs redone {redone}")
    for name in ("assessments.csv", "summary.json", "report.html"):
        same = (out / name).read_bytes() == (reference / name).read_bytes()
        print(f"  {name}: {'identical to' if same else 'DIFFERS from'} the uninterrupted run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=60)
    parser.add_argument("--config", help="settings YAML (default: the built-in defaults, the CNN included)")
    parser.add_argument("--runs", default="1x2,1x1,2x1", help="local runs as WORKERSxTHREADS, comma-separated "
                        "(default: 1 worker with both cores, 1 worker with one, 2 workers with one each)")
    parser.add_argument("--work", default="/tmp/outcomes-batch-benchmark")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-kill", action="store_true")
    args = parser.parse_args()
    work = Path(args.work)
    manifest = work / "study" / "manifest.csv"
    if not manifest.is_file():
        london_trial(work / "study", args.subjects)
    config = load_config(args.config)
    print(f"study {manifest}; wrinkle detector {config.wrinkles.detector}; {os.cpu_count()} CPU cores")
    runs = {}
    for spec in args.runs.split(","):
        w, t = (int(x) for x in spec.split("x"))
        r = runs[(w, t)] = timed_run(manifest, work / f"local-{w}x{t}", config, w, threads=t)
        print(f"local, {w} worker(s) x {t} thread(s): {r['pairs']} pairs ({r['errors']} errors) in {r['wall_s']:.0f} s; "
              f"{r['e2e_pairs_per_s']:.2f} pairs/s end to end, {r['steady_pairs_per_s']:.2f} in steady state; "
              f"median {r['median_pair_s']:.2f} s per pair in a worker; peak memory per worker "
              f"{', '.join(f'{m:.0f}' for m in r['peak_rss_mb'])} MiB", flush=True)
    two = runs.get((2, 1))
    for base in ((1, 2), (1, 1)):
        if two and base in runs:
            print(f"scaling {base[0]} worker x {base[1]} thread(s) -> 2 workers x 1 thread: "
                  f"x{two['e2e_pairs_per_s'] / runs[base]['e2e_pairs_per_s']:.2f} end to end, "
                  f"x{two['steady_pairs_per_s'] / runs[base]['steady_pairs_per_s']:.2f} steady state")
    key = (2, 1) if two else next(iter(runs))
    reference = work / f"local-{key[0]}x{key[1]}"
    s = runs[key]["summary"]
    resp, pih = s["responder_rate"]["overall"], s["pih_incidence"]["overall"]
    print(f"trial: responders {resp['count']}/{resp['n']} ({resp['ci_low']:.2f}-{resp['ci_high']:.2f}), "
          f"PIH {pih['count']}/{pih['n']}; by group "
          + ", ".join(f"{g} {p['count']}/{p['n']}" for g, p in s["responder_rate"]["by_fitzpatrick_group"].items()))
    if not args.skip_ray:
        r = timed_run(manifest, work / "ray-2", config, 2, executor="ray")
        same = (work / "ray-2" / "assessments.csv").read_bytes() == (reference / "assessments.csv").read_bytes()
        print(f"ray, 2 workers: {r['wall_s']:.0f} s, {r['e2e_pairs_per_s']:.2f} pairs/s end to end; assessments.csv "
              f"{'identical to' if same else 'DIFFERS from'} {reference.name}", flush=True)
    if not args.skip_kill:
        print("kill -9 halfway, then --resume (2 workers):")
        kill_and_resume(manifest, work / "killed", reference, args.config, 2)


if __name__ == "__main__":
    main()
