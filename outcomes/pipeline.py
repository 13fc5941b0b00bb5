"""The one place that composes the stages.

photo → landmarks → aligned pair; baseline analysis (``outcomes.face_analysis``) +
aligned follow-up → regions → features → assessment.

Models are loaded once with :func:`outcomes.runtime.load_models` and passed to every
call, so a batch job or a web service pays for them once per process.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from outcomes._timing import StageClock
from outcomes.align import register, sampling_maps, warp_to_before
from outcomes.config import Config
from outcomes.face_analysis import (
    FaceAnalysis,
    analyse_face,
    face_roi,
    measure_face,
    require_colour,
    restrict_wrinkles,
)
from outcomes.io import read_photo
from outcomes.schema import SCHEMA_VERSION, QcFlag, flag_objects, flag_texts, run_identity
from outcomes.types import AlignedPair, Landmarks, Photo
from outcomes.working_scale import homography_in_originals, mask_in_original, to_working_scale

if TYPE_CHECKING:
    from outcomes.assessment import Assessment
    from outcomes.identity import FaceIdentity
    from outcomes.runtime import Models


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
    start = time.perf_counter()
    before_photo, before_lm = locate_face(before, models, config)
    before_photo, before_lm, before_frame = to_working_scale(before_photo, before_lm)
    after_photo, after_lm = locate_face(after, models, config)
    after_photo, after_lm, after_frame = to_working_scale(after_photo, after_lm)
    pair = _align_onto(before_photo, before_lm, after_photo, after_lm, config, (time.perf_counter() - start) * 1e3)
    return dataclasses.replace(pair, before_frame=before_frame, after_frame=after_frame)


def _align_onto(before_photo: Photo, before_lm: Landmarks, after_photo: Photo, after_lm: Landmarks, config: Config,
                locate_ms: float) -> AlignedPair:
    """Align a located AFTER onto a located BEFORE (``locate_ms``: what locating them took).

    Both at their working scale: the pair is in BEFORE's working frame."""
    times: dict[str, float] = {"read_and_landmarks_ms": locate_ms}
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


def refuse_same_photo(before: Photo, after: Photo) -> None:
    """Raise :class:`SamePhotoError` when BEFORE and AFTER are one file (identical sha256)."""
    from outcomes.errors import SamePhotoError

    if before.sha256 == after.sha256:
        raise SamePhotoError(after.source, f"is the same photograph as the baseline {before.source} "
                             f"(sha256 {after.sha256[:12]}…): a follow-up must be a new photo")


def locate_patient(photo: Photo, models: Models, reference: Callable[[], FaceIdentity | None] | None = None
                   ) -> tuple[Landmarks, FaceIdentity | None]:
    """The face in a follow-up ``photo`` that shows the baseline's person, and its identity.

    With one face (or no identity model, or no ``reference``) it is that face. With
    several it is the one whose embedding is nearest the ``reference`` identity (a
    callable, so that the baseline's identity is waited for only when needed); the
    largest face may be someone else standing closer.
    """
    located = models.landmarker.detect(photo)
    if located.faces_found < 2 or models.identity is None or reference is None:
        return located, None
    target = reference()
    if target is None:
        return located, None
    from outcomes.identity import identity_distance

    candidates = [(lm, models.identity.identify(photo, lm)) for lm in models.landmarker.detect_all(photo)]
    return min(candidates, key=lambda c: identity_distance(c[1], target))


def alignment_to_dict(pair: AlignedPair, config: Config) -> dict:
    """The contract's JSON for ``outcomes align`` (plus provenance and timings)."""
    reg = pair.registration
    to_original_px = 1.0 / pair.before_frame.mean_scale
    return {
        "schema_version": SCHEMA_VERSION,
        "after_to_before": np.round(homography_in_originals(reg.after_to_before, pair.before_frame,
                                                            pair.after_frame), 10).tolist(),
        "residual_px": round(reg.residual_px * to_original_px, 4),
        "residual_rel_ipd": round(reg.residual_rel_ipd, 6),
        "local_max_px": round(reg.local_max_px * to_original_px, 3),
        "pose_change_deg": {k: round(v, 2) for k, v in reg.pose_change.as_dict().items()},
        "ok": reg.ok,
        "qc_flags": flag_texts(reg.qc_flags),
        "qc_flag_codes": flag_objects(reg.qc_flags),
        "stage_ms": {k: round(v, 1) for k, v in reg.stage_ms.items()},
        "provenance": run_identity(config, photos=(pair.before, pair.after)),
    }


def assess_pair(
    before: str | Path | Photo | FaceAnalysis, after: str | Path | Photo, models: Models,
    config: Config | None = None, fitzpatrick: str | None = None,
) -> Assessment:
    """Align a pair and measure what changed: wrinkles, laxity, skin tone, PIH, GAIS.

    Parameters
    ----------
    before : path, Photo or FaceAnalysis
        The baseline; an :func:`~outcomes.face_analysis.analyse_face` result (made with the
        same models and configuration) is reused as it is, so that several follow-ups
        of one baseline pay for its analysis once. The result is the same either way.
    after : path or Photo
    models : Models
        From :func:`load_models`.
    config : Config, optional
    fitzpatrick : str, optional
        The clinic's Fitzpatrick type ("I"…"VI"); it wins over the estimate.

    Raises
    ------
    InputImageError, NoFaceError
        Unreadable photo or no face. A pair that is readable but not
        comparable (pose, lighting, expression, another person) is returned
        with ``usable=False`` and QC flags that say why.
    SamePhotoError
        BEFORE and AFTER are the same photograph (identical sha256).
    ValueError
        ``before`` was analysed with another configuration than ``config``.
    """
    from outcomes.assessment import Assessment, RegionChange
    from outcomes.color import SkinTone, ita_deg, skin_pixels, skin_tone, srgb_to_lab
    from outcomes.comparability import check_comparability, pih_not_assessable
    from outcomes.features.laxity import NOT_ASSESSABLE
    from outcomes.illumination import apply_illumination, normalise_illumination
    from outcomes.measures import BUILT_IN_MEASURES, Comparison, PairContext, registered
    from outcomes.regions import region_masks
    from outcomes.scoring import ScoringFeatures, estimate_gais, improvement_score, mean_severity_drop

    config = config or Config()
    clock = StageClock()
    times, lap = clock.times, clock.lap

    after_photo = after if isinstance(after, Photo) else read_photo(after, config.input)
    if isinstance(before, FaceAnalysis):
        if before.config_sha256 != config.sha256():
            raise ValueError(f"the baseline {before.photo.source} was analysed with another configuration "
                             f"(sha256 {before.config_sha256[:12]}…, this one {config.sha256()[:12]}…)")
        base = before
        require_colour(after_photo)
        refuse_same_photo(base.photo, after_photo)
        start = time.perf_counter()
        after_lm, after_identity = locate_patient(after_photo, models, lambda: base.identity)
        after_photo, after_lm, after_frame = to_working_scale(after_photo, after_lm)
        pair = _align_onto(base.photo, base.landmarks, after_photo, after_lm, config,
                           (time.perf_counter() - start) * 1e3)
    else:
        from concurrent.futures import ThreadPoolExecutor

        photo = before if isinstance(before, Photo) else read_photo(before, config.input)
        require_colour(photo)
        require_colour(after_photo)
        refuse_same_photo(photo, after_photo)
        photo, landmarks = locate_face(photo, models, config)
        photo, landmarks, before_frame = to_working_scale(photo, landmarks)
        lap("baseline.read_and_landmarks_ms")
        # The baseline is measured while AFTER is located and aligned: both mostly run
        # single-threaded code (OpenCV, PyTorch and numpy release the GIL), so on two or
        # more cores the pair takes about the longer of the two, not their sum.
        with ThreadPoolExecutor(1, thread_name_prefix="baseline") as pool:
            measuring = pool.submit(measure_face, photo, landmarks, models, config, frame=before_frame)
            start = time.perf_counter()
            after_lm, after_identity = locate_patient(after_photo, models, lambda: measuring.result().identity)
            after_photo, after_lm, after_frame = to_working_scale(after_photo, after_lm)
            pair = _align_onto(photo, landmarks, after_photo, after_lm, config, (time.perf_counter() - start) * 1e3)
            base = measuring.result()
        times.update({f"baseline.{k}": v for k, v in base.stage_ms.items()})
    times.update({f"align.{k}": v for k, v in pair.registration.stage_ms.items()})
    lap("baseline_and_align_ms")
    if after_identity is None and models.identity is not None and config.identity.check:
        after_identity = models.identity.identify(pair.after, pair.after_landmarks)
    comparable = check_comparability(base.landmarks, pair.after_landmarks, base.identity, after_identity,
                                     config.expression, config.identity)
    lap("comparability_ms")
    b_lm, b_rgb, lab_b, masks = base.landmarks, base.photo.pixels, base.lab, base.masks
    shape, ipd = b_rgb.shape[:2], b_lm.inter_pupil_distance
    valid = pair.valid
    skin_a_raw = skin_pixels(pair.after_in_before, masks.seed & valid, within=masks.face)
    face_skin = masks.oval & base.skin & skin_a_raw
    ill = config.illumination
    after_rgb, fit = normalise_illumination(
        b_rgb, pair.after_in_before, face_skin | masks.ring, valid, face_mask=face_skin,
        max_exposure_stops=ill.max_exposure_stops, max_tone_change=ill.max_tone_change,
        max_white_balance=ill.max_white_balance, max_nonuniformity=ill.max_nonuniformity,
    )
    lab_a = srgb_to_lab(after_rgb)
    skin_a = skin_pixels(after_rgb, masks.seed & valid, lab=lab_a, within=masks.face)
    lap("colour_ms")
    regions = region_masks(b_lm, shape, base.skin & skin_a & valid, config.regions.min_skin_fraction)
    lap("regions_ms")
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
    pih_skipped = pih_not_assessable(comparable, b_lm, pair.after_landmarks, pair.registration.after_to_before,
                                     regions.masks, config.expression)
    # Every registered measure compares the pair in BEFORE's frame, in registry order; what
    # each explains (a line, a deepened fold) is left out of the pigment check after it.
    skin_both = base.skin & skin_a
    context = PairContext(
        base=base, pair=pair, after_native=apply_illumination(pair.after.pixels, fit), lab_after=lab_a,
        illumination=fit, regions=regions, roi=face_roi(masks.oval, regions.masks), skin_both=skin_both,
        not_pigment=_near_non_skin(skin_both, ipd, config.pigment), pih_not_assessable=pih_skipped,
        models=models, config=config)
    compared: dict[str, Comparison] = {}
    for measure in registered():
        compared[measure.name] = result = measure.compare(context, base.measured[measure.name])
        if result.explains is not None:
            context = dataclasses.replace(context, not_pigment=context.not_pigment | result.explains)
        lap(f"{measure.name}_ms")
    wrinkles, laxity_readings = compared["wrinkles"], compared["laxity"].regions
    pih = compared["pigment"].extra["pih"]
    others = [n for n in compared if n not in BUILT_IN_MEASURES]  # reported region by region as they are
    changes: dict[str, RegionChange] = {}
    for name in regions.masks:
        w, lx = wrinkles.regions[name], laxity_readings.get(name)
        changes[name] = RegionChange(
            wrinkle_before=w.before, wrinkle_after=w.after,
            laxity_before=None if lx is None else lx.before, laxity_after=None if lx is None else lx.after,
            laxity_confidence=None if lx is None else lx.confidence,
            wrinkle_detail_before=w.detail_before, wrinkle_detail_after=w.detail_after,
            other={m: (compared[m].regions[name].before, compared[m].regions[name].after)
                   for m in others if name in compared[m].regions},
        )
    lax = [n for n, c in changes.items() if c.laxity_before is not None and c.laxity_after is not None]
    score, wrinkle, laxity = improvement_score(
        {n: c.wrinkle_before for n, c in changes.items()}, {n: c.wrinkle_after for n, c in changes.items()},
        {n: changes[n].laxity_before for n in lax}, {n: changes[n].laxity_after for n in lax},
        {n: changes[n].laxity_confidence for n in lax}, config.gais,
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
    flags = list(pair.registration.qc_flags) + list(comparable.flags)
    if models.gais_scorer is not None and models.gais_scorer.config_sha256 not in ("", config.sha256()):
        flags.append(QcFlag("scorer_config_differs", "the GAIS scorer was calibrated on pairs assessed with "
                            "another configuration").text)
    if not fit.correctable:
        flags.append(QcFlag("lighting_not_correctable", fit.reason).text)
    if ita_b is None and fitzpatrick is None:
        flags.append("skin_tone_not_measured")
    if len(changes) < config.regions.min_regions:
        flags.append(QcFlag("too_few_regions", f"{len(changes)} scored, need {config.regions.min_regions}").text)
    usable = (pair.registration.ok and fit.correctable and len(changes) >= config.regions.min_regions
              and comparable.usable)
    return Assessment(
        pair=pair, after_normalised=after_rgb, gais=gais, skin_before=tone, ita_after=ita_a, pih=pih,
        regions=changes, omitted_regions=regions.omitted, illumination=fit, usable=usable,
        qc_flags=tuple(flags), provenance=run_identity(config, models, (pair.before, pair.after)),
        stage_ms=times, wrinkle_mask_before=wrinkles.extra["mask_before"], wrinkle_mask_after=wrinkles.extra["mask_after"],
        region_masks=regions.masks, not_assessable=dict(NOT_ASSESSABLE), comparability=comparable,
        pih_not_assessable=pih_skipped, relative_blur_px=wrinkles.extra["relative_blur_px"],
        frames=(base.frame, after_frame),
    )


def _near_non_skin(skin_both: np.ndarray, ipd_px: float, pigment) -> np.ndarray:  # noqa: ANN001
    """Pixels within the PIH shift tolerance of anything that is not skin in both photos.

    Hair, brows and lashes move between photos (a strand over the forehead, a head
    turned by a few degrees) by more than the registration can follow; the skin
    beside them then changes from skin to hair, which is no new pigment. Everything
    outside the face counts as not skin, so the hairline above the forehead does too.
    """
    import cv2

    radius = max(1, round(pigment.shift_tolerance_ipd * ipd_px))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
    return cv2.dilate((~skin_both).astype(np.uint8), disk).astype(bool)


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
            "schema_version": SCHEMA_VERSION,
            "image": {"width": self.photo.width, "height": self.photo.height, "sha256": self.photo.sha256},
            "detector": self.detector,
            "wrinkle_area_fraction": round(float(self.mask.mean()), 6),
            "regions": {k: {f: round(float(v), 5) for f, v in d.items()} for k, d in self.regions.items()},
            "regions_omitted": self.omitted,
        }


def detect_photo_wrinkles(photo: Photo, models: Models, config: Config | None = None) -> PhotoWrinkles:
    """Landmarks, skin-only regions and wrinkle features of one photo."""
    from outcomes.features.wrinkle_regions import region_wrinkle_features
    from outcomes.measures.wrinkles import wrinkle_detail
    from outcomes.regions import region_masks

    config = config or Config()
    face = analyse_face(photo, models, config)
    regions = region_masks(face.landmarks, face.photo.pixels.shape[:2], face.skin, config.regions.min_skin_fraction)
    wmap = restrict_wrinkles(face.wrinkles, face_roi(face.masks.oval, regions.masks))
    lab = face.lab
    features = {}
    for name, mask in regions.masks.items():
        f = region_wrinkle_features(wmap, lab, mask, regions.mm_per_px)
        features[name] = {**wrinkle_detail(f), "severity": f.severity}
    kind = {"classical": "classical filters", "cnn": "wrinkle CNN",
            "cnn+classical": f"wrinkle CNN fused with classical filters (CNN weight {config.wrinkles.cnn_weight:g})"}
    detector = {"name": wmap.detector, "kind": kind[wmap.detector]}
    if wmap.detector != "classical":  # the model as the map recorded it when it was made
        detector.update({key: wmap.params[key] for key in ("model_sha256", "mirror_average")})
    mask = mask_in_original(wmap.mask, face.frame, (photo.width, photo.height))
    return PhotoWrinkles(photo=photo, mask=mask, regions=features, omitted=regions.omitted, detector=detector)
