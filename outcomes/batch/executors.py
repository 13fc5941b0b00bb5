"""Where the pairs are assessed: a local process pool, or actors on a Ray cluster.

Both load the models once per worker and run :func:`outcomes.batch.jobs.assess_group`
on the follow-ups of one baseline at a time (its analysis is shared), yielding
outcomes for the caller to record: the local pool as each pair finishes, Ray
as each group does. Workers get ``threads`` CPU threads each (OpenCV, PyTorch,
BLAS), so that N workers on N cores do not oversubscribe the machine.

Ray is optional (``pip install outcomes[distributed]``). On a multi-node
cluster every node needs this package installed (same version, which ships
the CNN weights); photos are read by path, so they must be on storage all
nodes see.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from outcomes.batch.jobs import PairOutcome, PairTask, group_by_baseline
from outcomes.errors import BatchError

if TYPE_CHECKING:
    from outcomes.config import Config
    from outcomes.scorer_file import CalibratedScorer

EXECUTORS = ("local", "ray")

# The models and result queue of a local pool worker: set once by _start_worker in
# that worker process (never at import), used by every task the worker runs.
_worker_state: tuple | None = None

# How long the pool may go without a result once every group has returned (their
# results are still in the queue's pipe) before the job gives up on the rest.
_DRAIN_SECONDS = 60.0


def default_threads(workers: int) -> int:
    """CPU threads per worker: the machine's cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _limit_threads(threads: int) -> None:
    import sys

    import cv2
    from threadpoolctl import threadpool_limits

    cv2.setNumThreads(threads)
    threadpool_limits(threads)
    if "torch" in sys.modules:  # loaded only with the CNN; importing it here would cost a classical worker ~0.2 GB
        sys.modules["torch"].set_num_threads(threads)


def _load(config: Config, scorer: CalibratedScorer | None, threads: int):  # noqa: ANN202 - Models
    import dataclasses

    from outcomes.pipeline import load_models

    models = load_models(config)
    _limit_threads(threads)  # after loading, so that torch is limited when the CNN brought it in
    return dataclasses.replace(models, gais_scorer=scorer) if scorer is not None else models


def _start_worker(config: Config, scorer: CalibratedScorer | None, threads: int, results) -> None:  # noqa: ANN001
    global _worker_state  # noqa: PLW0603 - per-process model cache of a pool worker
    _exit_with_parent()
    _worker_state = (_load(config, scorer, threads), config, results)


def _exit_with_parent(poll_seconds: float = 1.0) -> None:
    """End this worker when the job process dies (even by kill -9), instead of idling as an orphan.

    A killed parent never closes the pool's queues, so an orphaned worker
    would wait on them for ever, holding its models' memory.
    """
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _run_group_in_worker(tasks: list[PairTask]) -> int:
    """Assess one baseline's pairs, sending each outcome to the parent as soon as it is made."""
    from outcomes.batch.jobs import assess_group

    if _worker_state is None:
        raise RuntimeError("pool worker used before its models were loaded")
    models, config, results = _worker_state
    n = 0
    for outcome in assess_group(tasks, models, config):
        results.put(outcome)
        n += 1
    return n


def run_local(tasks: Sequence[PairTask], config: Config, scorer: CalibratedScorer | None, workers: int,
              threads: int) -> Iterator[PairOutcome]:
    """Assess ``tasks`` in a pool of ``workers`` processes (spawned: no state shared with the caller).

    Each worker takes a baseline's pairs at a time and sends every pair's outcome
    back as it finishes, so an interruption loses at most the pair in progress.
    """
    import multiprocessing
    import queue
    import time
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if not tasks:
        return
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_start_worker,
                               initargs=(config, scorer, threads, results))
    try:
        futures = [pool.submit(_run_group_in_worker, group) for group in group_by_baseline(tasks)]
        received, idle_since = 0, None
        while received < len(tasks):
            try:
                outcome = results.get(timeout=0.5)
            except queue.Empty:
                failed = next((f for f in futures if f.done() and f.exception() is not None), None)
                if failed is not None:
                    raise failed.exception()
                if all(f.done() for f in futures):
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since > _DRAIN_SECONDS:
                        raise BatchError(f"the workers finished but {len(tasks) - received} pair(s) never came "
                                         "back; run again with --resume")
                continue
            received += 1
            yield outcome
    except BrokenProcessPool as exc:
        raise BatchError(f"a worker process died ({exc}); every finished pair is kept: run again with --resume "
                         "(use fewer --workers if memory ran out)") from exc
    finally:
        # Do not wait for queued pairs when stopped early (Ctrl-C, an error): they are redone on --resume.
        pool.shutdown(wait=False, cancel_futures=True)


class _RayAssessor:
    """A Ray actor holding one set of models."""

    def __init__(self, config: Config, scorer: CalibratedScorer | None, threads: int):
        self.models = _load(config, scorer, threads)
        self.config = config

    def assess_group(self, tasks: list[PairTask]) -> list[PairOutcome]:
        from outcomes.batch.jobs import assess_group

        return list(assess_group(tasks, self.models, self.config))


def run_ray(tasks: Sequence[PairTask], config: Config, scorer: CalibratedScorer | None, workers: int,
            threads: int, address: str | None = None) -> Iterator[PairOutcome]:
    """Assess ``tasks`` on ``workers`` Ray actors of ``threads`` CPUs each, a baseline's pairs at a time.

    Connects to ``address`` (e.g. ``ray://head:10001`` or ``auto``), or starts
    a local Ray instance when it is None; a local instance is shut down after.
    """
    try:
        import ray
        from ray.util import ActorPool
    except ImportError as exc:
        raise BatchError("--executor ray needs Ray: pip install 'outcomes[distributed]'") from exc
    if not tasks:
        return
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     runtime_env={"env_vars": {"OMP_NUM_THREADS": str(threads)}})
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise BatchError(f"--ray-address {address!r}: cannot connect to a Ray cluster ({exc})") from exc
    actors = []
    try:
        assessor = ray.remote(num_cpus=threads)(_RayAssessor)
        actors = [assessor.remote(config, scorer, threads) for _ in range(workers)]
        groups = ActorPool(actors).map_unordered(lambda actor, group: actor.assess_group.remote(group),
                                                 group_by_baseline(tasks))
        for outcomes in groups:
            yield from outcomes
    except ray.exceptions.RayActorError as exc:
        raise BatchError(f"a Ray worker died ({exc}); every finished pair is kept: run again with --resume") from exc
    finally:
        for actor in actors:
            ray.kill(actor)
        if started_here:
            ray.shutdown()
