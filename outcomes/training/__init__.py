"""Retraining the wrinkle CNN (``outcomes train wrinkles``). The pipeline never imports this package.

Public API, imported on first use (it pulls torch and albumentations)::

    from outcomes.training import load_train_config, train_wrinkles, make_training_set
"""

from __future__ import annotations

from outcomes._lazy import lazy_attributes

_EXPORTS = {
    "TrainWrinklesConfig": "outcomes.training.config",
    "load_train_config": "outcomes.training.config",
    "train_wrinkles": "outcomes.training.trainer",
    "TrainResult": "outcomes.training.trainer",
    "read_wrinkle_folder": "outcomes.training.data",
    "make_training_set": "outcomes.training.synthetic",
}

__all__ = list(_EXPORTS)


__getattr__ = lazy_attributes(__name__, _EXPORTS)
