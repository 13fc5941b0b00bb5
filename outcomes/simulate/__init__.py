"""Treatment simulator: a TEST INSTRUMENT for the outcome pipeline.

It renders known changes onto real face photos (wrinkles that get shallower,
new PIH-like macules, redness, a lighting change and a camera/pose change)
and writes the exact ground truth, so that landmarking, alignment and the
wrinkle / pigment / GAIS assessments can be measured against it.

To stay independent of the code it tests, this package imports only numpy,
scipy, OpenCV, scikit-image and the standard library, never other
``outcomes`` modules. Inputs are plain arrays: RGB uint8 images of shape
(H, W, 3) and an anchors mapping of contract names to ``[x, y]`` pixels
(OpenCV convention, subject's sides). Nothing runs at import time.
"""

from .geometry import face_frame, random_geometric_change, transform_points, warp_image
from .lesions import add_macules, add_redness, cheek_polygon
from .photometric import change_lighting, linear_to_srgb, random_lighting, srgb_to_linear
from .sagging import LowerFace, SaggingSpec, london_lower_face, render_sagging
from .scenario import SimulatedPair, TreatmentSpec, simulate_pair, write_pair
from .templates import london_anchors, read_tem
from .trial import RaterPanel, TrialSubject, rate_trial, simulate_trial, true_grade
from .wrinkles import (
    REGIONS,
    VISIBLE_TEXTURE_SDS,
    Wrinkle,
    render_wrinkles,
    sample_wrinkles,
    visible_wrinkles,
    wrinkle_darkening,
)

__all__ = [
    "REGIONS",
    "VISIBLE_TEXTURE_SDS",
    "LowerFace",
    "RaterPanel",
    "SaggingSpec",
    "SimulatedPair",
    "TrialSubject",
    "TreatmentSpec",
    "Wrinkle",
    "add_macules",
    "add_redness",
    "change_lighting",
    "cheek_polygon",
    "face_frame",
    "linear_to_srgb",
    "london_anchors",
    "london_lower_face",
    "random_geometric_change",
    "random_lighting",
    "rate_trial",
    "read_tem",
    "render_sagging",
    "render_wrinkles",
    "sample_wrinkles",
    "simulate_pair",
    "simulate_trial",
    "srgb_to_linear",
    "transform_points",
    "true_grade",
    "visible_wrinkles",
    "warp_image",
    "wrinkle_darkening",
    "write_pair",
]
