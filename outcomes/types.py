"""Small frozen dataclasses that carry data from one pipeline stage to the next.

image (``Photo``) → landmarks (``Landmarks``) → aligned pair (``AlignedPair``)

Arrays inside are not copied defensively; stages treat them as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ANCHOR_NAMES: tuple[str, ...] = (
    "right_pupil",
    "left_pupil",
    "right_eye_outer",
    "right_eye_inner",
    "left_eye_inner",
    "left_eye_outer",
    "subnasale",
    "mouth_right",
    "mouth_left",
    "chin",
)
"""The contract's named anchors; "right"/"left" are the subject's sides."""


@dataclass(frozen=True)
class Photo:
    """A decoded photograph, oriented as displayed.

    Attributes
    ----------
    pixels : ndarray, shape (H, W, 3), uint8
        RGB, EXIF orientation already applied.
    source : str
        Where it came from (a path, or a description for in-memory data).
    sha256 : str
        Hex digest of the source file's bytes (of the array's bytes when the
        photo did not come from a file).
    """

    pixels: np.ndarray
    source: str
    sha256: str

    def __post_init__(self) -> None:
        p = self.pixels
        if p.ndim != 3 or p.shape[2] != 3 or p.dtype != np.uint8:
            raise ValueError(
                f"Photo.pixels must be (H, W, 3) uint8 RGB, got shape {p.shape} dtype {p.dtype}"
            )

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def is_greyscale(self) -> bool:
        """True when every pixel has R = G = B (within 2 levels): no colour to measure."""
        step = max(1, int(np.sqrt(self.pixels.shape[0] * self.pixels.shape[1] / 40_000)))  # ~40k pixels suffice
        sample = self.pixels[::step, ::step].astype(np.int16)
        return bool(np.abs(sample[..., 0] - sample[..., 1]).max() <= 2 and np.abs(sample[..., 1] - sample[..., 2]).max() <= 2)

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


@dataclass(frozen=True)
class HeadPose:
    """Head rotation in degrees relative to a standardised frontal pose.

    yaw: positive when the nose turns towards the image's right;
    pitch: positive when the chin rises;
    roll: positive when the face rotates clockwise as displayed (the eye line
    runs down towards the image's right).
    """

    yaw: float
    pitch: float
    roll: float

    def as_dict(self) -> dict[str, float]:
        return {"yaw": self.yaw, "pitch": self.pitch, "roll": self.roll}


@dataclass(frozen=True)
class Landmarks:
    """Facial landmarks of one face in one photo.

    Attributes
    ----------
    points : ndarray, shape (N, 2), float64
        ``[x, y]`` pixel positions in the photo as displayed.
    depth : ndarray, shape (N,), float64
        Relative depth of each point in pixels (smaller is nearer the camera);
        only meaningful relative to other points of the same face.
    scheme : str
        Name of the point layout (``"mediapipe-478"``).
    anchors : dict[str, ndarray]
        The contract's named anchors, each shape (2,).
    pose : HeadPose
    faces_found : int
        How many faces the detector found; the largest was meshed.
    face_box : tuple of float
        ``(x0, y0, x1, y1)`` of the detected face in pixels.
    image_size : tuple of int
        ``(width, height)`` of the photo.
    qc_flags : tuple of str
        Quality notes (for example ``"multiple_faces"``).
    """

    points: np.ndarray
    depth: np.ndarray
    scheme: str
    anchors: dict[str, np.ndarray]
    pose: HeadPose
    faces_found: int
    face_box: tuple[float, float, float, float]
    image_size: tuple[int, int]
    qc_flags: tuple[str, ...] = ()

    @property
    def inter_pupil_distance(self) -> float:
        """Distance between the pupils in pixels."""
        return float(np.linalg.norm(self.anchors["right_pupil"] - self.anchors["left_pupil"]))


@dataclass(frozen=True)
class Registration:
    """How the follow-up photo (AFTER) maps onto the baseline (BEFORE).

    Attributes
    ----------
    after_to_before : ndarray, shape (3, 3)
        Global homography: homogeneous AFTER pixel → BEFORE pixel.
    local_flow : ndarray or None, shape (H, W, 2), float32
        Optional bounded non-rigid correction in BEFORE's frame, in pixels:
        the AFTER position of BEFORE pixel ``p`` is ``inv(H) @ (p + flow[p])``.
    residual_px : float
        Robust residual misfit after registration, in BEFORE pixels, at the
        stable landmarks.
    residual_rel_ipd : float
        ``residual_px`` divided by BEFORE's inter-pupil distance.
    local_max_px : float
        Largest displacement of the local correction (0 when none).
    pose_change : HeadPose
        AFTER's pose minus BEFORE's pose.
    ok : bool
        False when a QC threshold that makes the pair unusable was missed.
    qc_flags : tuple of str
    stage_ms : dict[str, float]
        Wall time of each registration step.
    """

    after_to_before: np.ndarray
    local_flow: np.ndarray | None
    residual_px: float
    residual_rel_ipd: float
    local_max_px: float
    pose_change: HeadPose
    ok: bool
    qc_flags: tuple[str, ...]
    stage_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Frame:
    """How a working photo's pixels relate to the original's, per axis:
    ``working = scale * (original - origin)`` (pixel centres).

    Attributes
    ----------
    scale : tuple of float
        Working pixels per original pixel along x and y (≤ 1).
    origin : tuple of float
        The original position that maps to working position 0, px.
    """

    scale: tuple[float, float] = (1.0, 1.0)
    origin: tuple[float, float] = (0.0, 0.0)

    @property
    def is_identity(self) -> bool:
        return self.scale == (1.0, 1.0) and self.origin == (0.0, 0.0)

    @property
    def mean_scale(self) -> float:
        return float(np.sqrt(self.scale[0] * self.scale[1]))

    def to_original(self) -> np.ndarray:
        """3×3 matrix mapping a working pixel position to the original photo's."""
        (sx, sy), (ox, oy) = self.scale, self.origin
        return np.array([[1.0 / sx, 0.0, ox], [0.0, 1.0 / sy, oy], [0.0, 0.0, 1.0]])

    def to_working(self) -> np.ndarray:
        """3×3 matrix mapping an original pixel position to the working photo's."""
        return np.linalg.inv(self.to_original())


@dataclass(frozen=True)
class AlignedPair:
    """A baseline photo and a follow-up photo resampled into the baseline's frame.

    Attributes
    ----------
    before : Photo
    after : Photo
        The original follow-up photo.
    after_in_before : ndarray, shape (H, W, 3), uint8
        AFTER warped into BEFORE's frame with the full registration.
    valid : ndarray, shape (H, W), bool
        Pixels of ``after_in_before`` that came from inside AFTER.
    before_landmarks, after_landmarks : Landmarks
    registration : Registration
    sampling_maps : (map_x, map_y) or None
        Where each BEFORE pixel samples AFTER (``align.sampling_maps``), kept so that
        maps computed on AFTER can be carried over without recomputing them.
    """

    before: Photo
    after: Photo
    after_in_before: np.ndarray
    valid: np.ndarray
    before_landmarks: Landmarks
    after_landmarks: Landmarks
    registration: Registration
    sampling_maps: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    # How each working photo relates to its file's pixels (outcomes.working_scale).
    before_frame: Frame = field(default_factory=lambda: Frame())
    after_frame: Frame = field(default_factory=lambda: Frame())
