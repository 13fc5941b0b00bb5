"""Typed errors. Each says which input was wrong, what was wrong, and the limit missed.

Only the CLI (and later the web service) turns these into messages for people;
library code raises them and never prints.
"""

from __future__ import annotations


class OutcomesError(Exception):
    """Base class of every expected failure of the pipeline."""


class ConfigError(OutcomesError):
    """A configuration file or value is invalid."""


class InputImageError(OutcomesError):
    """An input image cannot be used.

    Parameters
    ----------
    path : str
        The file (or a description of the in-memory source) at fault.
    problem : str
        What is wrong with it, including the threshold that was missed.
    """

    def __init__(self, path: str, problem: str):
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class ImageTooLargeError(InputImageError):
    """The image's declared size exceeds the configured pixel limit."""


class NoFaceError(InputImageError):
    """No face was found in the image."""


class AlignmentError(OutcomesError):
    """Two photos could not be registered onto each other."""


class ModelError(OutcomesError):
    """A bundled model is missing, corrupt or incompatible."""


class TrainingDataError(OutcomesError):
    """A training folder is malformed: missing masks, mismatched sizes, a person in two splits."""


class TableFileError(OutcomesError):
    """A CSV input (ratings, manifest) has problems; all of them are listed at once.

    Parameters
    ----------
    path : str
        The file at fault.
    problems : sequence of str
        One entry per problem, each starting with ``line N:`` where a line is at fault.
    """

    def __init__(self, path: str, problems: list[str] | tuple[str, ...]):
        self.path = path
        self.problems = tuple(problems)
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        # One line, so that scripts can read it; every problem is in it.
        super().__init__(f"{path}: {count}: " + "; ".join(self.problems))


class RatingsError(TableFileError):
    """An investigator ratings file cannot be used for calibration (nothing was written)."""


class CalibrationError(OutcomesError):
    """The ratings cannot support a scorer fit: too few subjects, grades or usable pairs."""


class ManifestError(TableFileError):
    """A batch manifest cannot be run (nothing was processed)."""


class BatchError(OutcomesError):
    """A batch job cannot start or go on (its folder holds another job, a worker died)."""


class SamePhotoError(InputImageError):
    """BEFORE and AFTER are one and the same photograph (identical sha256): a follow-up must be a new photo."""
