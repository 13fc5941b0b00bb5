"""Retraining the wrinkle CNN (``outcomes train wrinkles``). The pipeline never imports this package.

Public API, imported on first use (it pulls torch and albumentations)::

    from outcomes.training import load_train_config, train_wrinkles, make_training_set
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainWrinklesConfig": "outcomes.training.config",
    "load_train_config": "outcomes.training.config",
    "train_wrinkles": "outcomes.training.trainer",
    "TrainResult": "outcomes.training.trainer",
    "read_wrinkle_folder": "outcomes.training.data",
    "make_training_set": "outcomes.training.synthetic",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'outcomes.training' has no attribute {name!r}")
