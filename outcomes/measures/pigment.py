"""Pigment as a registered measure: new or increased hyperpigmentation (PIH) and redness.

Run last: it leaves out every pixel an earlier measure explains (a line, a deepened fold)
and skin next to anything that is not skin in both photos (``PairContext.not_pigment``),
and the regions an expression change moved (``PairContext.pih_not_assessable``). The
detector and its reasoning are ``outcomes/features/pigment.py``.
"""

from __future__ import annotations

from outcomes.measures.base import Comparison, PairContext, PhotoContext, RegionReading


class PigmentMeasure:
    name = "pigment"

    def measure_photo(self, photo: PhotoContext) -> None:
        return None  # compared in CIELAB, which the photo's analysis holds already

    def compare(self, pair: PairContext, baseline: None) -> Comparison:
        from outcomes.features.pigment import check_pih

        regions = {n: m for n, m in pair.regions.masks.items() if n not in pair.pih_not_assessable}
        pih = check_pih(pair.base.lab, pair.lab_after, regions, pair.base.landmarks.inter_pupil_distance,
                        pair.config.pigment, exclude=pair.not_pigment)
        # per region: the colour change of the new darkening (ΔL*, Δa*, Δb*, ΔE*ab) where PIH was found
        readings = {r.region: RegionReading(before=None, after=None, detail_after={
            "delta_L": r.delta_L, "delta_a": r.delta_a, "delta_b": r.delta_b, "delta_e": r.delta_e,
            "area_fraction": r.area_fraction}) for r in pih.regions}
        return Comparison(regions=readings, extra={"pih": pih})
