"""Face landmarks: mediapipe's full-range face detector, then its 478-point face mesh.

The mesh's own detector is a short-range model that misses small or
off-centre faces, so we find the face with the full-range detector first,
crop a square around it (enlarged, resampled to a fixed size) and mesh the
crop. Points are mapped back to the photo's pixel frame.

Models are loaded by :class:`FaceLandmarker` (explicitly, once) and released
with :meth:`FaceLandmarker.close`; importing this module loads nothing.

Thread safety: mediapipe's solution graphs take one frame at a time, so each
landmarker serialises its calls with a lock; several threads may share one.
mediapipe's native start-up lines (TFLite, absl) are silenced once, while the
graphs start, never per call.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

import numpy as np

from outcomes.config import LandmarkConfig
from outcomes.errors import NoFaceError
from outcomes.schema import SCHEMA_VERSION, flag_objects, flag_texts
from outcomes.types import HeadPose, Landmarks, Photo

SCHEME = "mediapipe-478"

# Contract anchor → mediapipe face-mesh index (subject's sides). 468/473 are
# the iris centres of the refined (attention) mesh; 94 is the subnasale point
# at the columella base; 152 the menton.
MESH_ANCHOR_INDEX: dict[str, int] = {
    "right_pupil": 468,
    "left_pupil": 473,
    "right_eye_outer": 33,
    "right_eye_inner": 133,
    "left_eye_inner": 362,
    "left_eye_outer": 263,
    "subnasale": 94,
    "mouth_right": 61,
    "mouth_left": 291,
    "chin": 152,
}

# Points that barely move with expression: eye corners, iris centres, the
# nasal bridge, tip and base, and the glabella. Used for pose and alignment.
STABLE_INDICES: tuple[int, ...] = (
    33, 133, 362, 263,  # eye corners
    468, 473,  # iris centres
    168, 6, 197, 195, 5, 4, 1,  # bridge to tip
    2, 94, 98, 327, 64, 294,  # base of the nose, alae
    9, 8, 193, 417,  # glabella, medial brow roots
)

# Face-oval silhouette of the mesh, in order around the face.
FACE_OVAL: tuple[int, ...] = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
    400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21,
    54, 103, 67, 109,
)
LIPS_OUTER: tuple[int, ...] = (
    61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84,
    181, 91, 146,
)
RIGHT_EYE_CONTOUR: tuple[int, ...] = (
    33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7,
)
LEFT_EYE_CONTOUR: tuple[int, ...] = (
    362, 398, 384, 385, 386, 387, 388, 466, 263, 249, 390, 373, 374, 380, 381, 382,
)


# dlib's HOG face detector finds faces within about ±30° of upright only; an upright face
# scores 2.5-3.3 on the London photos, the same face turned half round 0.2 or less.
UPRIGHT_MIN_SCORE = 1.0
ORIENTATION_CHECK_PX = 160  # side of the square the orientation check sees the face at


@dataclass(frozen=True)
class _Detection:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
    score: float

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


class FaceLandmarker:
    """Loaded face detector and face mesh.

    Parameters
    ----------
    config : LandmarkConfig, optional

    Notes
    -----
    mediapipe graphs are not thread-safe: use one instance per thread or
    process. ``with FaceLandmarker() as lm: ...`` closes the graphs.
    """

    # Side of the square crop the mesh receives. The mesh model itself works
    # at 192 px; a larger crop only costs time, a smaller one aliases.
    MESH_INPUT_PX = 512

    def __init__(self, config: LandmarkConfig | None = None):
        self.config = config or LandmarkConfig()
        self._lock = threading.Lock()  # one frame at a time through the graphs
        quiet_library_warnings()
        with _quiet_native_logging():
            from mediapipe.python.solutions import face_detection, face_mesh

            self._detector = face_detection.FaceDetection(
                model_selection=1,  # full-range model: faces up to ~5 m away
                min_detection_confidence=self.config.min_detection_confidence,
            )
            self._mesh = face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                min_detection_confidence=0.3,
            )
            # mediapipe opens its inference calculators on the first frame and
            # logs from worker threads shortly after; do that here, silenced.
            blank = np.zeros((64, 64, 3), np.uint8)
            self._detector.process(blank)
            self._mesh.process(blank)
            time.sleep(0.1)
        self._template: np.ndarray | None = None  # loaded on first use
        self._hog_detector = None  # dlib's HOG face detector, for the orientation check (made on first use)

    def close(self) -> None:
        self._detector.close()
        self._mesh.close()

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect(self, photo: Photo) -> Landmarks:
        """Find the largest face in ``photo`` and place its 478 landmarks.

        Raises
        ------
        NoFaceError
            No face above the detector's confidence, a face too small, or a
            face the mesh cannot be fitted to.
        """
        detections, faces_found = self._faces(photo)
        return self._landmarks(photo, detections[0], faces_found)

    def detect_all(self, photo: Photo, max_faces: int = 4) -> list[Landmarks]:
        """Every face of at least ``other_face_min_area_ratio`` of the largest's area, largest first.

        Up to ``max_faces`` are meshed; a smaller face the mesh cannot be fitted to
        is left out. Each carries ``faces_found`` (all of them) and its QC flags.

        Raises
        ------
        NoFaceError
            As :meth:`detect`, for the largest face.
        """
        detections, faces_found = self._faces(photo)
        found = [self._landmarks(photo, detections[0], faces_found)]
        for det in detections[1:max_faces]:
            try:
                found.append(self._landmarks(photo, det, faces_found))
            except NoFaceError:
                continue
        return found

    def _landmarks(self, photo: Photo, detection: _Detection, faces_found: int) -> Landmarks:
        points3d = self._mesh_detection(photo, detection)
        if self._template is None:
            self._template = frontal_template()
        points = points3d[:, :2]
        flags = ["multiple_faces"] if faces_found > 1 else []
        turns = self.quarter_turns(photo.pixels, detection.box)
        if turns:
            flags.append(f"face_rotated: the face is turned {90 * turns} degrees clockwise in the photo; the face "
                         "mesh fits upright faces only (landmarks and pose are wrong): turn the photo upright")
        inside = ((points >= 0) & (points <= [photo.width - 1, photo.height - 1])).all(axis=1)
        if inside.mean() < 0.98:
            flags.append("face_partly_out_of_frame")
        return Landmarks(
            points=points,
            depth=points3d[:, 2],
            scheme=SCHEME,
            anchors={name: points[i].copy() for name, i in MESH_ANCHOR_INDEX.items()},
            pose=estimate_pose(points3d, self._template),
            faces_found=faces_found,
            face_box=detection.box,
            image_size=(photo.width, photo.height),
            qc_flags=tuple(flags),
        )

    def mesh_points(self, photo: Photo) -> tuple[np.ndarray, tuple[float, float, float, float], int]:
        """The raw mesh of the largest face.

        Returns
        -------
        points3d : ndarray, shape (478, 3)
            x, y in the photo's pixels; z relative depth in pixels.
        box : tuple of float
            The detector's ``(x0, y0, x1, y1)`` for that face.
        faces_found : int
            Faces of at least ``other_face_min_area_ratio`` of its area, itself included.
        """
        detections, faces_found = self._faces(photo)
        return self._mesh_detection(photo, detections[0]), detections[0].box, faces_found

    def _faces(self, photo: Photo) -> tuple[list[_Detection], int]:
        """Detections of at least ``other_face_min_area_ratio`` of the largest's area, largest first."""
        cfg = self.config
        detections = self._detect_faces(photo.pixels)
        if not detections:
            raise NoFaceError(
                photo.source,
                f"no face found (detector confidence below {cfg.min_detection_confidence})",
            )
        detections = sorted(detections, key=lambda d: -d.area)
        kept = [d for d in detections if d.area >= cfg.other_face_min_area_ratio * detections[0].area]
        return kept, len(kept)

    def _mesh_detection(self, photo: Photo, detection: _Detection) -> np.ndarray:
        """The (478, 3) mesh of one detected face (x, y in the photo's pixels, z relative depth)."""
        cfg = self.config
        x0, y0, x1, y1 = detection.box
        side = max(x1 - x0, y1 - y0)
        if side < cfg.min_face_px:
            raise NoFaceError(
                photo.source,
                f"face too small: {side:.0f} px across, below the minimum of {cfg.min_face_px} px",
            )
        points3d = self._mesh_crop(photo.pixels, ((x0 + x1) / 2, (y0 + y1) / 2), side * cfg.crop_scale)
        if points3d is None:
            raise NoFaceError(photo.source, "a face was detected but the face mesh could not be fitted")
        # Second pass centred on the mesh itself, a tighter and steadier face
        # box than the detector's.
        lo, hi = points3d[:, :2].min(axis=0), points3d[:, :2].max(axis=0)
        refined = self._mesh_crop(photo.pixels, tuple((lo + hi) / 2), float(max(hi - lo)) * cfg.recrop_scale)
        return points3d if refined is None else refined

    def _detect_faces(self, rgb: np.ndarray) -> list[_Detection]:
        """Faces in the whole photo; failing that, in overlapping tiles.

        The detector sees its input at 192×192, so a face of under ~1/8 of a
        large frame is too few pixels for it; tiles of 1/2 and then 1/4 of
        the frame (overlapping by half) give such faces 2× and 4× the pixels.
        """
        found = self._detect_in(rgb, 0, 0)
        h, w = rgb.shape[:2]
        if not found:
            # A close-up face that fills the frame is outside the full-range model's
            # training crops: show it again inside a margin half the frame wide.
            pad = max(h, w) // 2
            padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
            found = self._detect_in(padded, -pad, -pad)
        for fraction in (2, 4):
            if found:
                break
            side = max(h, w) // fraction
            if side < 96:
                break
            step = side // 2
            for y in range(0, max(h - side, 0) + step, step):
                for x in range(0, max(w - side, 0) + step, step):
                    found += self._detect_in(rgb[y: y + side, x: x + side], x, y)
            found = _suppress_overlaps(found)
        return found

    def _detect_in(self, rgb: np.ndarray, x_off: int, y_off: int) -> list[_Detection]:
        h, w = rgb.shape[:2]
        with self._lock:
            result = self._detector.process(np.ascontiguousarray(rgb))
        found = []
        for det in result.detections or ():
            box = det.location_data.relative_bounding_box
            x0, y0 = box.xmin * w + x_off, box.ymin * h + y_off
            found.append(_Detection(
                box=(x0, y0, x0 + box.width * w, y0 + box.height * h), score=float(det.score[0])
            ))
        return found

    def _mesh_crop(self, rgb: np.ndarray, center: tuple[float, float], side: float) -> np.ndarray | None:
        """Mesh a square crop; returns (478, 3) points in the photo's pixels, or None."""
        import cv2

        n = self.MESH_INPUT_PX
        scale = n / side
        # Affine photo → crop (u = s·x + t); pixels outside the photo are replicated edges.
        m = np.array([[scale, 0, n / 2 - scale * center[0]], [0, scale, n / 2 - scale * center[1]]])
        source, to_crop = rgb, m
        if scale < 1:
            # Shrink with INTER_AREA (anti-aliased; warpAffine lacks it), then shift. (resize
            # centres pixels at s·(x + ½) − ½, so this crop sits (1 − s)/2 px off s·x + t; the
            # whole mesh moves with it, well inside the landmarks' own error.)
            source = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            to_crop = np.array([[1.0, 0, m[0, 2]], [0, 1.0, m[1, 2]]])
        crop = cv2.warpAffine(source, to_crop, (n, n), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        with self._lock:
            result = self._mesh.process(crop)
        if not result.multi_face_landmarks:
            return None
        lm = result.multi_face_landmarks[0].landmark
        # mediapipe: x, y normalised to the crop; z in the same unit as x.
        # Pixel centres: normalised 0..1 spans the crop's edges, so subtract 0.5.
        xyz = np.array([[p.x * n - 0.5, p.y * n - 0.5, p.z * n] for p in lm], dtype=np.float64)
        out = np.empty_like(xyz)
        out[:, 0] = (xyz[:, 0] - m[0, 2]) / scale
        out[:, 1] = (xyz[:, 1] - m[1, 2]) / scale
        out[:, 2] = xyz[:, 2] / scale
        return out

    def quarter_turns(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> int:
        """How many clockwise quarter turns the face in ``box`` is from upright (0 when it is
        upright or the check cannot tell).

        The face mesh is fitted as if the face were upright: on a face turned a quarter or half
        round it places an upright mesh anyway. dlib's HOG detector finds only roughly upright
        faces, so the turn under which it finds the face best (and clearly) is the face's.
        """
        import cv2

        x0, y0, x1, y1 = box
        side = 1.6 * max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        n = ORIENTATION_CHECK_PX
        m = np.array([[n / side, 0, n / 2 - n / side * cx], [0, n / side, n / 2 - n / side * cy]])
        crop = cv2.warpAffine(rgb, m, (n, n), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
        scores = []
        for turns in range(4):
            with self._lock:
                _, found, _ = self._hog().run(np.ascontiguousarray(np.rot90(crop, k=turns)), 0, -1.0)
            scores.append(max(found, default=-9.0))
            if turns == 0 and scores[0] >= UPRIGHT_MIN_SCORE:
                return 0
        best = int(np.argmax(scores))
        return best if scores[best] >= UPRIGHT_MIN_SCORE else 0

    def _hog(self):  # noqa: ANN202 - dlib.fhog_object_detector
        if self._hog_detector is None:
            import dlib

            self._hog_detector = dlib.get_frontal_face_detector()
        return self._hog_detector


def _suppress_overlaps(detections: list[_Detection], max_iou: float = 0.3) -> list[_Detection]:
    """Keep the best-scoring of detections that overlap (from neighbouring tiles)."""
    kept: list[_Detection] = []
    for det in sorted(detections, key=lambda d: -d.score):
        if all(_iou(det.box, k.box) <= max_iou for k in kept):
            kept.append(det)
    return kept


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def quiet_library_warnings() -> None:
    """Ignore, process-wide, the library warnings that say nothing a user acts on.

    protobuf's deprecation notice from inside mediapipe's graph runner. Installed once
    when models load (``warnings.catch_warnings`` per call is not thread-safe).
    """
    warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def _quiet_native_logging() -> Iterator[None]:
    """Silence mediapipe's C++ start-up lines while its graphs start (model loading only).

    TFLite and absl write informational lines straight to file descriptor 2 when a
    graph opens its calculators, which would bury the CLI's one-line messages. The
    descriptor is redirected only here, once per loaded landmarker, under a lock, and
    always restored.
    """
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no real stderr (embedded interpreter)
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def frontal_template() -> np.ndarray:
    """Mean frontal face mesh, shape (478, 3), centred, unit RMS size.

    Built by ``scripts/make_frontal_template.py`` from the mediapipe meshes of
    the standardised frontal photos of the Face Research Lab London Set
    (CC BY 4.0); it defines zero yaw, pitch and roll.
    """
    with resources.files("outcomes.data").joinpath("frontal_template.npy").open("rb") as f:
        return np.load(f)


def estimate_pose(points3d: np.ndarray, template: np.ndarray) -> HeadPose:
    """Head pose from the mesh's 3-D points by a least-squares rotation onto the template.

    Parameters
    ----------
    points3d : ndarray, shape (478, 3)
        x right, y down, z away from the camera, all in pixels.
    template : ndarray, shape (478, 3)
        The frontal template in the same axes.

    Returns
    -------
    HeadPose
        yaw > 0: the face turns towards the image's right; pitch > 0: the chin
        rises; roll > 0: the face rotates clockwise as displayed.
    """
    idx = list(STABLE_INDICES) + list(FACE_OVAL)
    a = template[idx] - template[idx].mean(axis=0)
    b = points3d[idx] - points3d[idx].mean(axis=0)
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    r = (u @ np.diag([1.0, 1.0, d]) @ vt).T  # b ≈ r @ a
    # r = Rz(roll) @ Ry(yaw) @ Rx(pitch) in image axes (x right, y down, z into the scene).
    yaw = np.degrees(np.arcsin(np.clip(-r[2, 0], -1.0, 1.0)))
    pitch = np.degrees(np.arctan2(r[2, 1], r[2, 2]))
    roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
    return HeadPose(yaw=float(-yaw), pitch=float(-pitch), roll=float(roll))


def landmarks_to_dict(landmarks: Landmarks, photo: Photo) -> dict:
    """The contract's JSON for ``outcomes landmarks``."""
    return {
        "schema_version": SCHEMA_VERSION,
        "image": {"width": photo.width, "height": photo.height, "sha256": photo.sha256},
        "faces_found": landmarks.faces_found,
        "points": np.round(landmarks.points, 3).tolist(),
        "scheme": landmarks.scheme,
        "anchors": {k: np.round(v, 3).tolist() for k, v in landmarks.anchors.items()},
        "pose_deg": {k: round(v, 2) for k, v in landmarks.pose.as_dict().items()},
        "qc_flags": flag_texts(landmarks.qc_flags),
        "qc_flag_codes": flag_objects(landmarks.qc_flags),
    }

