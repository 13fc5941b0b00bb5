"""The output folder of a batch job: what is finished, written so that nothing is lost.

Layout of DIR::

    job.json              what the job is (manifest, config, models, scorer); checked on --resume
    pairs/<key>.json      one record per finished pair (the contract's assessment + a ``batch`` block,
                          or just the block with its ``error``); written atomically, last
    thumbnails/<key>.jpg  baseline | aligned follow-up; written before its record
    batch.log             one line per pair, appended

A pair is finished exactly when its record exists, parses, and was made
from the same photo bytes (sha256) with the same configuration. The tables,
``summary.json`` and ``report.html`` are rebuilt from the records at the end
of every run, so after an interruption (even ``kill -9``) a ``--resume`` run
redoes only the missing pairs and ends with the same outputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from outcomes.batch.jobs import PairOutcome, PairTask
from outcomes.errors import BatchError
from outcomes.io import write_bytes, write_json
from outcomes.schema import SCHEMA_VERSION

# job.json fields that must match for --resume to add to the same results.
IDENTITY_FIELDS = ("package_version", "config_sha256", "wrinkle_detector", "wrinkle_cnn_sha256",
                   "gais_scorer_sha256", "mediapipe")


def key_stem(key: tuple[str, str, str]) -> str:
    """A file name for (subject, visit, view): each part percent-encoded, joined by ``__``.

    Reversible and collision-free (``_`` in a part is encoded), safe on any file system.
    """
    return "__".join(quote(part, safe="").replace("_", "%5F") for part in key)


class ResultStore:
    """Records of finished pairs in a job folder (see the module docstring)."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.pairs = self.directory / "pairs"
        self.thumbnails = self.directory / "thumbnails"
        self.job_file = self.directory / "job.json"
        self.log_file = self.directory / "batch.log"

    def record_path(self, key: tuple[str, str, str]) -> Path:
        return self.pairs / f"{key_stem(key)}.json"

    def thumbnail_path(self, key: tuple[str, str, str]) -> Path:
        return self.thumbnails / f"{key_stem(key)}.jpg"

    def open(self, identity: dict, resume: bool) -> bool:
        """Start or continue the job; returns True when continuing an earlier one.

        Raises
        ------
        BatchError
            DIR holds another run's job and ``resume`` is False; or it holds a
            job made with another configuration, models or scorer.
        """
        previous = self.read_job()
        if previous is not None and not resume:
            raise BatchError(f"{self.directory}: holds a batch job already (job.json); add --resume to finish it, "
                             "or choose another --out")
        if previous is not None:
            differ = [f"{k} {previous.get(k)!r} -> {identity.get(k)!r}" for k in IDENTITY_FIELDS
                      if previous.get(k) != identity.get(k)]
            if differ:
                raise BatchError(f"{self.directory}: cannot resume, the job was started with other settings "
                                 f"({'; '.join(differ)}); use another --out for a new job")
        self.pairs.mkdir(parents=True, exist_ok=True)
        self.thumbnails.mkdir(parents=True, exist_ok=True)
        write_json(self.job_file, {**(previous or {}), **identity, "schema_version": SCHEMA_VERSION})
        return previous is not None

    def read_job(self) -> dict | None:
        try:
            return json.loads(self.job_file.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise BatchError(f"{self.job_file}: unreadable job file ({exc}); use another --out") from exc

    def update_job(self, **fields: object) -> None:
        write_json(self.job_file, {**(self.read_job() or {}), **fields})

    def finished(self, task: PairTask, config_sha256: str) -> dict | None:
        """The record of ``task`` if it is finished and still valid, else None."""
        try:
            record = json.loads(self.record_path(task.key).read_text())
        except (OSError, ValueError):
            return None  # absent, or torn by a crash outside our atomic writes: redo
        batch = record.get("batch") if isinstance(record, dict) else None
        if not isinstance(batch, dict) or (batch.get("subject_id"), batch.get("visit"), batch.get("view")) != task.key:
            return None
        if (batch.get("before_sha256"), batch.get("after_sha256")) != (task.before_sha256, task.after_sha256):
            return None  # a photo was replaced since
        if task.before_sha256 is None or task.after_sha256 is None:
            return None  # a photo was unreadable: try again, it may be fixed
        if not batch.get("error") and record.get("provenance", {}).get("config_sha256") != config_sha256:
            return None
        return record

    def save(self, outcome: PairOutcome) -> Path:
        """Write the thumbnail, then the record (the record marks the pair finished)."""
        key = outcome.task.key
        path = self.thumbnail_path(key)
        if outcome.thumbnail_jpeg is not None:
            write_bytes(path, outcome.thumbnail_jpeg)
        else:
            path.unlink(missing_ok=True)  # an old thumbnail must not stand for a pair that now fails
        return write_json(self.record_path(key), outcome.record)
