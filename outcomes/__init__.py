"""outcomes: before/after outcome assessment for skin-rejuvenation treatments.

The public API is importable from here; the modules behind it are imported
only when a name is first used, so ``import outcomes`` stays instant.
"""

from __future__ import annotations

from outcomes._lazy import lazy_attributes

__version__ = "0.1.0"

_EXPORTS = {
    "load_config": "outcomes.config",
    "Config": "outcomes.config",
    "read_photo": "outcomes.io",
    "load_models": "outcomes.runtime",
    "Models": "outcomes.runtime",
    "locate_face": "outcomes.pipeline",
    "align_photos": "outcomes.pipeline",
    "FaceLandmarker": "outcomes.landmarks",
    "register": "outcomes.align",
    "warp_to_before": "outcomes.align",
    "Photo": "outcomes.types",
    "Landmarks": "outcomes.types",
    "HeadPose": "outcomes.types",
    "Registration": "outcomes.types",
    "AlignedPair": "outcomes.types",
    "OutcomesError": "outcomes.errors",
    "InputImageError": "outcomes.errors",
    "ImageTooLargeError": "outcomes.errors",
    "NoFaceError": "outcomes.errors",
    "AlignmentError": "outcomes.errors",
    "ConfigError": "outcomes.errors",
    "ModelError": "outcomes.errors",
    "TrainingDataError": "outcomes.errors",
    "assess_pair": "outcomes.pipeline",
    "analyse_face": "outcomes.face_analysis",
    "FaceAnalysis": "outcomes.face_analysis",
    "load_wrinkle_cnn": "outcomes.features.wrinkle_model",
    "wrinkle_probability": "outcomes.features.wrinkle_cnn",
    "find_wrinkles": "outcomes.features.wrinkle_fusion",
    # GAIS calibration (retraining API)
    "read_ratings": "outcomes.ratings",
    "Ratings": "outcomes.ratings",
    "RatingsError": "outcomes.errors",
    "CalibrationError": "outcomes.errors",
    "ScoringFeatures": "outcomes.scoring",
    "CalibratedScorer": "outcomes.scorer_file",
    "load_scorer": "outcomes.scorer_file",
    "save_scorer": "outcomes.scorer_file",
    "agreement": "outcomes.agreement",
    "rater_agreement": "outcomes.agreement",
    "RatedPair": "outcomes.calibration.assessed",
    "AssessmentCache": "outcomes.calibration.assessed",
    "assess_rated_pairs": "outcomes.calibration.assessed",
    "fit_scorer": "outcomes.calibration.fit",
    "cross_validate_scorer": "outcomes.calibration.fit",
    "choose_scorer": "outcomes.calibration.fit",
    "calibrate": "outcomes.calibration.run",
    # Batch jobs
    "read_manifest": "outcomes.manifest",
    "Manifest": "outcomes.manifest",
    "ManifestError": "outcomes.errors",
    "BatchError": "outcomes.errors",
    "run_batch": "outcomes.batch.run",
    "BatchResult": "outcomes.batch.run",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__ = lazy_attributes(__name__, _EXPORTS)
