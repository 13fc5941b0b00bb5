"""Wrinkles as a registered measure: the fused CNN + classical map, severity per region.

A photo's map covers its whole face; a pair is compared on the skin both photos show,
each region's lines measured on the baseline's lines plus the follow-up's new ones (a line
that fades below detection at follow-up counts with its faded depth; a line that appears
counts too) and at the softer photo's sharpness (a follow-up taken farther away or less
sharp must not read as smoother skin). The follow-up's own detection of lines the baseline
already has is not added: how much of a faded line's edge it still finds depends on the
follow-up's sharpness, and would move a treated face's score when only the capture
changes. The follow-up's lines are detected in its own frame and carried into the
baseline's: detecting on the resampled photo would soften fine creases and bias the
comparison.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from outcomes.features.wrinkles import WrinkleMap
from outcomes.measures.base import Comparison, PairContext, PhotoContext, RegionReading


class WrinkleMeasure:
    name = "wrinkles"

    def measure_photo(self, photo: PhotoContext) -> WrinkleMap:
        from outcomes.features.wrinkle_fusion import find_wrinkles

        return find_wrinkles(photo.photo.pixels, photo.landmarks.inter_pupil_distance, photo.masks.face,
                             photo.models.wrinkle_cnn, photo.config.wrinkles)

    def compare(self, pair: PairContext, baseline: WrinkleMap) -> Comparison:
        from outcomes.face_analysis import restrict_wrinkles
        from outcomes.features.wrinkle_regions import region_wrinkle_features
        from outcomes.resolution import match_blur

        map_b = restrict_wrinkles(baseline, pair.roi)
        map_a = restrict_wrinkles(after_wrinkles_in_before_frame(pair), pair.roi)
        new_a = dataclasses.replace(map_a, mask=new_lines(map_a.mask, map_b.mask, map_b.ipd_px))
        regions = pair.regions
        shape = pair.base.photo.pixels.shape[:2]
        light_b, light_a, blur_px = match_blur(pair.base.lab[..., 0], pair.lab_after[..., 0],
                                               _union(regions.masks, shape))
        readings = {}
        for name, mask in regions.masks.items():
            wb = region_wrinkle_features(map_b, light_b, mask, regions.mm_per_px, reference=new_a)
            wa = region_wrinkle_features(new_a, light_a, mask, regions.mm_per_px, reference=map_b)
            readings[name] = RegionReading(before=wb.severity, after=wa.severity, detail_before=wrinkle_detail(wb),
                                           detail_after=wrinkle_detail(wa))
        return Comparison(regions=readings, explains=map_b.mask | map_a.mask,
                          extra={"mask_before": map_b.mask, "mask_after": map_a.mask, "relative_blur_px": blur_px})


def after_wrinkles_in_before_frame(pair: PairContext) -> WrinkleMap:
    """Wrinkles of the follow-up detected in its own frame (with the baseline's lighting),
    carried into the baseline's frame on the registration's sampling maps."""
    import cv2

    from outcomes.align import warp_to_before
    from outcomes.features.wrinkle_fusion import find_wrinkles

    aligned, after = pair.pair, pair.after_native
    face_after = cv2.warpPerspective(
        pair.base.masks.face.astype(np.uint8), aligned.registration.after_to_before, (after.shape[1], after.shape[0]),
        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
    ).astype(bool)
    native = find_wrinkles(after, aligned.after_landmarks.inter_pupil_distance, face_after,
                           pair.models.wrinkle_cnn, pair.config.wrinkles)
    size = (aligned.before.width, aligned.before.height)
    # Response and mask in one resampling (two channels), on the maps of the photo's warp.
    both = np.dstack([native.response.astype(np.float32), native.mask.astype(np.float32)])
    warped, valid = warp_to_before(both, aligned.registration, size, maps=aligned.sampling_maps)
    response, mask = warped[..., 0], warped[..., 1]
    return dataclasses.replace(native, response=response * valid, mask=(mask >= 0.5) & valid,
                               ipd_px=aligned.before_landmarks.inter_pupil_distance)


#: A follow-up line within this distance of a baseline line is that line (registration
#: error and a line's own width are a few pixels at an IPD of ~250-300 px).
SAME_LINE_IPD = 0.015


def new_lines(after: np.ndarray, before: np.ndarray, ipd_px: float) -> np.ndarray:
    """The follow-up's line pixels (H, W) bool farther than :data:`SAME_LINE_IPD` from any baseline line."""
    import cv2

    if after.shape != before.shape or after.dtype != bool or before.dtype != bool:
        raise ValueError(f"after {after.dtype} {after.shape} and before {before.dtype} {before.shape} "
                         "must be bool masks of one shape")
    radius = max(1, int(round(SAME_LINE_IPD * ipd_px)))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
    return after & ~cv2.dilate(before.astype(np.uint8), disk).astype(bool)


def _union(masks: dict[str, np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, bool)
    for m in masks.values():
        out |= m
    return out


def wrinkle_detail(features) -> dict[str, float]:  # noqa: ANN001 - RegionWrinkles
    return {"area_fraction": features.area_fraction, "length_per_cm2": features.length_per_cm2, "depth": features.depth}
