"""What is measured on one photo on its own, before it is compared with another.

photo → landmarks → face masks, CIELAB, skin, wrinkle map, laxity (``FaceAnalysis``)

None of it depends on the photo it will be compared with, so a baseline
analysed once serves every follow-up visit of its subject: a batch job
analyses each baseline once per subject instead of once per pair. The
wrinkle map covers the whole face (the oval and every region's outline);
a comparison restricts it to the skin both photos show with
:func:`restrict_wrinkles`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from outcomes._timing import StageClock
from outcomes.config import Config
from outcomes.types import Frame, Landmarks, Photo
from outcomes.working_scale import to_working_scale

if TYPE_CHECKING:
    from outcomes.features.laxity import LaxityValue
    from outcomes.features.wrinkles import WrinkleMap
    from outcomes.identity import FaceIdentity
    from outcomes.runtime import Models


@dataclass(frozen=True)
class FaceMasks:
    """Masks of one face in its photo's frame, from its landmarks alone (each shape (H, W), bool).

    Attributes
    ----------
    oval : the face oval.
    ring : background ring around the head (0.6–1.2 IPD from the oval), for the lighting fit.
    seed : both cheeks, where skin colour is learnt.
    face : the oval plus every region's outline (the forehead reaches above the oval):
        the only pixels whose skin status or wrinkles are ever used.
    """

    oval: np.ndarray
    ring: np.ndarray
    seed: np.ndarray
    face: np.ndarray


@dataclass(frozen=True)
class FaceAnalysis:
    """One photo's pair-independent measurements.

    Attributes
    ----------
    photo : Photo
    landmarks : Landmarks
    lab : ndarray, shape (H, W, 3), float32
        CIELAB (D65) of the photo.
    masks : FaceMasks
    skin : ndarray, shape (H, W), bool
        Skin-coloured pixels of ``masks.face`` (False elsewhere).
    measured : dict[str, object]
        Each registered measure's reading of the photo on its own, by measure name
        (``outcomes.measures``): the wrinkle map on ``masks.face`` (``wrinkles``), fold and
        jowl values with the jaw profiles a follow-up is matched to (``laxity``).
    config_sha256 : str
        The configuration the analysis was made with (``Config.sha256``).
    stage_ms : dict[str, float]
        Wall time of each step.
    identity : FaceIdentity or None
        The face's identity embedding (None when the models hold no identity model).
    frame : Frame
        How ``photo`` (the working photo) relates to the original's pixels.
    """

    photo: Photo
    landmarks: Landmarks
    lab: np.ndarray
    masks: FaceMasks
    skin: np.ndarray
    measured: dict[str, Any]
    config_sha256: str
    stage_ms: dict[str, float] = field(default_factory=dict)
    identity: FaceIdentity | None = None
    frame: Frame = field(default_factory=Frame)

    @property
    def wrinkles(self) -> WrinkleMap:
        """The wrinkle map of the whole face (the wrinkle measure's reading)."""
        return self.measured["wrinkles"]

    @property
    def laxity(self) -> dict[str, LaxityValue]:
        """Laxity values by region (the laxity measure's reading)."""
        return self.measured["laxity"].values


def analyse_face(source: str | Path | Photo, models: Models, config: Config | None = None) -> FaceAnalysis:
    """Read a photo (unless given one), place its landmarks and measure it on its own.

    Raises
    ------
    InputImageError, NoFaceError
        Unreadable photo or no face.
    """
    from outcomes.io import read_photo

    config = config or Config()
    clock = StageClock()
    photo = source if isinstance(source, Photo) else read_photo(source, config.input)
    require_colour(photo)
    landmarks = models.landmarker.detect(photo)
    photo, landmarks, frame = to_working_scale(photo, landmarks)
    clock.lap("read_and_landmarks_ms")
    return measure_face(photo, landmarks, models, config, stage_ms=clock.times, frame=frame)


def measure_face(photo: Photo, landmarks: Landmarks, models: Models, config: Config | None = None, *,
                 stage_ms: dict[str, float] | None = None, frame: Frame | None = None) -> FaceAnalysis:
    """Measure a located face (:func:`analyse_face` after the landmarks).

    It does not use the landmark models, so it can run in a thread while the
    caller locates another face. ``stage_ms``: timings so far, kept in front of its own.
    """
    from outcomes.color import skin_pixels, srgb_to_lab
    from outcomes.measures import PhotoContext, registered

    config = config or Config()
    clock = StageClock()
    times, lap = clock.times, clock.lap
    masks = face_masks(landmarks, photo.pixels.shape[:2])
    lab = srgb_to_lab(photo.pixels)
    skin = skin_pixels(photo.pixels, masks.seed, lab=lab, within=masks.face)
    lap("colour_ms")
    context = PhotoContext(photo=photo, landmarks=landmarks, lab=lab, masks=masks, models=models, config=config)
    measured = {}
    for measure in registered():
        measured[measure.name] = measure.measure_photo(context)
        lap(f"{measure.name}_ms")
    identity = None if models.identity is None else models.identity.identify(photo, landmarks)
    lap("identity_ms")
    return FaceAnalysis(photo=photo, landmarks=landmarks, lab=lab, masks=masks, skin=skin, measured=measured,
                        config_sha256=config.sha256(), stage_ms={**(stage_ms or {}), **times},
                        identity=identity, frame=frame or Frame())


def face_masks(landmarks: Landmarks, shape: tuple[int, int]) -> FaceMasks:
    """Oval, background ring, cheek seed and face masks of a face in a frame of ``shape`` (H, W)."""
    import cv2

    from outcomes.landmarks import FACE_OVAL
    from outcomes.regions import region_masks

    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be (H, W) with both positive, got {shape}")
    oval = np.zeros(shape, np.uint8)
    cv2.fillPoly(oval, [np.round(landmarks.points[list(FACE_OVAL)]).astype(np.int32)], 1)
    ipd = landmarks.inter_pupil_distance
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
    plain = region_masks(landmarks, shape).masks
    seed = np.zeros(shape, bool)
    for name in ("cheek_right", "cheek_left"):
        if name in plain:
            seed |= plain[name]
    oval = oval.astype(bool)
    return FaceMasks(oval=oval, ring=ring, seed=seed, face=face_roi(oval, plain))


def face_roi(oval: np.ndarray, masks: dict[str, np.ndarray]) -> np.ndarray:
    """The face oval and every region (the forehead reaches above the oval)."""
    roi = oval.copy()
    for m in masks.values():
        roi |= m
    return roi


def restrict_wrinkles(wrinkle_map: WrinkleMap, roi: np.ndarray) -> WrinkleMap:
    """The map with its response and mask set to 0 outside ``roi`` (shape (H, W), bool)."""
    if roi.dtype != bool or roi.shape != wrinkle_map.mask.shape:
        raise ValueError(f"roi must be a bool mask of the wrinkle map's shape {wrinkle_map.mask.shape}, "
                         f"got {roi.dtype} {roi.shape}")
    return dataclasses.replace(wrinkle_map, response=np.where(roi, wrinkle_map.response, 0).astype(np.float32),
                               mask=wrinkle_map.mask & roi)


def require_colour(photo: Photo) -> None:
    """Refuse a greyscale photo: skin, skin tone and PIH are measured in colour.

    Raises
    ------
    InputImageError
        Code ``image_greyscale``.
    """
    from outcomes.errors import InputImageError

    if photo.is_greyscale:
        raise InputImageError(photo.source, "is a greyscale photo: skin tone, skin detection and the PIH check need "
                              "colour; use the colour original", code="image_greyscale")
