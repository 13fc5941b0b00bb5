"""The one place that composes the stages: photo → landmarks → aligned pair.

Models are loaded once with :func:`load_models` and passed to every call, so a
batch job or a web service pays for them once per process.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from outcomes import __version__
from outcomes.align import register, warp_to_before
from outcomes.config import Config
from outcomes.io import read_photo
from outcomes.landmarks import FaceLandmarker
from outcomes.types import AlignedPair, Landmarks, Photo


@dataclass(frozen=True)
class Models:
    """Everything loaded once per process and passed in to the stages."""

    landmarker: FaceLandmarker

    def close(self) -> None:
        self.landmarker.close()


def load_models(config: Config | None = None) -> Models:
    """Load the face detector and mesh (and, later, the wrinkle CNN)."""
    config = config or Config()
    return Models(landmarker=FaceLandmarker(config.landmarks))


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
    pixels, valid = warp_to_before(after_photo.pixels, registration, (before_photo.width, before_photo.height))
    times["warp_ms"] = (time.perf_counter() - start) * 1e3
    registration = dataclasses.replace(registration, stage_ms={**registration.stage_ms, **times})
    return AlignedPair(
        before=before_photo, after=after_photo, after_in_before=pixels, valid=valid,
        before_landmarks=before_lm, after_landmarks=after_lm, registration=registration,
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
