"""``outcomes serve``: migrate the database, recover interrupted jobs, start the queue's worker
processes, and serve the application with uvicorn until interrupted."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

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


def _watch_orphans(sessions, enqueue, stop: threading.Event, every_s: float = 2.0) -> None:  # noqa: ANN001
    """Requeue jobs whose worker process died mid-assessment (huey restarts the process, not the job)."""
    from outcomes.service.jobs import requeue_orphans

    while not stop.wait(every_s):
        try:
            for assessment_id in requeue_orphans(sessions):
                log.warning("assessment %s: its worker died; queued again", assessment_id)
                enqueue(assessment_id)
        except Exception:  # noqa: BLE001 - the watchdog must outlive a database hiccup
            log.exception("orphaned-job check failed")


def serve(settings: ServiceSettings, host: str, port: int, workers: int) -> None:
    import uvicorn

    from outcomes.service.app import create_app
    from outcomes.service.db import make_engine, make_sessionmaker
    from outcomes.service.jobs import make_queue, recover

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    _, enqueue = make_queue(settings)
    app = create_app(settings, enqueue=enqueue)
    sessions = make_sessionmaker(make_engine(settings.database))
    pending = recover(sessions)
    for assessment_id in pending:
        enqueue(assessment_id)
    if pending:
        log.info("queued %d assessment(s) left from before", len(pending))
    consumer = start_workers(settings, workers) if workers > 0 else None
    stop = threading.Event()
    watchdog = threading.Thread(target=_watch_orphans, args=(sessions, enqueue, stop), daemon=True)
    watchdog.start()
    log.info("outcomes serve: http://%s:%d (data %s, database %s, %d worker(s), pid %d)", host, port,
             settings.data_dir, "PostgreSQL" if settings.database_url and "postgresql" in settings.database_url
             else "SQLite", workers, os.getpid())
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                    timeout_graceful_shutdown=5)
    finally:
        stop.set()
        if consumer is not None:
            consumer.terminate()
            try:
                consumer.wait(timeout=15)
            except subprocess.TimeoutExpired:
                consumer.kill()
