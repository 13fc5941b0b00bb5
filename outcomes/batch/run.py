"""``outcomes batch``: the one place that composes a batch job.

manifest (validated, every problem at once) → tasks (photo hashes) →
finished records kept, the rest assessed by an executor, each record saved
as it arrives → tables, summary and report rebuilt from all records.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from outcomes.batch.executors import EXECUTORS, default_threads, run_local, run_ray
from outcomes.batch.jobs import PairOutcome, PairTask
from outcomes.batch.store import ResultStore
from outcomes.config import Config
from outcomes.errors import BatchError

LOG = logging.getLogger("outcomes.batch")


@dataclass(frozen=True)
class BatchResult:
    """What a finished job wrote and how it went."""

    out_dir: Path
    pairs: int
    reused: int
    assessed: int
    errors: int
    not_usable: int
    seconds: float
    pairs_per_second: float | None
    peak_rss_mb_by_worker: dict[str, float]
    outputs: dict[str, Path]
    summary: dict


def job_identity(config: Config, scorer_path: str | Path | None) -> dict:
    """What must not change between a job and its --resume (see ``store.IDENTITY_FIELDS``)."""
    from importlib.metadata import version

    from outcomes.io import file_sha256
    from outcomes.schema import run_identity

    cnn = None if config.wrinkles.detector == "classical" else config.wrinkles.cnn_sha256
    return {
        **run_identity(config), "wrinkle_detector": config.wrinkles.detector,
        "wrinkle_cnn_sha256": cnn, "mediapipe": version("mediapipe"),  # without importing it here
        "gais_scorer_sha256": None if scorer_path is None else file_sha256(scorer_path),
        "gais_scorer": None if scorer_path is None else str(scorer_path),
    }


def _hashes(paths: set[Path]) -> dict[Path, str | None]:
    """sha256 of every photo; None for one that cannot be read (its pairs become error rows)."""
    from outcomes.io import file_sha256

    out: dict[Path, str | None] = {}
    for p in sorted(paths):
        try:
            out[p] = file_sha256(p)
        except OSError:
            out[p] = None
    return out


def run_batch(
    manifest_path: str | Path, out_dir: str | Path, config: Config | None = None, *, workers: int = 1,
    executor: str = "local", ray_address: str | None = None, resume: bool = False,
    scorer: str | Path | None = None, baseline_visit: str | None = None, threads: int | None = None,
    progress: bool = False, on_outcome: Callable[[PairOutcome], None] | None = None,
) -> BatchResult:
    """Assess every follow-up of a manifest against its baseline and write the trial's outputs.

    Parameters
    ----------
    manifest_path : path
        CSV as in ``../shared/CONTRACT.md`` (see :mod:`outcomes.manifest`).
    out_dir : path
        Created if needed; see :mod:`outcomes.batch.store` for its layout.
    workers : int
        Processes (local) or actors (Ray), each with its own models.
    executor : {"local", "ray"}
    resume : bool
        Continue the job in ``out_dir``: finished pairs are kept, the rest assessed.
    scorer : path, optional
        A GAIS scorer from ``outcomes calibrate``.
    threads : int, optional
        CPU threads per worker (default: cores / workers).
    progress : bool
        Show a progress bar with ETA on stderr.
    on_outcome : callable, optional
        Called in this process after each pair's record is saved.

    Raises
    ------
    ManifestError
        Every problem of the manifest; nothing is written.
    ModelError
        A bad scorer file; nothing is written.
    BatchError
        ``out_dir`` holds another job (without ``resume``), or a worker died.
    """
    from outcomes.manifest import read_manifest
    from outcomes.runtime import load_configured_scorer

    if executor not in EXECUTORS:
        raise BatchError(f"--executor: expected one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers < 1:
        raise BatchError(f"--workers: need at least 1 worker, got {workers}")
    config = config or Config()
    manifest = read_manifest(manifest_path, baseline_visit)  # every problem, before anything is written
    calibrated = None if scorer is None else load_configured_scorer(scorer, config)
    hashes = _hashes({p for pair in manifest.pairs for p in (pair.baseline.image, pair.follow_up.image)})
    tasks = [PairTask.from_planned(p, manifest.path.parent, hashes) for p in manifest.pairs]
    threads = threads or default_threads(workers)
    store = ResultStore(out_dir)
    identity = job_identity(config, scorer)
    continuing = store.open(identity, resume)
    handler = _attach_log(store.log_file)
    try:
        config_sha = config.sha256()
        records: dict[tuple[str, str, str], dict] = {}
        for task in tasks:
            record = store.finished(task, config_sha)
            if record is not None:
                records[task.key] = record
        pending = [t for t in tasks if t.key not in records]
        LOG.info("%s %s: %d pairs, %d finished before, %d to assess; executor %s, %d worker(s) x %d thread(s)",
                 "resuming" if continuing else "starting", manifest.path, len(tasks), len(records), len(pending),
                 executor, workers, threads)
        store.update_job(manifest=str(manifest.path), executor=executor, workers=workers, threads=threads,
                         started=_now(), finished=None)
        start = time.perf_counter()
        peaks: dict[str, float] = defaultdict(float)
        outcomes_iter = (run_local(pending, config, calibrated, workers, threads) if executor == "local"
                         else run_ray(pending, config, calibrated, workers, threads, ray_address))
        bar = _progress_bar(len(tasks), len(records), progress)
        try:
            for outcome in outcomes_iter:
                store.save(outcome)
                records[outcome.task.key] = outcome.record
                peaks[outcome.worker] = max(peaks[outcome.worker], outcome.peak_rss_mb)
                _log_outcome(outcome)
                if bar is not None:
                    bar.update(1)
                if on_outcome is not None:
                    on_outcome(outcome)
        except KeyboardInterrupt:
            LOG.warning("interrupted: %d of %d pairs finished and kept; run again with --resume", len(records),
                        len(tasks))
            raise BatchInterrupted(len(records), len(tasks)) from None
        finally:
            if bar is not None:
                bar.close()
        seconds = time.perf_counter() - start
        ordered = [records[t.key] for t in tasks]
        outputs, summary = write_outputs(ordered, store, manifest.path, identity)
        rate = len(pending) / seconds if pending and seconds > 0 else None
        errors = sum(1 for r in ordered if r["batch"].get("error"))
        not_usable = sum(1 for r in ordered if not r["batch"].get("error") and not r["qc"]["usable"])
        store.update_job(finished=_now(), seconds=round(seconds, 2), assessed=len(pending),
                         pairs_per_second=None if rate is None else round(rate, 4),
                         peak_rss_mb_by_worker={w: round(m, 1) for w, m in peaks.items()})
        LOG.info("finished: %d pairs (%d assessed now, %.1f s, %s pairs/s), %d errors, %d not usable", len(tasks),
                 len(pending), seconds, "-" if rate is None else f"{rate:.3f}", errors, not_usable)
        return BatchResult(Path(out_dir), len(tasks), len(tasks) - len(pending), len(pending), errors, not_usable,
                           seconds, rate, dict(peaks), outputs, summary)
    finally:
        LOG.removeHandler(handler)
        handler.close()


class BatchInterrupted(KeyboardInterrupt):
    """The job was interrupted (Ctrl-C, SIGTERM); ``finished`` of ``total`` pairs are kept for ``--resume``."""

    def __init__(self, finished: int, total: int) -> None:
        super().__init__(f"{finished} of {total} pairs finished")
        self.finished, self.total = finished, total


def write_outputs(records: list[dict], store: ResultStore, manifest_path: Path, identity: dict) -> tuple[dict, dict]:
    """Tables, ``summary.json`` and ``report.html`` from the records (in manifest order)."""
    from outcomes.batch.report import render_trial_report, write_trial_report
    from outcomes.batch.stats import summarise
    from outcomes.batch.tables import pair_result, write_tables
    from outcomes.io import write_json

    outputs = write_tables(records, store.directory)
    results = [pair_result(r) for r in records]
    summary = summarise(results)
    payload = {**summary.to_dict(), "manifest": manifest_path.name,
               "job": {k: identity[k] for k in ("package_version", "config_sha256", "wrinkle_detector",
                                                "wrinkle_cnn_sha256", "gais_scorer_sha256")}}
    outputs["summary"] = write_json(store.directory / "summary.json", payload)
    html = render_trial_report(summary, records, results, f"Trial report: {manifest_path.name}", identity)
    outputs["report"] = write_trial_report(store.directory / "report.html", html)
    return outputs, payload


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _attach_log(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    return handler


def _log_outcome(outcome: PairOutcome) -> None:
    b, t = outcome.record["batch"], outcome.task
    what = f"{t.subject_id} {t.visit} {t.view}"
    if b.get("error"):
        LOG.error("%s: error: %s (%.1f s, %s)%s", what, b["error"], b["seconds"], outcome.worker,
                  "\n" + b["traceback"] if b.get("traceback") else "")
        return
    gais, qc = outcome.record["gais"], outcome.record["qc"]
    LOG.info("%s: GAIS %d %s%s%s (%.1f s, %s, peak %.0f MiB)", what, gais["grade"], gais["label"],
             ", PIH" if outcome.record["pih"]["flag"] else "", "" if qc["usable"] else ", NOT USABLE",
             b["seconds"], outcome.worker, outcome.peak_rss_mb)


def _progress_bar(total: int, done: int, show: bool):  # noqa: ANN202 - tqdm or None
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="pair", desc="assessing", dynamic_ncols=True)
