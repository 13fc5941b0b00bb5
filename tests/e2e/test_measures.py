"""A measure is one module and one registration: the composition runs it and reports its readings."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from outcomes.measures import REGISTRY, Comparison, PairContext, PhotoContext, RegionReading
from outcomes.pipeline import assess_pair

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


class RednessMeasure:
    """The example of docs/architecture.md: mean a* per region at both visits."""

    name = "redness"

    def measure_photo(self, photo: PhotoContext) -> np.ndarray:
        return photo.lab[..., 1]

    def compare(self, pair: PairContext, baseline: np.ndarray) -> Comparison:
        return Comparison(regions={name: RegionReading(before=float(baseline[mask].mean()),
                                                       after=float(pair.lab_after[..., 1][mask].mean()))
                                   for name, mask in pair.regions.masks.items()})


def test_a_registered_measure_is_run_and_reported_without_changing_the_others(models, monkeypatch):
    before, after = SAMPLES / "S04_baseline.jpg", SAMPLES / "S04_day90.jpg"
    plain = assess_pair(before, after, models).to_dict()
    monkeypatch.setattr("outcomes.measures.REGISTRY", (*REGISTRY, (__name__, "RednessMeasure")))
    extended = assess_pair(before, after, models)
    got = extended.to_dict()
    assert "redness_ms" in got["stage_ms"]
    for name, values in got["regions"].items():
        assert abs(values["redness_change"] - (values["redness_after"] - values["redness_before"])) < 2e-4
        assert {k: v for k, v in values.items() if not k.startswith("redness_")} == plain["regions"][name]
    # S04's follow-up was rendered with red patches (redness: true in its truth file)
    assert max(v["redness_change"] for v in got["regions"].values()) > 2.0
    for key in ("gais", "pih", "qc"):
        assert got[key] == plain[key]
