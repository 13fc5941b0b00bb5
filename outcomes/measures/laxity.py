"""Laxity as a registered measure: jowl bulge of the jaw contours, depth of the nasolabial and marionette folds.

A baseline's jawline is read from its own edge; a follow-up's is the baseline's less how far
the contour moved inwards, matched along profiles in the follow-up's own frame through the
global registration only (``outcomes/features/jawline.py``). Folds are read in the
lighting-corrected follow-up, their confidence lowered by a lighting change that differs
across the face (``outcomes/features/laxity.py``). A fold that deepened darkens its band as
a deepened wrinkle darkens its line: that band is laxity, not pigment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from outcomes.measures.base import Comparison, PairContext, PhotoContext, RegionReading


@dataclass(frozen=True)
class LaxityBaseline:
    """A photo's laxity values by region, and the jaw profiles a follow-up is matched to."""

    values: dict = field(default_factory=dict)  # region → LaxityValue
    jaw_profiles: dict = field(default_factory=dict, repr=False)  # side → JawProfiles


class LaxityMeasure:
    name = "laxity"

    def measure_photo(self, photo: PhotoContext) -> LaxityBaseline:
        from outcomes.features.laxity import fold_features, jawline_baseline

        jaw_values, jaw_profiles = jawline_baseline(photo.landmarks, photo.lab[..., 0])
        return LaxityBaseline(values={**jaw_values, **fold_features(photo.landmarks, photo.lab[..., 0])},
                              jaw_profiles=jaw_profiles)

    def compare(self, pair: PairContext, baseline: LaxityBaseline) -> Comparison:
        from outcomes.features.laxity import DEEPENED_FOLD_PERCENT, fold_bands, fold_features, jawline_follow_up
        from outcomes.scoring import FOLDS

        aligned, b_lm = pair.pair, pair.base.landmarks
        lighting_support = 1.0 - pair.illumination.nonuniformity / max(pair.config.illumination.max_nonuniformity,
                                                                       1e-6)
        lax_b = baseline.values
        lax_a = {**fold_features(aligned.after_landmarks, pair.lab_after[..., 0], frame_landmarks=b_lm,
                                 lighting_support=lighting_support),
                 **jawline_follow_up(aligned.after_landmarks, pair.after_native, b_lm, baseline.jaw_profiles, lax_b,
                                     np.linalg.inv(aligned.registration.after_to_before))}
        readings = {}
        for name in pair.regions.masks:
            lb, la = lax_b.get(name), lax_a.get(name)
            if lb is None and la is None:
                continue
            readings[name] = RegionReading(before=None if lb is None else lb.value,
                                           after=None if la is None else la.value,
                                           confidence=None if lb is None or la is None
                                           else min(lb.confidence, la.confidence))
        deepened = [n for n in lax_a if n.startswith(FOLDS) and n in lax_b
                    and lax_a[n].value - lax_b[n].value > DEEPENED_FOLD_PERCENT]
        explains = fold_bands(b_lm, pair.base.photo.pixels.shape[:2], deepened) if deepened else None
        return Comparison(regions=readings, explains=explains)
