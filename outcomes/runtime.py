"""What a process loads once and shares: the models, and how they are loaded.

:func:`load_models` loads everything the pipeline needs; the :class:`Models` it returns is
passed to every call (``outcomes.pipeline``), by one thread or many: the landmarker and the
identity model serialise their own calls with locks, and onnxruntime sessions may run from
several threads at once. A worker pool (``outcomes.batch.executors``) loads one per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from outcomes.config import Config
from outcomes.landmarks import FaceLandmarker

if TYPE_CHECKING:
    from outcomes.features.wrinkle_model import WrinkleCNN
    from outcomes.identity import IdentityModel
    from outcomes.scorer_file import CalibratedScorer


@dataclass(frozen=True)
class Models:
    """Everything loaded once per process and passed in to the stages."""

    landmarker: FaceLandmarker
    wrinkle_cnn: WrinkleCNN | None = None
    # A GAIS scorer calibrated to a site's ratings; None = the configured default scorer.
    gais_scorer: CalibratedScorer | None = None
    # Face embeddings for the same-person check; None = not checked.
    identity: IdentityModel | None = None

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
        if self.identity is not None:
            out.update(self.identity.describe())
        return out


def load_models(config: Config | None = None, scorer: str | Path | None = None, threads: int = 0) -> Models:
    """Load the face detector and mesh, the wrinkle CNN unless the detector is classical,
    the face-identity model unless ``identity.check`` is off, and a calibrated GAIS
    scorer if one is given. ``threads`` caps the CNN's intra-op threads (0: one per core).

    Raises
    ------
    ModelError
        Missing or corrupt CNN weights (never replaced by untrained ones); a
        scorer file that is invalid or was calibrated on another wrinkle detector.
    """
    from outcomes.features.wrinkle_model import load_configured_cnn

    config = config or Config()
    # Files first: a bad weights or scorer file fails before mediapipe starts.
    gais_scorer = None if scorer is None else load_configured_scorer(scorer, config)
    cnn = load_configured_cnn(config.wrinkles, threads)
    identity = None
    if config.identity.check:
        from outcomes.identity import load_identity_model

        identity = load_identity_model()
    return Models(landmarker=FaceLandmarker(config.landmarks), wrinkle_cnn=cnn, gais_scorer=gais_scorer,
                  identity=identity)


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
