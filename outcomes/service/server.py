"""``outcomes serve``: migrate the database, recover interrupted jobs, start the queue's worker
processes and keep them running, and serve the application with uvicorn until interrupted."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time

from outcomes.service.settings import ServiceSettings

log = logging.getLogger("outcomes.service")


def start_workers(settings: ServiceSettings, workers: int) -> subprocess.Popen:
    """The huey consumer with ``workers`` processes, as a child that dies with this process."""
    from outcomes.service.jobs import die_with_parent

    command = [sys.executable, "-m", "outcomes.service.worker", "--data", str(settings.data_dir),
               "--workers", str(workers), "--poll", str(settings.queue_poll_s)]
    if settings.database_url:
        command += ["--database", settings.database_url]
    if settings.config_path:
        command += ["--config", settings.config_path]
    return subprocess.Popen(command, preexec_fn=die_with_parent)  # noqa: PLW1509 - sets only a signal


class Supervisor:
    """Keeps the assessment workers going, in a thread of the server.

    Every ``every_s`` seconds: restarts the queue's consumer if it died; puts back jobs whose
    worker process died mid-assessment (huey restarts the process, not the job); and queues
    again jobs that have waited more than ``stale_s`` (their queue message was lost), at most
    once per ``stale_s`` each. Queuing a job twice is harmless: a worker claims a row once.
    """

    def __init__(self, settings: ServiceSettings, sessions, enqueue, workers: int,  # noqa: ANN001
                 every_s: float = 2.0, stale_s: float = 60.0):
        self.settings, self.sessions, self.enqueue, self.workers = settings, sessions, enqueue, workers
        self.every_s, self.stale_s = every_s, stale_s
        self.consumer: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outcomes-supervisor", daemon=True)
        self._requeued_at: dict[int, float] = {}

    def start(self) -> None:
        if self.workers > 0:
            self.consumer = start_workers(self.settings, self.workers)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        if self.consumer is not None and self.consumer.poll() is None:
            self.consumer.terminate()
            try:
                self.consumer.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.consumer.kill()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the supervisor must outlive a database hiccup
                log.exception("worker supervision failed; trying again")

    def check(self) -> None:
        from outcomes.service.jobs import requeue_orphans, waiting_too_long

        if self.consumer is not None and self.consumer.poll() is not None and not self._stop.is_set():
            log.error("the assessment workers stopped (exit status %s); starting them again", self.consumer.returncode)
            self.consumer = start_workers(self.settings, self.workers)
        for assessment_id in requeue_orphans(self.sessions):
            log.warning("assessment %s: its worker died; queued again", assessment_id)
            self.enqueue(assessment_id)
        now = time.monotonic()
        for assessment_id in waiting_too_long(self.sessions, self.stale_s):
            if now - self._requeued_at.get(assessment_id, -1e9) >= self.stale_s:
                self._requeued_at[assessment_id] = now
                self.enqueue(assessment_id)


def remove_unrecorded_photos(settings: ServiceSettings, sessions, older_than_s: float = 3600) -> int:  # noqa: ANN001
    """Delete stored photo files that no record names (an upload killed between storing and recording)."""
    from sqlalchemy import select

    from outcomes.service.db import Photo

    with sessions.begin() as session:
        known = set(session.scalars(select(Photo.stored_name)))
    removed = 0
    cutoff = time.time() - older_than_s
    for path in settings.photos_dir.glob("*.png"):
        if path.name not in known and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def serve(settings: ServiceSettings, host: str, port: int, workers: int) -> None:
    import uvicorn

    from outcomes.service.app import create_app
    from outcomes.service.db import make_engine, make_sessionmaker
    from outcomes.service.jobs import make_queue, recover

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    enqueue = make_queue(settings).assess
    app = create_app(settings)
    sessions = make_sessionmaker(make_engine(settings.database), settings.audit_key())
    pending = recover(sessions)
    for assessment_id in pending:
        enqueue(assessment_id)
    if pending:
        log.info("queued %d assessment(s) left from before", len(pending))
    removed = remove_unrecorded_photos(settings, sessions)
    if removed:
        log.info("removed %d photo file(s) of uploads that were never recorded", removed)
    for stale in (settings.data_dir / "run").glob("worker-*.ready"):  # left by workers of an earlier start
        stale.unlink(missing_ok=True)
    supervisor = Supervisor(settings, sessions, enqueue, workers)
    supervisor.start()
    log.info("outcomes serve: http://%s:%d (data %s, database %s, %d worker(s), pid %d)", host, port,
             settings.data_dir, "PostgreSQL" if settings.database_url and "postgresql" in settings.database_url
             else "SQLite", workers, os.getpid())
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                    timeout_graceful_shutdown=5)
    finally:
        supervisor.stop()
