"""A pool of worker processes that load the models once, take jobs and send results back.

Used by ``outcomes batch`` (each job: one baseline's follow-ups) and meant for any
long-running caller. Each worker is a spawned process (no state shared with the caller)
that:

- ignores SIGINT: Ctrl-C in a terminal reaches the whole process group, and only the
  caller decides what an interruption means (it stops the pool, see :meth:`WorkerPool.stop`);
- loads the models once (:func:`outcomes.runtime.load_models`) with ``threads`` CPU threads;
- runs ``function(models, config, payload)`` for each job, sending each value it yields
  as soon as it is made, so an interruption loses at most the value in progress;
- exits when the caller dies (even by kill -9) instead of idling as an orphan.

Stopping never waits on a worker: workers are terminated (SIGTERM, then SIGKILL after a
grace period) and the queues are abandoned, so a worker blocked on a full result pipe
cannot hang the caller.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from outcomes.errors import BatchError

if TYPE_CHECKING:
    from outcomes.config import Config
    from outcomes.scorer_file import CalibratedScorer

# A job: (models, config, payload) → the values to send back, in order.
JobFunction = Callable[[Any, "Config", Any], Iterable[Any]]

_STOP_GRACE_SECONDS = 2.0
_HELD_BACK = {signal.SIGINT, signal.SIGTERM}


@dataclass(frozen=True)
class JobFailed:
    """A job raised: its id, the exception's one-line text and traceback (the worker goes on)."""

    job_id: int
    error: str
    traceback: str


def limit_threads(threads: int) -> None:
    """Cap this process's CPU threads (OpenCV, BLAS; the CNN's are set when it loads)."""
    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(threads)
    threadpool_limits(threads)


def load_worker_models(config: Config, scorer: CalibratedScorer | None, threads: int):  # noqa: ANN201 - Models
    """The models of one worker, with its thread budget."""
    import dataclasses

    from outcomes.runtime import load_models

    limit_threads(threads)
    models = load_models(config, threads=threads)
    return dataclasses.replace(models, gais_scorer=scorer) if scorer is not None else models


def _exit_with_parent(poll_seconds: float = 1.0) -> None:
    """End this process when its parent dies: a killed parent never closes the queues."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _worker_main(function: JobFunction, config: Config, scorer: CalibratedScorer | None, threads: int,
                 jobs, results) -> None:  # noqa: ANN001 - multiprocessing queues
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD_BACK)  # blocked while the pool started it
    _exit_with_parent()
    try:
        models = load_worker_models(config, scorer, threads)
    except BaseException as exc:  # noqa: BLE001 - reported to the caller, which decides
        results.put(("failed", os.getpid(), f"{type(exc).__name__}: {exc}"))
        return
    results.put(("ready", os.getpid(), None))
    while True:
        item = jobs.get()
        if item is None:
            break
        job_id, payload = item
        try:
            for value in function(models, config, payload):
                results.put(("value", job_id, value))
        except Exception as exc:  # noqa: BLE001 - one job's failure is the caller's to report
            results.put(("error", job_id, JobFailed(job_id, f"{type(exc).__name__}: {exc}", traceback.format_exc())))
        results.put(("done", job_id, None))


class WorkerPool:
    """``workers`` processes running ``function`` on submitted payloads.

    Use as a context manager: leaving it normally lets the workers finish and exit; leaving
    it by an exception (Ctrl-C, an error) stops them at once.

    Parameters
    ----------
    function : callable
        A module-level function (it is pickled by name): ``function(models, config, payload)``
        returns an iterable of picklable values.
    config : Config
    scorer : CalibratedScorer or None
    workers : int
    threads : int
        CPU threads per worker.
    """

    def __init__(self, function: JobFunction, config: Config, scorer: CalibratedScorer | None, workers: int,
                 threads: int) -> None:
        import multiprocessing

        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        context = multiprocessing.get_context("spawn")
        self._jobs, self._results = context.Queue(), context.Queue()
        # never wait at exit to flush items into a pipe nobody may read any more
        self._jobs.cancel_join_thread()
        self._results.cancel_join_thread()
        self._processes = [context.Process(target=_worker_main, name=f"outcomes-worker-{i}", daemon=True,
                                           args=(function, config, scorer, threads, self._jobs, self._results))
                           for i in range(workers)]
        self._pending: set[int] = set()
        self._next_id = 0

    def __enter__(self) -> WorkerPool:
        # Started with SIGINT and SIGTERM blocked, a mask spawned children inherit, so that a
        # Ctrl-C while they import and load models cannot interrupt them with a traceback
        # (each worker then ignores SIGINT for good and takes SIGTERM again). Here a signal is
        # only held back until every worker has its start-up data (another thread may take
        # it, hence the deferring SIGINT handler, on the main thread only), then acted on.
        interrupted: list[bool] = []
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True)) if main else None
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_BACK)
            try:
                for process in self._processes:
                    process.start()
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD_BACK)  # a pending SIGTERM's handler runs here
                if previous is not None:
                    signal.signal(signal.SIGINT, previous)
            if interrupted:
                raise KeyboardInterrupt
        except BaseException:
            self.stop()  # __exit__ is not called when __enter__ fails
            raise
        return self

    def __exit__(self, kind: type | None, *exc: object) -> None:
        if kind is None:
            self.close()
        else:
            self.stop()

    def submit(self, payload: Any) -> int:
        """Queue one job; returns its id."""
        job_id = self._next_id
        self._next_id += 1
        self._pending.add(job_id)
        self._jobs.put((job_id, payload))
        return job_id

    def results(self, poll_seconds: float = 0.5) -> Iterator[tuple[int, Any]]:
        """``(job_id, value)`` for every value the jobs send, as they arrive, until every job is done.

        A job that raised yields a :class:`JobFailed` as its value.

        Raises
        ------
        BatchError
            A worker died (killed, out of memory) or could not load its models.
        """
        while self._pending:
            try:
                kind, key, value = self._results.get(timeout=poll_seconds)
            except queue.Empty:
                self._check_alive()
                continue
            if kind in ("value", "error"):
                yield key, value
            elif kind == "done":
                self._pending.discard(key)
            elif kind == "failed":
                raise BatchError(f"a worker could not load its models ({value})")

    def _check_alive(self) -> None:
        dead = [p for p in self._processes if not p.is_alive()]
        if dead:
            try:  # a worker that could not load its models said why before it exited
                while True:
                    kind, _, value = self._results.get(timeout=0.2)
                    if kind == "failed":
                        raise BatchError(f"a worker could not load its models ({value})")
            except queue.Empty:
                pass
            codes = ", ".join(f"{p.name} exit code {p.exitcode}" for p in dead)
            raise BatchError(f"a worker process died ({codes}); every finished pair is kept: run again with "
                             "--resume (use fewer --workers if memory ran out)")

    def close(self, timeout: float = 30.0) -> None:
        """Let the workers finish their queue and exit; stop any that do not within ``timeout`` s."""
        for _ in self._processes:
            self._jobs.put(None)
        deadline = time.monotonic() + timeout
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
        self.stop()

    def stop(self) -> None:
        """Stop every worker now (SIGTERM, then SIGKILL after a grace period); never blocks on a queue.

        Ctrl-C and SIGTERM are held back meanwhile (a second Ctrl-C cannot cut it short) and
        delivered when it is done.
        """
        signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_BACK)
        try:
            self._stop_workers()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD_BACK)

    def _stop_workers(self) -> None:
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + _STOP_GRACE_SECONDS
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1.0)
        for q in (self._jobs, self._results):
            q.close()
