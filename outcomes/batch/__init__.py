"""Batch jobs for trial analysts (``outcomes batch``): a manifest in, tables and a trial report out.

    result = run_batch("manifest.csv", "out/", config, workers=2)   # or executor="ray"

Modules, in the order data flows: :mod:`~outcomes.batch.jobs` (one pair →
its record), :mod:`~outcomes.batch.executors` (local pool or Ray),
:mod:`~outcomes.batch.store` (the output folder; resume),
:mod:`~outcomes.batch.tables`, :mod:`~outcomes.batch.stats`,
:mod:`~outcomes.batch.report`; :mod:`~outcomes.batch.run` composes them.
"""

from __future__ import annotations

from outcomes._lazy import lazy_attributes

_EXPORTS = {
    "run_batch": "outcomes.batch.run",
    "BatchResult": "outcomes.batch.run",
    "write_outputs": "outcomes.batch.run",
    "ResultStore": "outcomes.batch.store",
    "PairTask": "outcomes.batch.jobs",
    "PairOutcome": "outcomes.batch.jobs",
    "assess_task": "outcomes.batch.jobs",
    "assess_group": "outcomes.batch.jobs",
    "group_by_baseline": "outcomes.batch.jobs",
    "summarise": "outcomes.batch.stats",
    "wilson": "outcomes.batch.stats",
    "paired_change": "outcomes.batch.stats",
    "PairResult": "outcomes.batch.stats",
}

__all__ = list(_EXPORTS)


__getattr__ = lazy_attributes(__name__, _EXPORTS)
