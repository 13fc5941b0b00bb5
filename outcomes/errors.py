"""Typed errors. Each says which input was wrong, what was wrong, and the limit missed.

Only the CLI (and later the web service) turns these into messages for people;
library code raises them and never prints.
"""

from __future__ import annotations


class OutcomesError(Exception):
    """Base class of every expected failure of the pipeline.

    Every error carries ``code``, a stable machine-readable name (the class's
    ``default_code`` unless a more precise one is given), which the CLI maps to its exit
    status and the web service to an HTTP status (:data:`HTTP_STATUS`).
    """

    default_code = "error"

    def __init__(self, *args: object, code: str | None = None):
        super().__init__(*args)
        self.code = code or self.default_code


class ConfigError(OutcomesError):
    """A configuration file or value is invalid."""

    default_code = "config_invalid"


class InputImageError(OutcomesError):
    """An input image cannot be used.

    Parameters
    ----------
    path : str
        The file (or a description of the in-memory source) at fault.
    problem : str
        What is wrong with it, including the threshold that was missed.
    """

    default_code = "image_unusable"

    def __init__(self, path: str, problem: str, *, code: str | None = None):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}", code=code)


class ImageTooLargeError(InputImageError):
    """The image's declared size exceeds the configured pixel limit."""

    default_code = "image_too_large"


class NoFaceError(InputImageError):
    """No face was found in the image."""

    default_code = "no_face"


class AlignmentError(OutcomesError):
    """Two photos could not be registered onto each other."""

    default_code = "alignment_failed"


class ModelError(OutcomesError):
    """A bundled model is missing, corrupt or incompatible."""

    default_code = "model_invalid"


class TrainingDataError(OutcomesError):
    """A training folder is malformed: missing masks, mismatched sizes, a person in two splits."""

    default_code = "training_data_invalid"


class TableFileError(OutcomesError):
    """A CSV input (ratings, manifest) has problems; all of them are listed at once.

    Parameters
    ----------
    path : str
        The file at fault.
    problems : sequence of str
        One entry per problem, each starting with ``line N:`` where a line is at fault.
    """

    default_code = "table_invalid"

    def __init__(self, path: str, problems: list[str] | tuple[str, ...], *, code: str | None = None):
        self.path = path
        self.problems = tuple(problems)
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        # One line, so that scripts can read it; every problem is in it.
        super().__init__(f"{path}: {count}: " + "; ".join(self.problems), code=code)


class RatingsError(TableFileError):
    """An investigator ratings file cannot be used for calibration (nothing was written)."""

    default_code = "ratings_invalid"


class CalibrationError(OutcomesError):
    """The ratings cannot support a scorer fit: too few subjects, grades or usable pairs."""

    default_code = "calibration_impossible"


class ManifestError(TableFileError):
    """A batch manifest cannot be run (nothing was processed)."""

    default_code = "manifest_invalid"


class BatchError(OutcomesError):
    """A batch job cannot start or go on (its folder holds another job, a worker died)."""

    default_code = "batch_failed"


class SamePhotoError(InputImageError):
    """BEFORE and AFTER are one and the same photograph (identical sha256): a follow-up must be a new photo."""

    default_code = "same_photo"


class OutputPathError(OutcomesError):
    """An output path cannot be written: it is an input, a folder, a device, or its folder is not writable."""

    default_code = "output_invalid"


# Error code → HTTP status, for the web service (the CLI exits 1 on every one of them).
# Codes not listed are 422 (the request was understood but its content cannot be used).
HTTP_STATUS = {
    "config_invalid": 500,
    "model_invalid": 500,
    "model_not_found": 500,
    "model_unreadable": 500,
    "model_checksum": 500,
    "image_too_large": 413,
    "output_invalid": 500,
    "batch_failed": 500,
}


def http_status(error: OutcomesError) -> int:
    """The HTTP status the web service answers an error with."""
    return HTTP_STATUS.get(error.code, 422)
