"""Jawline and fold measures on a real face with rendered sagging (skips without ../shared)."""

from __future__ import annotations

from outcomes.io import photo_from_array, read_photo
from outcomes.pipeline import assess_pair
from outcomes.simulate import SaggingSpec, TreatmentSpec, london_anchors, london_lower_face, read_tem, simulate_pair


def _laxity_changes(shared_data, models, tightening: float, seed: int, fold_depth: float = 0.25):  # noqa: ANN202
    path = shared_data / "london" / "neutral" / "012_03.jpg"
    template = read_tem(path.with_suffix(".tem"))
    spec = TreatmentSpec(wrinkle_severity=0.5, seed=seed,
                         sagging=SaggingSpec(jowl_ipd=0.06, fold_depth=fold_depth, tightening=tightening))
    pair = simulate_pair(read_photo(path).pixels, london_anchors(template), spec, london_lower_face(template))
    a = assess_pair(photo_from_array(pair.before, "before"), photo_from_array(pair.after, "after"), models)
    jaw = [c.laxity_before - c.laxity_after for n, c in a.regions.items() if n.startswith("jawline")]
    folds = [c.laxity_before - c.laxity_after for n, c in a.regions.items() if n.startswith(("nasolabial", "marionette"))]
    assert a.usable and len(jaw) == 2 and len(folds) == 4
    return sum(jaw) / 2, sum(folds) / 4, a.gais.laxity_component, a.pih.flag


def test_tightening_reads_as_a_tighter_jawline_and_shallower_folds(shared_data, models):
    jaw, folds, laxity, _ = _laxity_changes(shared_data, models, tightening=0.8, seed=1)
    # Rendered: the jowl 0.048 IPD in (about 3 % IPD of it over the jowl span), folds 20 % of light shallower.
    assert jaw > 1.5 and folds > 3.0 and laxity > 0.3


def test_worsened_sagging_reads_as_worse_not_as_pigment_and_none_as_none(shared_data, models):
    # Folds 35 % → 52 % of the light: a much darker band, measured as laxity, not as PIH.
    jaw, folds, laxity, pih = _laxity_changes(shared_data, models, tightening=-0.5, seed=2, fold_depth=0.35)
    assert jaw < -0.8 and folds < -2.0 and laxity < -0.2 and not pih
    jaw, folds, laxity, _ = _laxity_changes(shared_data, models, tightening=0.0, seed=3)
    assert abs(jaw) < 0.5 and abs(folds) < 1.0 and abs(laxity) < 0.15
