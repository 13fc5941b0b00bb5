"""Registered per-region measures: wrinkles, laxity, pigment.

Each measure reads one photo on its own (:meth:`Measure.measure_photo`, done once per
baseline) and compares a follow-up with it in the baseline's frame
(:meth:`Measure.compare`); ``outcomes.face_analysis`` and ``outcomes.pipeline`` loop over
:func:`registered`. Adding a measure is one module with a class implementing
:class:`~outcomes.measures.base.Measure` and one line in :data:`REGISTRY`
(docs/architecture.md).
"""

from __future__ import annotations

from outcomes.measures.base import Comparison, Measure, PairContext, PhotoContext, RegionReading

# (module, class) in the order they run: pigment last, as it leaves out what the others explain.
REGISTRY: tuple[tuple[str, str], ...] = (
    ("outcomes.measures.wrinkles", "WrinkleMeasure"),
    ("outcomes.measures.laxity", "LaxityMeasure"),
    ("outcomes.measures.pigment", "PigmentMeasure"),
)

# Their readings have their own fields in the contract's JSON (regions' wrinkle_* and
# laxity_*, pih); any other measure's are reported per region as <name>_before/_after/_change.
BUILT_IN_MEASURES = ("wrinkles", "laxity", "pigment")

__all__ = ["BUILT_IN_MEASURES", "REGISTRY", "Comparison", "Measure", "PairContext", "PhotoContext", "RegionReading", "registered"]


def registered() -> tuple[Measure, ...]:
    """One instance of every registered measure, in registry order (imported on first use)."""
    import importlib

    return tuple(getattr(importlib.import_module(module), cls)() for module, cls in REGISTRY)
