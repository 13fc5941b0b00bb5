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
