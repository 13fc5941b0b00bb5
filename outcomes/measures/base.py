"""The interface every registered measure implements, and what it is given and gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from outcomes.config import Config
    from outcomes.face_analysis import FaceAnalysis, FaceMasks
    from outcomes.illumination import IlluminationFit
    from outcomes.regions import RegionSet
    from outcomes.runtime import Models
    from outcomes.types import AlignedPair, Landmarks, Photo


@dataclass(frozen=True)
class PhotoContext:
    """One photo as located and coloured: what a measure reads it from.

    Attributes
    ----------
    photo : Photo
        At its working scale.
    landmarks : Landmarks
    lab : ndarray, shape (H, W, 3), float
        CIELAB of ``photo``.
    masks : FaceMasks
    models : Models
    config : Config
    """

    photo: Photo
    landmarks: Landmarks
    lab: np.ndarray = field(repr=False)
    masks: FaceMasks = field(repr=False)
    models: Models = field(repr=False)
    config: Config = field(repr=False)


@dataclass(frozen=True)
class PairContext:
    """A baseline and its aligned, lighting-corrected follow-up, in the baseline's frame.

    Attributes
    ----------
    base : FaceAnalysis
        The baseline, with what each measure found on it (``base.measured``).
    pair : AlignedPair
    after_native : ndarray, shape (h, w, 3), uint8
        The follow-up in its own frame with the baseline's lighting.
    lab_after : ndarray, shape (H, W, 3), float
        CIELAB of the follow-up in the baseline's frame, lighting corrected.
    illumination : IlluminationFit
    regions : RegionSet
        The regions scored (skin both photos show).
    roi : ndarray, shape (H, W), bool
        The face area measures look in.
    skin_both : ndarray, shape (H, W), bool
        Skin in both photos.
    not_pigment : ndarray, shape (H, W), bool
        Pixels the measures run so far explain (a line, a deepened fold) or that are
        next to anything not skin: what the pigment measure leaves out.
    pih_not_assessable : dict[str, str]
        Regions where PIH is not judged, and why (an expression moved them).
    models : Models
    config : Config
    """

    base: FaceAnalysis = field(repr=False)
    pair: AlignedPair = field(repr=False)
    after_native: np.ndarray = field(repr=False)
    lab_after: np.ndarray = field(repr=False)
    illumination: IlluminationFit = field(repr=False)
    regions: RegionSet = field(repr=False)
    roi: np.ndarray = field(repr=False)
    skin_both: np.ndarray = field(repr=False)
    not_pigment: np.ndarray = field(repr=False)
    pih_not_assessable: dict[str, str]
    models: Models = field(repr=False)
    config: Config = field(repr=False)


@dataclass(frozen=True)
class RegionReading:
    """A measure's value in one region at both visits (its unit is the measure's).

    ``confidence`` in [0, 1] when the measure rates its own reliability; ``details``
    are the parts the value is made of, before and after.
    """

    before: float | None
    after: float | None
    confidence: float | None = None
    detail_before: dict[str, float] = field(default_factory=dict)
    detail_after: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """What a measure found comparing the two photos.

    Attributes
    ----------
    regions : dict[str, RegionReading]
        Per scored region; a region the measure does not apply to is absent.
    explains : ndarray (H, W) bool or None
        Baseline-frame pixels whose change this measure accounts for (so the pigment
        measure does not read them as new pigment).
    extra : dict
        Measure-specific results the composition reports (e.g. wrinkle masks, the PIH result).
    """

    regions: dict[str, RegionReading] = field(default_factory=dict)
    explains: np.ndarray | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)


class Measure(Protocol):
    """A registered measure: one module, one entry in :data:`outcomes.measures.REGISTRY`.

    ``name`` keys its results (``FaceAnalysis.measured``, stage timings); measures run in
    registry order, each seeing what the earlier ones explain (``PairContext.not_pigment``).
    Not thread-safe parts, if any, are the measure's to guard.
    """

    name: str

    def measure_photo(self, photo: PhotoContext) -> Any:
        """What this measure reads from one photo on its own (reused for every follow-up)."""

    def compare(self, pair: PairContext, baseline: Any) -> Comparison:
        """Compare the follow-up with the baseline (``baseline``: this measure's :meth:`measure_photo`)."""
