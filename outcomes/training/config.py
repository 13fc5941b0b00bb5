"""Settings of a wrinkle-CNN training run, read from YAML (``configs/train/wrinkles.yaml``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from outcomes.config import _require, load_yaml_dataclass, without_earlier_values
from outcomes.training.unet import DEFAULT_WIDTHS


@dataclass(frozen=True)
class TrainWrinklesConfig:
    seed: int = 0
    # U-Net channels per level (4 levels: full, 1/2, 1/4, 1/8 resolution).
    widths: tuple[int, ...] = DEFAULT_WIDTHS
    # Patches at the working scale (inter-pupil distance 200 px): 128 px = 0.64 IPD.
    patch: int = 128
    # Extra context around each patch for augmentation and the input filter, dropped after.
    context: int = 32
    batch_size: int = 16
    epochs: int = 40
    patches_per_epoch: int = 1600
    # Fraction of patches centred on a wrinkle pixel (wrinkles cover ~1 % of a face).
    positive_fraction: float = 0.6
    learning_rate: float = 2.0e-3
    weight_decay: float = 1.0e-4
    # Loss = BCE + dice_weight × soft Dice (Dice alone is unstable on empty patches).
    dice_weight: float = 1.0
    # Stop when validation Dice has not improved for this many epochs.
    patience: int = 8
    # Probability threshold for the per-epoch metrics and the exported model card.
    threshold: float = 0.5
    # Data-loading worker processes (0 = in the training process: on a 2-core CPU a
    # worker competes with the model's threads and halves the speed).
    workers: int = 0
    device: str = "auto"
    augment: bool = True
    # Share of patches first made to look like darker skin (augment.darker_skin): the
    # London set has few dark-skinned people and lines are hardest to see there.
    darker_skin_probability: float = 0.0
    # Draw images with weight 1/sqrt(size of their index.csv ``group``): smaller groups more often.
    balance_groups: bool = False
    # Validation images the int8 ONNX export's activation ranges are taken from (CPU
    # inference runs the int8 file); 0 exports the float32 ONNX only. Export only:
    # not part of the config hash.
    int8_calibration_images: int = 8
    # Start from these weights (a file this command wrote, e.g. outcomes/models/wrinkle_unet.pt) instead
    # of random ones: fine-tuning, e.g. on a site's own annotations. A relative path is taken
    # from the working folder. ``init_sha256`` must be its checksum,
    # so the config hash pins the starting point. The starting weights are scored on val first
    # and stay the export unless training beats them. Fine-tune with ``epochs: 0`` and
    # ``swa_epochs``: a new one-cycle schedule warms up to a high rate, which scores below the
    # starting weights at first, so ``patience`` may stop it before it recovers.
    init_weights: str | None = None
    init_sha256: str | None = None
    # Weight averaging (SWA, Izmailov et al. 2018): after the main schedule (or its early stop)
    # this many more epochs at the constant ``swa_learning_rate``, starting from the best epoch,
    # whose end-of-epoch weights are averaged. Batch-norm statistics of the average are then
    # recomputed on training patches, and the average is exported if it beats the best epoch on
    # val. Single epochs' val Dice swung by ±0.04 on the shipped models' data.
    swa_epochs: int = 0
    swa_learning_rate: float = 1.0e-3

    def __post_init__(self) -> None:
        _require(len(self.widths) >= 2 and all(w > 0 for w in self.widths), "widths",
                 f"must list at least 2 positive channel counts, got {list(self.widths)}")
        stride = 2 ** (len(self.widths) - 1)
        for name in ("patch", "context"):
            value = getattr(self, name)
            _require(value > 0 and value % stride == 0, name, f"must be a positive multiple of {stride}, got {value}")
        for name in ("batch_size", "patches_per_epoch", "patience"):
            _require(getattr(self, name) > 0, name, f"must be positive, got {getattr(self, name)}")
        for name in ("epochs", "swa_epochs"):
            _require(getattr(self, name) >= 0, name, f"must be >= 0, got {getattr(self, name)}")
        _require(self.epochs > 0 or (self.swa_epochs > 0 and self.init_weights is not None), "epochs",
                 "must be positive unless init_weights is given and swa_epochs > 0 (averaging alone fine-tunes)")
        _require(self.swa_learning_rate > 0, "swa_learning_rate", f"must be positive, got {self.swa_learning_rate}")
        _require((self.init_weights is None) == (self.init_sha256 is None), "init_sha256",
                 "init_weights and init_sha256 go together (the checksum of the starting weights, from their card)")
        _require(0.0 <= self.positive_fraction <= 1.0, "positive_fraction", f"must be in [0, 1], got {self.positive_fraction}")
        _require(0.0 < self.threshold < 1.0, "threshold", f"must be in (0, 1), got {self.threshold}")
        _require(self.learning_rate > 0, "learning_rate", f"must be positive, got {self.learning_rate}")
        _require(0.0 <= self.darker_skin_probability <= 1.0, "darker_skin_probability",
                 f"must be in [0, 1], got {self.darker_skin_probability}")
        _require(self.int8_calibration_images >= 0, "int8_calibration_images",
                 f"must be >= 0, got {self.int8_calibration_images}")
        _require(self.workers >= 0, "workers", f"must be >= 0, got {self.workers}")
        _require(self.device in ("auto", "cpu", "cuda"), "device", f"must be auto, cpu or cuda, got {self.device!r}")

    def sha256(self) -> str:
        """Hash of the settings that shape the model (not ``device`` or ``workers``, which may change on resume,
        nor the int8 export's ``int8_calibration_images``).

        Settings added after the shipped models were trained (fine-tuning and averaging) count
        only when they differ from the value that behaves as before they existed, so those
        models' cards keep their hashes.
        """
        excluded = ("device", "workers", "int8_calibration_images")
        settings = without_earlier_values({k: v for k, v in dataclasses.asdict(self).items() if k not in excluded},
                                          _LATER_SETTINGS)
        text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


# (setting, the value that behaves as before it existed): fine-tuning and averaging came later.
_LATER_SETTINGS = (("init_weights", None), ("init_sha256", None), ("swa_epochs", 0), ("swa_learning_rate", 1.0e-3))


def load_train_config(path: str | Path | None) -> TrainWrinklesConfig:
    """The YAML file over the defaults (``None``: the defaults); unknown keys are rejected."""
    return TrainWrinklesConfig() if path is None else load_yaml_dataclass(TrainWrinklesConfig, path)
