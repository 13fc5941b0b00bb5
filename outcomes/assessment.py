"""The assessment of one before/after pair, and its contract JSON."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from outcomes.color import SkinTone
from outcomes.comparability import Comparability
from outcomes.features.pigment import PihResult
from outcomes.illumination import IlluminationFit
from outcomes.schema import SCHEMA_VERSION, flag_objects, flag_texts
from outcomes.scoring import GaisEstimate
from outcomes.types import AlignedPair, Frame
from outcomes.working_scale import homography_in_originals


@dataclass(frozen=True)
class RegionChange:
    """Wrinkle severity and laxity of one region at both visits (None: not measured)."""

    wrinkle_before: float
    wrinkle_after: float
    laxity_before: float | None = None
    laxity_after: float | None = None
    laxity_confidence: float | None = None
    wrinkle_detail_before: dict[str, float] = field(default_factory=dict)
    wrinkle_detail_after: dict[str, float] = field(default_factory=dict)
    # Readings of registered measures other than wrinkles, laxity and pigment, by measure name:
    # (before, after), reported as ``<name>_before``, ``<name>_after`` and ``<name>_change``.
    other: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

    @property
    def wrinkle_change(self) -> float:
        return self.wrinkle_after - self.wrinkle_before

    @property
    def laxity_change(self) -> float | None:
        if self.laxity_before is None or self.laxity_after is None:
            return None
        return self.laxity_after - self.laxity_before


@dataclass(frozen=True)
class Assessment:
    """Everything measured on one pair; ``to_dict`` gives the contract's JSON.

    The arrays (maps in BEFORE's frame) are for reports and overlays.
    """

    pair: AlignedPair = field(repr=False)
    after_normalised: np.ndarray = field(repr=False)
    gais: GaisEstimate
    skin_before: SkinTone
    ita_after: float | None
    pih: PihResult
    regions: dict[str, RegionChange]
    omitted_regions: dict[str, str]
    illumination: IlluminationFit
    usable: bool
    qc_flags: tuple[str, ...]
    provenance: dict
    stage_ms: dict[str, float]
    wrinkle_mask_before: np.ndarray = field(repr=False)
    wrinkle_mask_after: np.ndarray = field(repr=False)
    region_masks: dict[str, np.ndarray] = field(repr=False)
    not_assessable: dict[str, str] = field(default_factory=dict)
    comparability: Comparability | None = None
    # Regions where PIH was not judged (region → why): the expression moved their skin.
    pih_not_assessable: dict[str, str] = field(default_factory=dict)
    # Gaussian sd (px) by which the sharper photo was softened before line contrast was
    # compared (> 0: BEFORE was, the follow-up being softer; < 0: the follow-up was).
    relative_blur_px: float = 0.0
    # How the working photos relate to the original files' pixels (BEFORE, AFTER).
    frames: tuple[Frame, Frame] = (Frame(), Frame())

    def to_dict(self) -> dict:
        reg = self.pair.registration

        def r(x: float | None, nd: int = 4) -> float | None:
            return None if x is None or not np.isfinite(x) else round(float(x), nd)

        return {
            "schema_version": SCHEMA_VERSION,
            "gais": {
                "grade": self.gais.grade,
                "label": self.gais.label,
                "probabilities": self.gais.probabilities,
                "improvement_score": self.gais.improvement_score,
                "components": {"wrinkle": self.gais.wrinkle_component, "laxity": self.gais.laxity_component},
                "override": self.gais.override,
                "scorer": self.gais.scorer,
            },
            "skin": {
                "ita_deg_before": r(self.skin_before.ita_deg, 2),
                "ita_deg_after": r(self.ita_after, 2),
                "ita_category_before": self.skin_before.category,
                "fitzpatrick": self.skin_before.fitzpatrick,
                "fitzpatrick_source": self.skin_before.fitzpatrick_source,
            },
            "pih": {
                "flag": self.pih.flag,
                "severity": self.pih.severity,
                "area_fraction": r(self.pih.area_fraction, 5),
                "delta_e": r(self.pih.delta_e, 3),
                "erythema_area_fraction": r(float(self.pih.erythema_mask.sum())
                                            / max(1, sum(int(m.sum()) for m in self.region_masks.values())), 5),
                "regions": [
                    {"region": p.region, "delta_L": r(p.delta_L, 3), "delta_a": r(p.delta_a, 3),
                     "delta_b": r(p.delta_b, 3), "delta_e": r(p.delta_e, 3), "area_fraction": r(p.area_fraction, 5)}
                    for p in self.pih.regions
                ],
                "not_assessable": dict(self.pih_not_assessable),
            },
            "regions": {
                name: {
                    "wrinkle_before": r(c.wrinkle_before), "wrinkle_after": r(c.wrinkle_after),
                    "wrinkle_change": r(c.wrinkle_change),
                    "laxity_before": r(c.laxity_before, 3), "laxity_after": r(c.laxity_after, 3),
                    "laxity_change": r(c.laxity_change, 3), "laxity_confidence": r(c.laxity_confidence, 2),
                    "wrinkle_detail_before": {k: r(v) for k, v in c.wrinkle_detail_before.items()},
                    "wrinkle_detail_after": {k: r(v) for k, v in c.wrinkle_detail_after.items()},
                    **{f"{m}_{part}": r(value) for m, (before, after) in c.other.items()
                       for part, value in (("before", before), ("after", after),
                                           ("change", None if before is None or after is None else after - before))},
                }
                for name, c in self.regions.items()
            },
            "regions_omitted": self.omitted_regions,
            "not_assessable": self.not_assessable,
            "alignment": {
                "ok": reg.ok,
                "residual_rel_ipd": r(reg.residual_rel_ipd, 6),
                "after_to_before": np.round(homography_in_originals(reg.after_to_before, *self.frames), 10).tolist(),
                "local_max_px": r(reg.local_max_px / self.frames[0].mean_scale, 3),
                "pose_change_deg": {k: round(v, 2) for k, v in reg.pose_change.as_dict().items()},
            },
            "resolution": {"relative_blur_px": r(self.relative_blur_px / self.frames[0].mean_scale, 3)},
            "illumination": {
                "exposure_stops": r(self.illumination.exposure_stops, 3),
                "white_balance": r(self.illumination.white_balance, 4),
                "nonuniformity": r(self.illumination.nonuniformity, 4),
                "residual_delta_e": r(self.illumination.residual_delta_e, 3),
                "correctable": self.illumination.correctable,
            },
            "qc": {"usable": self.usable, "flags": flag_texts(self.qc_flags), "flag_codes": flag_objects(self.qc_flags),
                   **(self.comparability.to_dict() if self.comparability is not None else {})},
            "provenance": self.provenance,
            "stage_ms": {k: round(v, 1) for k, v in self.stage_ms.items()},
        }
