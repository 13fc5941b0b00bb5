"""Is the follow-up's face the baseline's person? A face-embedding comparison.

photo + landmarks → ``FaceIdentity`` (a 128-d embedding); two identities →
a distance; above ``IdentityConfig.max_distance`` the pair shows two people.

The embedding is dlib's ResNet face-recognition model (``dlib_face_recognition_
resnet_model_v1``, 99.38 % on LFW; its authors' operating point is a Euclidean
distance of 0.6) with dlib's 5-point face aligner. Both files ship inside the
``face_recognition_models`` registry package (CC0); the aligner runs with
``dlib-bin`` (Boost licence), the network with numpy (:mod:`outcomes.dlib_resnet`,
the same outputs as dlib's runner, four times faster and without holding the
interpreter lock). Embeddings of such networks are trained to be invariant to
expression, lighting and pose, and treatment changes skin, not bone, so the
distance between two photos of one person stays well below the threshold:
0.42 at most between the neutral and smiling photos of 61 people, where
different people were under 0.6 in 1 % of 1830 pairs (``benchmarks/real_photo_qc.py``).

Nothing is loaded at import time; :func:`load_identity_model` loads the files
(checksum-verified) once and the model is passed in.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from outcomes.dlib_resnet import FaceResNet, read_face_resnet
from outcomes.errors import ModelError
from outcomes.types import Landmarks, Photo

MODEL_NAME = "dlib-face-recognition-resnet-v1"
PACKAGE = "face_recognition_models"
# sha256 of the files in face_recognition_models 0.3.0: a different file is refused.
EMBEDDING_FILE = ("dlib_face_recognition_resnet_model_v1.dat",
                  "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30")
ALIGNER_FILE = ("shape_predictor_5_face_landmarks.dat",
                "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888")
CHIP_PX = 150  # the network's input size
CHIP_PADDING = 0.25  # dlib's default margin around the aligned face


@dataclass(frozen=True)
class FaceIdentity:
    """The identity features of one face.

    Attributes
    ----------
    embedding : ndarray, shape (128,), float64
        Unit-scale embedding; Euclidean distances compare identities.
    model : str
        Which model made it (embeddings of different models never compare).
    """

    embedding: np.ndarray
    model: str = MODEL_NAME

    def __post_init__(self) -> None:
        if self.embedding.shape != (128,) or not np.isfinite(self.embedding).all():
            raise ValueError(f"FaceIdentity.embedding must be 128 finite values, got shape {self.embedding.shape}")


def identity_distance(a: FaceIdentity, b: FaceIdentity) -> float:
    """Euclidean distance of two embeddings (0 = same face; ≥ 0.6: different people).

    Raises
    ------
    ValueError
        The two were made by different models.
    """
    if a.model != b.model:
        raise ValueError(f"identities from different models do not compare: {a.model!r} vs {b.model!r}")
    return float(np.linalg.norm(a.embedding - b.embedding))


class IdentityModel:
    """dlib's face aligner and the embedding network, loaded once.

    Notes
    -----
    The aligner is a dlib object that :meth:`identify` calls under a lock (the
    baseline's thread and the follow-up's may both call it); the network is
    numpy on read-only weights and runs outside the lock.
    """

    def __init__(self, aligner_path: Path, network: FaceResNet):
        import dlib

        self._aligner = dlib.shape_predictor(str(aligner_path))
        self._network = network
        self._lock = threading.Lock()
        self.sha256 = EMBEDDING_FILE[1]

    def describe(self) -> dict[str, str]:
        return {MODEL_NAME: self.sha256}

    def identify(self, photo: Photo, landmarks: Landmarks) -> FaceIdentity:
        """The embedding of the face that ``landmarks`` locate in ``photo``."""
        import dlib

        points = landmarks.points
        (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
        box = dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x1)), int(round(y1)))
        with self._lock:
            shape = self._aligner(photo.pixels, box)
            chip = dlib.get_face_chip(photo.pixels, shape, size=CHIP_PX, padding=CHIP_PADDING)
        embedding = self._network.embed(np.asarray(chip, dtype=np.uint8)).astype(np.float64)
        return FaceIdentity(embedding=embedding)


def load_identity_model() -> IdentityModel:
    """Find the model files in the installed ``face_recognition_models`` package and load them.

    Raises
    ------
    ModelError
        The package is not installed, a file is missing, or its sha256 is not the expected one.
    """
    spec = importlib.util.find_spec(PACKAGE)  # locate without running the package's __init__
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the face-identity model needs the package {PACKAGE!r} (pip install {PACKAGE}), "
                         "which is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    aligner_path, network_path = folder / ALIGNER_FILE[0], folder / EMBEDDING_FILE[0]
    _verified_bytes(aligner_path, ALIGNER_FILE[1])
    return IdentityModel(aligner_path, read_face_resnet(_verified_bytes(network_path, EMBEDDING_FILE[1])))


def _verified_bytes(path: Path, expected_sha256: str) -> bytes:
    if not path.is_file():
        raise ModelError(f"{path}: face-identity model file missing")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise ModelError(f"{path}: sha256 {actual[:12]}… is not the expected {expected_sha256[:12]}…; "
                         "the file is corrupt or another version")
    return data
