"""Units of batch work: planned pairs in, per-pair records (and thumbnails) out.

Executors run :func:`assess_group` on the follow-ups of one baseline photo
(:func:`group_by_baseline`), which analyses the baseline once and gives each pair
the record :func:`assess_task` alone would: the same function with the same
models gives the same record in whichever process, so the local pool and Ray
agree. A pair that cannot be assessed becomes an error record; it never stops
the job.
"""

from __future__ import annotations

import socket
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from outcomes.errors import OutcomesError
from outcomes.schema import SCHEMA_VERSION

if TYPE_CHECKING:
    from outcomes.assessment import Assessment
    from outcomes.config import Config
    from outcomes.face_analysis import FaceAnalysis
    from outcomes.manifest import PlannedPair
    from outcomes.runtime import Models

THUMBNAIL_HEIGHT = 256  # px per photo; the thumbnail is baseline | aligned follow-up


@dataclass(frozen=True)
class PairTask:
    """A planned pair, with the hashes of its photos as the job saw them (picklable)."""

    subject_id: str
    visit: str
    view: str
    baseline_visit: str
    visit_day: float | None
    baseline_visit_day: float | None
    manifest_line: int
    before: str
    after: str
    before_image: str  # as written in the manifest
    after_image: str
    before_sha256: str | None
    after_sha256: str | None
    fitzpatrick: str | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.subject_id, self.visit, self.view)

    @property
    def baseline_key(self) -> tuple[str, str | None]:
        """The baseline photo (path and hash): tasks that share it share its analysis."""
        return (self.before, self.before_sha256)

    @classmethod
    def from_planned(cls, pair: PlannedPair, manifest_dir: Path, hashes: dict[Path, str | None]) -> PairTask:
        b, f = pair.baseline, pair.follow_up
        return cls(
            subject_id=pair.subject_id, visit=f.visit, view=pair.view, baseline_visit=b.visit,
            visit_day=f.visit_day, baseline_visit_day=b.visit_day, manifest_line=f.line,
            before=str(b.image), after=str(f.image), before_image=_relative(b.image, manifest_dir),
            after_image=_relative(f.image, manifest_dir), before_sha256=hashes.get(b.image),
            after_sha256=hashes.get(f.image), fitzpatrick=pair.fitzpatrick,
        )

    def batch_fields(self) -> dict:
        """The ``batch`` block of the per-pair record (without outcome fields)."""
        return {
            "subject_id": self.subject_id, "visit": self.visit, "view": self.view,
            "baseline_visit": self.baseline_visit, "visit_day": self.visit_day,
            "baseline_visit_day": self.baseline_visit_day, "manifest_line": self.manifest_line,
            "before_image": self.before_image, "after_image": self.after_image,
            "before_sha256": self.before_sha256, "after_sha256": self.after_sha256,
            "fitzpatrick_reported": self.fitzpatrick,
        }


@dataclass(frozen=True)
class PairOutcome:
    """A finished task: its record (contract JSON + ``batch`` block) and thumbnail JPEG bytes."""

    task: PairTask
    record: dict
    thumbnail_jpeg: bytes | None
    worker: str
    peak_rss_mb: float


def _relative(path: Path, folder: Path) -> str:
    try:
        return str(Path(path).relative_to(folder))
    except ValueError:
        return str(path)


def worker_name() -> str:
    import os

    return f"{socket.gethostname()}:{os.getpid()}"


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (MiB; Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def group_by_baseline(tasks: Sequence[PairTask]) -> list[list[PairTask]]:
    """The tasks grouped by baseline photo (a subject's follow-ups of one view), in first-seen order.

    A group is one unit of work, so that its baseline is analysed once.
    """
    groups: dict[tuple[str, str | None], list[PairTask]] = {}
    for task in tasks:
        groups.setdefault(task.baseline_key, []).append(task)
    return list(groups.values())


def assess_group(tasks: Sequence[PairTask], models: Models, config: Config) -> Iterator[PairOutcome]:
    """Assess the follow-ups of one baseline photo, analysing the baseline once.

    Every pair gets the record :func:`assess_task` alone would give it. A baseline
    that cannot be analysed makes an error record for each of its pairs. The
    baseline's analysis time is counted in the first pair's ``seconds``.
    """
    from outcomes.face_analysis import analyse_face

    if len({t.baseline_key for t in tasks}) > 1:
        raise ValueError("assess_group: the tasks have different baseline photos")
    start = time.perf_counter()
    baseline, failure = None, None
    try:
        baseline = analyse_face(tasks[0].before, models, config)
    except OutcomesError as exc:
        failure = (str(exc), None)
    except Exception as exc:  # noqa: BLE001 - recorded with its traceback for each pair, the job goes on
        failure = (f"unexpected {type(exc).__name__}: {exc}", traceback.format_exc())
    extra = time.perf_counter() - start
    for task in tasks:
        if failure is None:
            yield assess_task(task, models, config, baseline=baseline, extra_seconds=extra)
        else:
            yield _outcome(task, {"schema_version": SCHEMA_VERSION}, None, *failure, seconds=extra)
        extra = 0.0


def assess_task(task: PairTask, models: Models, config: Config, *, baseline: FaceAnalysis | None = None,
                extra_seconds: float = 0.0) -> PairOutcome:
    """Assess one pair; any failure becomes an error record instead of an exception.

    Expected problems (unreadable photo, no face) keep their one-line message;
    an unexpected exception is recorded with its type and traceback, so that
    one bad pair does not cost the rest of a long job. ``baseline``: the task's
    baseline photo already analysed (same models and configuration), reused as it is;
    ``extra_seconds`` is added to the recorded time (what analysing it took).
    """
    from outcomes.pipeline import assess_pair

    start = time.perf_counter()
    thumbnail = None
    try:
        assessment = assess_pair(task.before if baseline is None else baseline, task.after, models, config,
                                 fitzpatrick=task.fitzpatrick)
        record = assessment.to_dict()
        error, trace = None, None
        thumbnail = thumbnail_jpeg(assessment)
    except OutcomesError as exc:
        record, error, trace = {"schema_version": SCHEMA_VERSION}, str(exc), None
    except Exception as exc:  # noqa: BLE001 - recorded with its traceback, the job goes on
        record, error, trace = {"schema_version": SCHEMA_VERSION}, f"unexpected {type(exc).__name__}: {exc}", \
            traceback.format_exc()
    return _outcome(task, record, thumbnail, error, trace, seconds=time.perf_counter() - start + extra_seconds)


def _outcome(task: PairTask, record: dict, thumbnail: bytes | None, error: str | None, trace: str | None, *,
             seconds: float) -> PairOutcome:
    batch = {**task.batch_fields(), "error": error, "seconds": round(seconds, 3), "worker": worker_name()}
    if trace:
        batch["traceback"] = trace
    record["batch"] = batch
    return PairOutcome(task, record, thumbnail, batch["worker"], peak_rss_mb())


def thumbnail_jpeg(assessment: Assessment, height: int = THUMBNAIL_HEIGHT, quality: int = 85) -> bytes:
    """Baseline and aligned follow-up side by side, cropped to the face, as JPEG bytes (no metadata)."""
    import cv2
    import numpy as np

    pair = assessment.pair
    points = pair.before_landmarks.points
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    margin = 0.15 * max(x1 - x0, y1 - y0)
    h, w = pair.before.pixels.shape[:2]
    left, top = int(max(0, x0 - margin)), int(max(0, y0 - margin))
    right, bottom = int(min(w, x1 + margin)), int(min(h, y1 + margin))

    def panel(rgb: np.ndarray) -> np.ndarray:
        crop = rgb[top:bottom, left:right]
        width = max(1, round(crop.shape[1] * height / crop.shape[0]))
        return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)

    gap = np.full((height, 4, 3), 255, np.uint8)
    both = np.hstack([panel(pair.before.pixels), gap, panel(pair.after_in_before)])
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(both, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OutcomesError("could not encode the thumbnail as JPEG")
    return data.tobytes()
