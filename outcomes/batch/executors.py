"""Where the pairs are assessed: a local process pool, or actors on a Ray cluster.

Both load the models once per worker and run :func:`outcomes.batch.jobs.assess_group`
on the follow-ups of one baseline at a time (its analysis is shared), yielding
outcomes for the caller to record: the local pool as each pair finishes, Ray
as each group does. Workers get ``threads`` CPU threads each (OpenCV, onnxruntime,
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


def default_threads(workers: int) -> int:
    """CPU threads per worker: the machine's cores shared out, at least one."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _assess_group_job(models, config: Config, tasks: list[PairTask]) -> Iterator[PairOutcome]:  # noqa: ANN001
    """A pool job: one baseline's pairs (module level, so that workers find it by name)."""
    from outcomes.batch.jobs import assess_group

    return assess_group(tasks, models, config)


def run_local(tasks: Sequence[PairTask], config: Config, scorer: CalibratedScorer | None, workers: int,
              threads: int) -> Iterator[PairOutcome]:
    """Assess ``tasks`` in a :class:`~outcomes.workers.WorkerPool` of ``workers`` processes.

    Each worker takes a baseline's pairs at a time and sends every pair's outcome
    back as it finishes, so an interruption loses at most the pair in progress.
    Leaving the iteration early (Ctrl-C, an error) stops the workers at once.
    """
    from outcomes.workers import JobFailed, WorkerPool

    if not tasks:
        return
    with WorkerPool(_assess_group_job, config, scorer, workers, threads) as pool:
        for group in group_by_baseline(tasks):
            pool.submit(group)
        for _, value in pool.results():
            if isinstance(value, JobFailed):
                raise BatchError(f"a worker failed: {value.error}; every finished pair is kept: run again with "
                                 "--resume")
            yield value


class _RayAssessor:
    """A Ray actor holding one set of models."""

    def __init__(self, config: Config, scorer: CalibratedScorer | None, threads: int):
        from outcomes.workers import load_worker_models

        self.models = load_worker_models(config, scorer, threads)
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
