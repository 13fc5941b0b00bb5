"""Assessment jobs: queued in huey (SQLite storage in the data folder), run by worker
processes that load the models once, recorded in the database.

The database row is the job's truth; the queue only says "look at row N". A worker
claims a row (``queued`` → ``running``, ``attempts + 1``) in one statement, so a row
queued twice is still assessed once, and writes its result only while its claim is
current, so a worker from before a crash can never overwrite a later attempt. After a
crash (``kill -9`` of the server or a worker) :func:`recover` puts every ``running`` row
back to ``queued`` and the server queues every ``queued`` row again at start.

Worker processes die with their parent (Linux parent-death signal), so a killed server
leaves no worker behind to race the next one.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import socket
import sys
import traceback
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from outcomes.service.db import Assessment, Patient, Photo, Visit, make_engine, make_sessionmaker, utc_now
from outcomes.service.settings import ServiceSettings

log = logging.getLogger("outcomes.service.jobs")
TASK_NAME = "assess"
CHECK_TASK_NAME = "check_framing"
PREPARE_TASK_NAME = "prepare_baseline"
# A job whose worker died this many times is failed, not retried: the photo itself may kill
# its worker (memory, a crash in a native library), and must not do so for ever.
MAX_ATTEMPTS = 3
WORKER_DIED = ("the assessment stopped its worker process {attempts} times (out of memory, or a crash); "
               "it is not retried")


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def requeue_orphans(sessions: sessionmaker) -> list[int]:
    """Put back ``running`` jobs whose worker process on this host has died (a worker killed mid-job);
    a job that has used :data:`MAX_ATTEMPTS` fails with code ``worker_died``."""
    host = socket.gethostname()
    orphans = []
    with sessions.begin() as session:
        for row in session.execute(select(Assessment.id, Assessment.claimed_by, Assessment.attempts)
                                   .where(Assessment.status == "running")).all():
            claimed_host, _, pid = (row.claimed_by or "").rpartition(":")
            if claimed_host == host and pid.isdigit() and not _alive(int(pid)):
                if _release(session, row.id, row.attempts, row.attempts < MAX_ATTEMPTS):
                    orphans.append(row.id)
    return orphans


def _release(session, assessment_id: int, attempts: int, retry: bool) -> bool:  # noqa: ANN001
    """A running job back to ``queued`` (True), or failed for good when ``retry`` is false (False)."""
    where = (Assessment.id == assessment_id, Assessment.status == "running", Assessment.attempts == attempts)
    if retry:
        session.execute(update(Assessment).where(*where).values(status="queued"))
        return True
    session.execute(update(Assessment).where(*where).values(
        status="failed", finished_at=utc_now(), error_code="worker_died", error=WORKER_DIED.format(attempts=attempts)))
    return False


def waiting_too_long(sessions: sessionmaker, older_than_s: float) -> list[int]:
    """Queued jobs created more than ``older_than_s`` ago (their queue message may be lost: a failed
    enqueue, or a worker killed between taking the message and claiming the row)."""
    from outcomes.service.db import utc_in

    with sessions.begin() as session:
        return list(session.scalars(select(Assessment.id).where(
            Assessment.status == "queued", Assessment.created_at < utc_in(-older_than_s)).order_by(Assessment.id)))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (dead, not yet reaped by its parent) counts as dead
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return True


def recover(sessions: sessionmaker) -> list[int]:
    """Put interrupted jobs back in the queue (or fail those out of attempts); the ids of every job
    waiting to run. For a server starting with no worker of its own alive."""
    with sessions.begin() as session:
        for row in session.execute(select(Assessment.id, Assessment.attempts)
                                   .where(Assessment.status == "running")).all():
            _release(session, row.id, row.attempts, row.attempts < MAX_ATTEMPTS)
        return list(session.scalars(select(Assessment.id).where(Assessment.status == "queued")
                                    .order_by(Assessment.id)))


@dataclass(frozen=True)
class Claim:
    assessment_id: int
    attempt: int
    before: Photo
    after: Photo
    fitzpatrick: str | None
    heading: str = ""  # who and which visits, for the downloadable report


def claim(sessions: sessionmaker, assessment_id: int) -> Claim | None:
    """Take a queued job; None when another worker has it or it is finished."""
    with sessions.begin() as session:
        taken = session.execute(
            update(Assessment).where(Assessment.id == assessment_id, Assessment.status == "queued")
            .values(status="running", attempts=Assessment.attempts + 1, started_at=utc_now(),
                    claimed_by=worker_identity(), error=None, error_code=None))
        if taken.rowcount != 1:
            return None
        row = session.get(Assessment, assessment_id)
        before, after = session.get(Photo, row.baseline_photo_id), session.get(Photo, row.photo_id)
        patient = session.get(Patient, row.patient_id)
        b_visit, a_visit = session.get(Visit, before.visit_id), session.get(Visit, after.visit_id)
        heading = (f"Patient {patient.external_id}: {a_visit.name} (day {a_visit.day}) against {b_visit.name} "
                   f"(day {b_visit.day}); assessment {row.id}, {utc_now()[:10]}")
        return Claim(row.id, row.attempts, before, after, patient.fitzpatrick, heading)


def finish(sessions: sessionmaker, job: Claim, *, result: dict | None = None, error: str | None = None,
           error_code: str | None = None) -> bool:
    """Record the outcome if this claim is still the current one."""
    with sessions.begin() as session:
        done = session.execute(
            update(Assessment).where(Assessment.id == job.assessment_id, Assessment.status == "running",
                                     Assessment.attempts == job.attempt)
            .values(status="done" if error is None else "failed", finished_at=utc_now(),
                    result=None if result is None else json.dumps(result, allow_nan=False),
                    error=error, error_code=error_code))
        return done.rowcount == 1


class AssessmentWorker:
    """One worker process's models and the baselines it has analysed. Not thread-safe: one per process."""

    def __init__(self, settings: ServiceSettings, baseline_cache: int = 8):
        self.settings = settings
        self.sessions = make_sessionmaker(make_engine(settings.database))
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._cache_size = baseline_cache
        self.config = None
        self.models = None
        self._report_next = None

    def load(self) -> None:
        from outcomes.config import load_config
        from outcomes.runtime import load_models

        self.config = load_config(self.settings.config_path)
        self.models = load_models(self.config, threads=1)

    def run(self, assessment_id: int) -> None:
        from outcomes.errors import OutcomesError

        job = claim(self.sessions, assessment_id)
        if job is None:
            return
        try:
            result = self.assess(job)
        except OutcomesError as exc:
            finish(self.sessions, job, error=str(exc), error_code=exc.code)
        except Exception as exc:  # noqa: BLE001 - a failed job keeps its error; the worker goes on
            # The detail (paths, library internals) goes to the log, not to the clinic's users.
            log.error("assessment %s failed:\n%s", assessment_id, traceback.format_exc())
            finish(self.sessions, job, error=f"internal error ({type(exc).__name__}); the server's log has the "
                   "details", error_code="internal_error")
        else:
            finish(self.sessions, job, result=result)
            self.write_report()

    def check_framing(self, data: bytes, baseline_stored_name: str | None) -> dict:
        from outcomes.service.framing import check_framing
        from outcomes.service.uploads import load_stored

        if self.models is None:
            self.load()
        baseline = None
        if baseline_stored_name is not None:
            baseline = load_stored(self.settings.photos_dir, baseline_stored_name, "")
        return check_framing(data, baseline, self.models, self.config)

    def baseline_analysis(self, stored_name: str, sha256: str):  # noqa: ANN201 - FaceAnalysis
        """The baseline's analysis: from this worker's memory, else the data folder's cache (shared by the
        workers; written when the baseline was uploaded), else made now and cached."""
        from outcomes.face_analysis import analyse_face
        from outcomes.service.uploads import load_stored

        if self.models is None:
            self.load()
        analysis = self._cache.get(stored_name)
        if analysis is None:
            path = self.settings.analyses_dir / f"{stored_name.removesuffix('.png')}.{self.config.sha256()[:16]}.pkl.z"
            # One analysis of a photo at a time across the workers: a follow-up that arrives while its
            # baseline is being analysed ahead waits for that analysis instead of repeating it.
            with _file_lock(path.with_suffix(".lock")):
                analysis = load_analysis(path)
                if analysis is None:
                    analysis = analyse_face(load_stored(self.settings.photos_dir, stored_name, sha256,
                                                        "the baseline photo"), self.models, self.config)
                    store_analysis(path, analysis, self.settings.analysis_cache_mib)
            self._cache[stored_name] = analysis
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(stored_name)
        return analysis

    def assess(self, job: Claim) -> dict:
        from outcomes.pipeline import assess_pair
        from outcomes.service.pictures import write_result_pictures
        from outcomes.service.uploads import load_stored

        baseline = self.baseline_analysis(job.before.stored_name, job.before.sha256)
        after = load_stored(self.settings.photos_dir, job.after.stored_name, job.after.sha256, "the follow-up photo")
        assessment = assess_pair(baseline, after, self.models, self.config, fitzpatrick=job.fitzpatrick)
        write_result_pictures(assessment, after.pixels, self.settings.results_dir / str(job.assessment_id))
        self._report_next = (assessment, job.assessment_id, job.heading)
        return assessment.to_dict()

    def write_report(self) -> None:
        """The downloadable HTML report of the assessment just recorded (after it, so the result page does
        not wait for it)."""
        from outcomes.service.pictures import write_report

        pending, self._report_next = self._report_next, None
        if pending is not None:
            assessment, assessment_id, heading = pending
            try:
                write_report(assessment, self.settings.results_dir / str(assessment_id), heading)
            except Exception:  # noqa: BLE001 - the result stands; only its report is missing
                log.exception("assessment %s: the HTML report could not be written", assessment_id)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (flock), held for the block."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_analysis(path: Path):  # noqa: ANN201 - FaceAnalysis or None
    """A cached analysis (see :func:`store_analysis`), or None when there is none or it cannot be read.

    The file is a pickle: it is only ever written by this server's workers into its own data
    folder, which nobody else may write (mode 0700).
    """
    import dataclasses
    import pickle
    import zlib

    from outcomes.color import srgb_to_lab

    try:
        analysis = pickle.loads(zlib.decompress(path.read_bytes()))  # noqa: S301 - our own file, see above
        os.utime(path)  # least recently used goes first
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a damaged cache entry is recomputed
        log.warning("cached analysis %s unreadable; analysing again", path.name)
        path.unlink(missing_ok=True)
        return None
    return dataclasses.replace(analysis, lab=srgb_to_lab(analysis.photo.pixels))


def store_analysis(path: Path, analysis, cap_mib: int) -> None:  # noqa: ANN001 - FaceAnalysis
    """Cache an analysis: compressed, without its CIELAB image (recomputed on load, ~0.1 s, 20 MB less);
    then drop the least recently used files beyond ``cap_mib``."""
    import dataclasses
    import pickle
    import zlib

    path.parent.mkdir(parents=True, exist_ok=True)
    data = zlib.compress(pickle.dumps(dataclasses.replace(analysis, lab=None), protocol=5), 1)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    files = sorted(path.parent.glob("*.pkl.z"), key=lambda p: p.stat().st_mtime, reverse=True)
    total = 0
    for old in files:
        total += old.stat().st_size
        if total > cap_mib * 1024 * 1024 and old != path:
            old.unlink(missing_ok=True)


@dataclass(frozen=True)
class Queue:
    """The huey queue and its tasks (calling a task puts it on the queue)."""

    huey: Any
    assess: Any  # (assessment_id)
    check: Any  # (photo bytes, baseline's stored name or None) → the framing check's answer
    prepare: Any  # (baseline's stored name, its sha256): analyse a new baseline ahead of its follow-ups


def make_queue(settings: ServiceSettings, *, worker: bool = False) -> Queue:
    """The huey queue in the data folder and its tasks.

    With ``worker=True`` each worker process loads the models when it starts.
    """
    from huey import SqliteHuey

    # results: only the framing check's answer is waited for (assessments write to the database)
    huey = SqliteHuey("outcomes", filename=str(settings.queue_path), results=True, store_none=False, utc=True,
                      timeout=30)
    state: dict[str, AssessmentWorker] = {}

    if worker:
        @huey.on_startup()
        def _start_worker() -> None:
            die_with_parent()
            state["worker"] = AssessmentWorker(settings)
            state["worker"].load()
            # for operators and tests: this worker has its models and takes jobs
            ready = settings.data_dir / "run"
            ready.mkdir(parents=True, exist_ok=True)
            (ready / f"worker-{os.getpid()}.ready").touch()

    def worker_state() -> AssessmentWorker:
        if "worker" not in state:  # a worker without its startup hook
            state["worker"] = AssessmentWorker(settings)
        return state["worker"]

    @huey.task(name=TASK_NAME, retries=0)
    def assess(assessment_id: int) -> None:
        worker_state().run(assessment_id)

    # Ahead of queued assessments: a clinician is waiting with the camera up. Expires unread
    # after a minute (the page has given up by then).
    @huey.task(name=CHECK_TASK_NAME, retries=0, priority=10, expires=60)
    def check(data: bytes, baseline_stored_name: str | None) -> dict:
        return worker_state().check_framing(data, baseline_stored_name)

    @huey.task(name=PREPARE_TASK_NAME, retries=0)
    def prepare(stored_name: str, sha256: str) -> None:
        try:
            worker_state().baseline_analysis(stored_name, sha256)
        except Exception:  # noqa: BLE001 - only a head start: the assessment analyses it again, or fails with the reason
            log.info("baseline %s could not be analysed ahead", stored_name, exc_info=True)

    return Queue(huey, assess, check, prepare)
