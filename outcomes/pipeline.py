"""The one place that composes the stages: photo → landmarks → aligned pair.

Models are loaded once with :func:`load_models` and passed to every call, so a
batch job or a web service pays for them once per process.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from outcomes import __version__
from outcomes.align import register, sampling_maps, warp_to_before
from outcomes.config import Config
from outcomes.io import read_photo
from outcomes.landmarks import FaceLandmarker
from outcomes.types import AlignedPair, Landmarks, Photo

if TYPE_CHECKING:
    from outcomes.assessment import Assessment
    from outcomes.features.wrinkle_cnn import WrinkleCNN
    from outcomes.features.wrinkles import WrinkleMap
    from outcomes.illumination import IlluminationFit
    from outcomes.scorer_file import CalibratedScorer


@dataclass(frozen=True)
class Models:
    """Everything loaded once per process and passed in to the stages."""

    landmarker: FaceLandmarker
    wrinkle_cnn: WrinkleCNN | None = None
    # A GAIS scorer calibrated to a site's ratings; None = the configured default scorer.
    gais_scorer: CalibratedScorer | None = None

    def close(self) -> None:
        self.landmarker.close()

    def describe(self) -> dict[str, str]:
        """Model name → identity, for provenance."""
        import mediapipe

        out = {"mediapipe-face-detector-full-range+face-mesh-478": f"mediapipe=={mediapipe.__version__}"}
        if self.wrinkle_cnn is not None:
            out.update(self.wrinkle_cnn.describe())
        if self.gais_scorer is not None:
            out.update(self.gais_scorer.describe())
        return out


def load_models(config: Config | None = None, scorer: str | Path | None = None) -> Models:
    """Load the face detector and mesh, the wrinkle CNN unless the detector is classical,
    and a calibrated GAIS scorer if one is given.

    Raises
    ------
    ModelError
        Missing or corrupt CNN weights (never replaced by untrained ones); a
        scorer file that is invalid or was calibrated on another wrinkle detector.
    """
    from outcomes.features.wrinkle_fusion import load_configured_cnn

    config = config or Config()
    # Files first: a bad weights or scorer file fails before mediapipe starts.
    gais_scorer = None if scorer is None else load_configured_scorer(scorer, config)
    cnn = load_configured_cnn(config.wrinkles)
    return Models(landmarker=FaceLandmarker(config.landmarks), wrinkle_cnn=cnn, gais_scorer=gais_scorer)


def load_configured_scorer(path: str | Path, config: Config) -> CalibratedScorer:
    """Load a calibrated scorer and check it fits this configuration's features."""
    from outcomes.errors import ModelError
    from outcomes.scorer_file import load_scorer

    scorer = load_scorer(path)
    if scorer.wrinkle_detector != config.wrinkles.detector:
        raise ModelError(
            f"{path}: this GAIS scorer was calibrated on wrinkle features from the "
            f"{scorer.wrinkle_detector!r} detector, but the configuration uses {config.wrinkles.detector!r}; "
            "use the same wrinkles.detector or recalibrate")
    return scorer


def locate_face(source: str | Path | Photo, models: Models, config: Config | None = None) -> tuple[Photo, Landmarks]:
    """Read a photo (unless given one) and place its landmarks."""
    config = config or Config()
    photo = source if isinstance(source, Photo) else read_photo(source, config.input)
    return photo, models.landmarker.detect(photo)


def align_photos(
    before: str | Path | Photo, after: str | Path | Photo, models: Models, config: Config | None = None
) -> AlignedPair:
    """Register AFTER onto BEFORE and resample it into BEFORE's frame.

    Raises
    ------
    InputImageError, NoFaceError
        From reading either photo or finding its face.
    """
    config = config or Config()
    times: dict[str, float] = {}
    start = time.perf_counter()
    before_photo, before_lm = locate_face(before, models, config)
    after_photo, after_lm = locate_face(after, models, config)
    times["read_and_landmarks_ms"] = (time.perf_counter() - start) * 1e3
    registration = register(before_photo.pixels, before_lm, after_photo.pixels, after_lm, config.alignment)
    start = time.perf_counter()
    size = (before_photo.width, before_photo.height)
    maps = sampling_maps(registration, size)
    pixels, valid = warp_to_before(after_photo.pixels, registration, size, maps=maps)
    times["warp_ms"] = (time.perf_counter() - start) * 1e3
    registration = dataclasses.replace(registration, stage_ms={**registration.stage_ms, **times})
    return AlignedPair(
        before=before_photo, after=after_photo, after_in_before=pixels, valid=valid,
        before_landmarks=before_lm, after_landmarks=after_lm, registration=registration, sampling_maps=maps,
    )


def alignment_to_dict(pair: AlignedPair, config: Config) -> dict:
    """The contract's JSON for ``outcomes align`` (plus provenance and timings)."""
    reg = pair.registration
    return {
        "schema_version": "1",
        "after_to_before": np.round(reg.after_to_before, 10).tolist(),
        "residual_px": round(reg.residual_px, 4),
        "residual_rel_ipd": round(reg.residual_rel_ipd, 6),
        "local_max_px": round(reg.local_max_px, 3),
        "pose_change_deg": {k: round(v, 2) for k, v in reg.pose_change.as_dict().items()},
        "ok": reg.ok,
        "qc_flags": list(reg.qc_flags),
        "stage_ms": {k: round(v, 1) for k, v in reg.stage_ms.items()},
        "provenance": provenance(config, pair.before, pair.after),
    }


def provenance(config: Config, *photos: Photo) -> dict:
    """Package version, config hash and input hashes for any output."""
    return {
        "package_version": __version__,
        "config_sha256": config.sha256(),
        # Hashes, not file names: names of clinical photos may identify people.
        "inputs_sha256": [p.sha256 for p in photos],
    }


def _face_masks(before_lm: Landmarks, shape: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """(face oval, background ring around the head, cheek seed, face) in BEFORE's frame.

    ``face`` is the oval plus every region's outline (the forehead reaches above the
    oval): the only pixels whose skin/not-skin status is ever used.
    """
    import cv2

    from outcomes.landmarks import FACE_OVAL
    from outcomes.regions import region_masks

    oval = np.zeros(shape, np.uint8)
    cv2.fillPoly(oval, [np.round(before_lm.points[list(FACE_OVAL)]).astype(np.int32)], 1)
    ipd = before_lm.inter_pupil_distance
    # Distances from the face on the box the ring can reach only: a shortest path to the
    # face never leaves the box around both ends, so the values are the full frame's (to
    # float rounding, ~1e-5 px) at a fraction of the cost.
    ys, xs = np.nonzero(oval)
    reach = int(np.ceil(1.2 * ipd)) + 2
    y0, x0 = max(ys.min() - reach, 0), max(xs.min() - reach, 0)
    y1, x1 = min(ys.max() + reach + 1, shape[0]), min(xs.max() + reach + 1, shape[1])
    distance = cv2.distanceTransform(1 - oval[y0:y1, x0:x1], cv2.DIST_L2, 3)
    ring = np.zeros(shape, bool)
    ring[y0:y1, x0:x1] = (distance > 0.6 * ipd) & (distance < 1.2 * ipd)
    plain = region_masks(before_lm, shape).masks
    seed = np.zeros(shape, bool)
    for name in ("cheek_right", "cheek_left"):
        if name in plain:
            seed |= plain[name]
    oval = oval.astype(bool)
    return oval, ring, seed, _roi(oval, plain)


def assess_pair(
    before: str | Path | Photo, after: str | Path | Photo, models: Models,
    config: Config | None = None, fitzpatrick: str | None = None,
) -> Assessment:
    """Align a pair and measure what changed: wrinkles, laxity, skin tone, PIH, GAIS.

    Parameters
    ----------
    before, after : path or Photo
    models : Models
        From :func:`load_models`.
    config : Config, optional
    fitzpatrick : str, optional
        The clinic's Fitzpatrick type ("I"…"VI"); it wins over the estimate.

    Raises
    ------
    InputImageError, NoFaceError
        Unreadable photo or no face. A pair that is readable but not
        comparable (pose, lighting) is returned with ``usable=False``.
    """
    from outcomes.assessment import Assessment, RegionChange
    from outcomes.color import SkinTone, ita_deg, skin_pixels, skin_tone, srgb_to_lab
    from outcomes.illumination import normalise_illumination
    from outcomes.features.laxity import NOT_ASSESSABLE, laxity_features
    from outcomes.features.pigment import check_pih
    from outcomes.features.wrinkle_fusion import find_wrinkles
    from outcomes.features.wrinkles import region_wrinkle_features
    from outcomes.regions import region_masks
    from outcomes.scoring import ScoringFeatures, estimate_gais, improvement_score, mean_severity_drop

    config = config or Config()
    times: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times[name] = (now - clock) * 1e3
        clock = now

    pair = align_photos(before, after, models, config)
    times.update({f"align.{k}": v for k, v in pair.registration.stage_ms.items()})
    lap("align_ms")
    b_lm, b_rgb = pair.before_landmarks, pair.before.pixels
    shape = b_rgb.shape[:2]
    ipd = b_lm.inter_pupil_distance
    oval, ring, seed, face = _face_masks(b_lm, shape)
    valid = pair.valid
    lab_b = srgb_to_lab(b_rgb)
    skin_b = skin_pixels(b_rgb, seed, lab=lab_b, within=face)
    skin_a_raw = skin_pixels(pair.after_in_before, seed & valid, within=face)
    face_skin = oval & skin_b & skin_a_raw
    ill = config.illumination
    after_rgb, fit = normalise_illumination(
        b_rgb, pair.after_in_before, face_skin | ring, valid, face_mask=face_skin,
        max_exposure_stops=ill.max_exposure_stops, max_tone_change=ill.max_tone_change,
        max_white_balance=ill.max_white_balance, max_nonuniformity=ill.max_nonuniformity,
    )
    lab_a = srgb_to_lab(after_rgb)
    skin_a = skin_pixels(after_rgb, seed & valid, lab=lab_a, within=face)
    lap("colour_ms")
    regions = region_masks(b_lm, shape, skin_b & skin_a & valid, config.regions.min_skin_fraction)
    lap("regions_ms")
    roi = _roi(oval, regions.masks)
    map_b = find_wrinkles(b_rgb, ipd, roi, models.wrinkle_cnn, config.wrinkles)
    map_a = _after_wrinkles_in_before_frame(pair, fit, roi, models, config)
    lap("wrinkles_ms")
    lax_b = laxity_features(b_lm, lab_b[..., 0])
    lax_a = laxity_features(pair.after_landmarks, lab_a[..., 0], frame_landmarks=b_lm)
    lap("laxity_ms")
    changes: dict[str, RegionChange] = {}
    for name, mask in regions.masks.items():
        # Paired: both measured on the union of both photos' lines, so a line
        # that fades below detection at follow-up counts with its faded depth.
        wb = region_wrinkle_features(map_b, lab_b, mask, regions.mm_per_px, reference=map_a)
        wa = region_wrinkle_features(map_a, lab_a, mask, regions.mm_per_px, reference=map_b)
        lb, la = lax_b.get(name), lax_a.get(name)
        changes[name] = RegionChange(
            wrinkle_before=wb.severity, wrinkle_after=wa.severity,
            laxity_before=None if lb is None else lb.value, laxity_after=None if la is None else la.value,
            laxity_confidence=None if lb is None else min(lb.confidence, la.confidence),
            wrinkle_detail_before=_wrinkle_detail(wb), wrinkle_detail_after=_wrinkle_detail(wa),
        )
    lap("region_features_ms")
    tone_mask = np.zeros(shape, bool)
    for name in ("cheek_right", "cheek_left", "forehead"):
        if name in regions.masks:
            tone_mask |= regions.masks[name]
    try:
        ita_b, ita_a = ita_deg(lab_b, tone_mask), ita_deg(lab_a, tone_mask)
    except ValueError:
        ita_b = ita_a = None
    if ita_b is None and fitzpatrick is None:
        tone = SkinTone(None, None, None, "not measured")  # flagged below; never guessed
    else:
        tone = skin_tone(ita_b, fitzpatrick)
    pih = check_pih(lab_b, lab_a, regions.masks, ipd, config.pigment, exclude=map_b.mask | map_a.mask)
    lap("pih_ms")
    folds = [n for n in changes if n.startswith(("nasolabial", "marionette"))]
    score, wrinkle, laxity = improvement_score(
        {n: c.wrinkle_before for n, c in changes.items()}, {n: c.wrinkle_after for n, c in changes.items()},
        {n: changes[n].laxity_before for n in folds}, {n: changes[n].laxity_after for n in folds},
        {n: changes[n].laxity_confidence for n in folds}, config.gais,
    )
    if models.gais_scorer is None:
        gais = estimate_gais(score, wrinkle, laxity, pih.severity, config.gais)
    else:
        gais = models.gais_scorer.estimate(ScoringFeatures(
            improvement_score=score, wrinkle_reduction=wrinkle, fold_reduction=laxity,
            wrinkle_removed=mean_severity_drop([c.wrinkle_before for c in changes.values()],
                                               [c.wrinkle_after for c in changes.values()]),
            pih_severity=pih.severity))
    lap("score_ms")
    flags = list(pair.registration.qc_flags)
    if models.gais_scorer is not None and models.gais_scorer.config_sha256 not in ("", config.sha256()):
        flags.append("scorer_config_differs: the GAIS scorer was calibrated on pairs assessed with another "
                      "configuration")
    if not fit.correctable:
        flags.append(f"lighting_not_correctable: {fit.reason}")
    if ita_b is None and fitzpatrick is None:
        flags.append("skin_tone_not_measured")
    if len(changes) < config.regions.min_regions:
        flags.append(f"too_few_regions: {len(changes)} scored, need {config.regions.min_regions}")
    usable = pair.registration.ok and fit.correctable and len(changes) >= config.regions.min_regions
    return Assessment(
        pair=pair, after_normalised=after_rgb, gais=gais, skin_before=tone, ita_after=ita_a, pih=pih,
        regions=changes, omitted_regions=regions.omitted, illumination=fit, usable=usable,
        qc_flags=tuple(flags), provenance={**provenance(config, pair.before, pair.after), "models": models.describe()},
        stage_ms=times, wrinkle_mask_before=map_b.mask, wrinkle_mask_after=map_a.mask,
        region_masks=regions.masks, not_assessable=dict(NOT_ASSESSABLE),
    )


def _roi(oval: np.ndarray, masks: dict[str, np.ndarray]) -> np.ndarray:
    """The face oval and every region (the forehead reaches above the oval)."""
    roi = oval.copy()
    for m in masks.values():
        roi |= m
    return roi


def _after_wrinkles_in_before_frame(pair: AlignedPair, fit: IlluminationFit, roi: np.ndarray, models: Models,
                                   config: Config) -> WrinkleMap:
    """Detect wrinkles on AFTER in its own frame, then carry the map into BEFORE's.

    Detecting on the resampled AFTER would compare a once-interpolated photo
    with an original one: interpolation softens fine creases and biases the
    change towards "improved". The response map is smooth, so warping it
    costs little. The detector sees the same face area in both photos
    (BEFORE's region of interest mapped into AFTER).
    """
    import cv2

    from outcomes.features.wrinkle_fusion import find_wrinkles
    from outcomes.illumination import apply_illumination

    after = pair.after.pixels
    roi_after = cv2.warpPerspective(
        roi.astype(np.uint8), pair.registration.after_to_before, (after.shape[1], after.shape[0]),
        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
    ).astype(bool)
    native = find_wrinkles(apply_illumination(after, fit), pair.after_landmarks.inter_pupil_distance, roi_after,
                           models.wrinkle_cnn, config.wrinkles)
    size = (pair.before.width, pair.before.height)
    # Response and mask in one resampling (two channels), on the maps of the photo's warp.
    both = np.dstack([native.response.astype(np.float32), native.mask.astype(np.float32)])
    warped, valid = warp_to_before(both, pair.registration, size, maps=pair.sampling_maps)
    response, mask = warped[..., 0], warped[..., 1]
    return dataclasses.replace(native, response=response * valid, mask=(mask >= 0.5) & valid,
                      ipd_px=pair.before_landmarks.inter_pupil_distance)


def _wrinkle_detail(features) -> dict[str, float]:  # noqa: ANN001 - RegionWrinkles
    return {"area_fraction": features.area_fraction, "length_per_cm2": features.length_per_cm2, "depth": features.depth}


@dataclass(frozen=True)
class PhotoWrinkles:
    """Wrinkles found on one photo, for ``outcomes wrinkles``."""

    photo: Photo
    mask: np.ndarray
    regions: dict[str, dict[str, float]]
    omitted: dict[str, str]
    detector: dict[str, str]

    def to_dict(self) -> dict:
        return {
            "schema_version": "1",
            "image": {"width": self.photo.width, "height": self.photo.height, "sha256": self.photo.sha256},
            "detector": self.detector,
            "wrinkle_area_fraction": round(float(self.mask.mean()), 6),
            "regions": {k: {f: round(float(v), 5) for f, v in d.items()} for k, d in self.regions.items()},
            "regions_omitted": self.omitted,
        }


def detect_photo_wrinkles(photo: Photo, models: Models, config: Config | None = None) -> PhotoWrinkles:
    """Landmarks, skin-only regions and wrinkle features of one photo."""
    from outcomes.color import skin_pixels, srgb_to_lab
    from outcomes.features.wrinkle_fusion import find_wrinkles
    from outcomes.features.wrinkles import region_wrinkle_features
    from outcomes.regions import region_masks

    config = config or Config()
    lm = models.landmarker.detect(photo)
    shape = photo.pixels.shape[:2]
    oval, _, seed, face = _face_masks(lm, shape)
    lab = srgb_to_lab(photo.pixels)
    regions = region_masks(lm, shape, skin_pixels(photo.pixels, seed, lab=lab, within=face),
                           config.regions.min_skin_fraction)
    wmap = find_wrinkles(photo.pixels, lm.inter_pupil_distance, _roi(oval, regions.masks), models.wrinkle_cnn,
                         config.wrinkles)
    features = {}
    for name, mask in regions.masks.items():
        f = region_wrinkle_features(wmap, lab, mask, regions.mm_per_px)
        features[name] = {**_wrinkle_detail(f), "severity": f.severity}
    kind = {"classical": "classical filters", "cnn": "wrinkle CNN",
            "cnn+classical": f"wrinkle CNN fused with classical filters (CNN weight {config.wrinkles.cnn_weight:g})"}
    detector = {"name": wmap.detector, "kind": kind[wmap.detector]}
    if models.wrinkle_cnn is not None and wmap.detector != "classical":
        detector["model_sha256"] = models.wrinkle_cnn.sha256
    return PhotoWrinkles(photo=photo, mask=wmap.mask, regions=features, omitted=regions.omitted, detector=detector)
