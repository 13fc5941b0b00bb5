"""Train the wrinkle CNN: ``outcomes train wrinkles`` and :func:`train_wrinkles`.

A run writes into its output folder:

- ``checkpoint.pt`` after every epoch (model, optimiser, schedule, best weights so far,
  weight average, history); a run started again with the same config and data resumes from it;
- ``wrinkle_unet.pt`` (whichever scores best on val of: the best epoch, the weight average
  when ``swa_epochs`` is set, the starting weights when ``init_weights`` is; see
  :func:`~outcomes.training.weights.save_wrinkle_weights`), its ONNX exports for inference
  ``wrinkle_unet.onnx`` and ``wrinkle_unet.int8.onnx`` (:mod:`outcomes.training.export`), and
  ``wrinkle_unet.card.json`` (the model card: architecture, input contract,
  preprocessing, training data, metrics by group, sha256s, config hash) when it ends.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from outcomes.errors import ConfigError, ModelError, TrainingDataError
from outcomes.training.averaging import cpu_state, recompute_batch_norm, running_average
from outcomes.training.card import write_model_card
from outcomes.training.config import TrainWrinklesConfig
from outcomes.training.data import IGNORE_LABEL, PatchSampler, WrinkleSample, read_wrinkle_folder, spread_evenly
from outcomes.training.export import export_for_inference
from outcomes.training.metrics import evaluate
from outcomes.training.unet import WrinkleUNet
from outcomes.training.weights import pick_device, read_wrinkle_unet, save_wrinkle_weights

CHECKPOINT_FORMAT = "outcomes.wrinkle_train_checkpoint/1"
MODEL_NAME = "wrinkle_unet"
WEIGHTS_NAME, CARD_NAME, CHECKPOINT_NAME = f"{MODEL_NAME}.pt", f"{MODEL_NAME}.card.json", "checkpoint.pt"
MAX_VAL_IMAGES = 24  # validation images scored per epoch (spread over the split)
CARD_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)  # also scored in the model card
BATCH_NORM_PATCHES = 1024  # training patches (unaugmented) the averaged weights' batch-norm statistics come from


@dataclass(frozen=True)
class TrainResult:
    """Where the run put its products, and what it measured."""

    weights: Path
    card: Path
    sha256: str
    best_epoch: int
    epochs_run: int
    seconds: float
    card_data: dict
    exported: str = "best epoch"  # or "average" (weight averaging) or "starting weights" (fine-tune did not help)


def data_fingerprint(samples: list[WrinkleSample]) -> str:
    """Hash of every sample's name, split, pixels and mask: a resumed run must see the same data."""
    digest = hashlib.sha256()
    for s in sorted(samples, key=lambda s: s.name):
        digest.update(f"{s.name}|{s.split}|{s.image.shape}\n".encode())
        digest.update(s.image.tobytes())
        digest.update(np.packbits(s.mask).tobytes())
        if s.ignore is not None:
            digest.update(np.packbits(s.ignore).tobytes())
    return digest.hexdigest()


def _loss(logits: torch.Tensor, labels: torch.Tensor, dice_weight: float) -> torch.Tensor:
    """BCE + ``dice_weight`` × soft Dice over the batch, both leaving out ``IGNORE_LABEL`` pixels."""
    valid = (labels != IGNORE_LABEL).float()
    target = (labels == 1).float()
    bce = (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * valid).sum() / valid.sum().clamp(min=1)
    prob = torch.sigmoid(logits) * valid
    inter = (prob * target).sum()
    soft_dice = 1.0 - (2 * inter + 1.0) / (prob.sum() + target.sum() + 1.0)
    return bce + dice_weight * soft_dice


def _save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def _starting_weights(config: TrainWrinklesConfig, device: str) -> tuple[WrinkleUNet, str | None]:
    """A fresh network, or the configured starting weights (checksum checked); and their file name."""
    if config.init_weights is None:
        return WrinkleUNet(config.widths).to(device), None
    path = Path(config.init_weights).expanduser()
    if not path.is_file():
        raise ModelError(f"{path}: starting weights not found in {Path.cwd()} (init_weights in the training config)",
                         code="model_not_found")
    model, _, _ = read_wrinkle_unet(path, config.init_sha256, device,
                                    "init_sha256 in the training config must be the starting weights' card sha256")
    if model.widths != tuple(config.widths):
        raise ConfigError(f"init_weights: {path} has widths {list(model.widths)}, but the config says "
                          f"{list(config.widths)}; set widths to the starting weights'")
    return model, path.name


def _train_epoch(model: WrinkleUNet, sampler: PatchSampler, config: TrainWrinklesConfig, device: str,
                 optimiser: torch.optim.Optimizer, schedule, desc: str, progress: bool) -> float:  # noqa: ANN001
    """One pass over the sampler's patches; returns the mean loss. ``schedule`` may be None (constant rate)."""
    from tqdm import tqdm

    loader = DataLoader(sampler, batch_size=config.batch_size, shuffle=False, num_workers=config.workers,
                        drop_last=False)
    model.train()
    losses = []
    bar = tqdm(loader, desc=desc, disable=not progress, leave=False, file=sys.stderr)
    for x, y in bar:
        logits = model(x.to(device, memory_format=torch.channels_last))
        loss = _loss(logits, y.to(device), config.dice_weight)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if schedule is not None and schedule.last_epoch + 1 < schedule.total_steps:
            schedule.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
    return float(np.mean(losses))


def train_wrinkles(config: TrainWrinklesConfig, data_dir: str | Path, out_dir: str | Path, *, resume: bool = True,
                   progress: bool = True, measure_ipd: Callable[[np.ndarray], float] | None = None,
                   log: Callable[[str], None] | None = None) -> TrainResult:
    """Train, validate each epoch, stop early, optionally average weights, and export weights plus a model card.

    Parameters
    ----------
    config : TrainWrinklesConfig
    data_dir : path
        A training folder (:mod:`outcomes.training.data`) with train and val subjects.
    out_dir : path
        Created if needed. An existing ``checkpoint.pt`` there is resumed when ``resume``
        and made with the same config and data; otherwise it is an error (choose another
        folder or pass ``resume=False`` to start over).
    measure_ipd : callable, optional
        Scale of images without ``ipd_px`` in ``index.csv``.
    log : callable, optional
        Receives one line per epoch (default: stderr).

    Raises
    ------
    TrainingDataError, ConfigError, ModelError
    """
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    out_dir = Path(out_dir)
    if not Path(data_dir).is_dir():
        raise TrainingDataError(f"{data_dir}: no such folder (--data: a folder with images/ and masks/)")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: is a file, not a folder (--out)")
    # everything is checked before the output folder is made: a run that cannot start leaves nothing
    samples = read_wrinkle_folder(data_dir, measure_ipd)
    by_split = {k: [s for s in samples if s.split == k] for k in ("train", "val", "test")}
    if not by_split["train"] or not by_split["val"]:
        raise TrainingDataError(f"{data_dir}: need train and val images, found {len(by_split['train'])} train and "
                                f"{len(by_split['val'])} val (set 'split' in index.csv)")
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    model, init_name = _starting_weights(config, device)
    # channels-last is about 1.5× faster for these convolutions on CPU and no slower on CUDA
    model = model.to(memory_format=torch.channels_last)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps = config.epochs * -(-config.patches_per_epoch // config.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.learning_rate, total_steps=steps,
                                                   pct_start=0.15) if steps else None
    fingerprint = data_fingerprint(samples)
    state = {"epoch": 0, "best_dice": -1.0, "best_epoch": 0, "best_state": None, "history": [], "bad_epochs": 0,
             "seconds": 0.0, "init_dice": None, "swa_count": 0, "swa_state": None, "swa_dice": None}
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / CHECKPOINT_NAME
    if ckpt_path.exists():
        if not resume:
            ckpt_path.unlink()
        else:
            try:
                ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)  # loaders move to the device
            except Exception as exc:  # a run killed mid-write, or a foreign file
                raise ConfigError(f"{ckpt_path}: unreadable checkpoint ({type(exc).__name__}: {exc}); use another "
                                  "--out folder or --no-resume") from exc
            if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or ckpt.get("config_sha256") != config.sha256() \
                    or ckpt.get("data_fingerprint") != fingerprint:
                raise ConfigError(f"{ckpt_path}: made with a different config or data; use another --out folder "
                                  "or start over with --no-resume")
            model.load_state_dict(ckpt["model"])
            optimiser.load_state_dict(ckpt["optimizer"])
            if schedule is not None:
                schedule.load_state_dict(ckpt["scheduler"])
            state = {k: ckpt.get(k, v) for k, v in state.items()}  # keys added later: defaults
            log(f"resuming after epoch {state['epoch']} (best val Dice {state['best_dice']:.3f})")

    def save_checkpoint() -> None:
        _save_checkpoint(ckpt_path, {"format": CHECKPOINT_FORMAT, "config_sha256": config.sha256(),
                                     "data_fingerprint": fingerprint, "model": model.state_dict(),
                                     "optimizer": optimiser.state_dict(),
                                     "scheduler": schedule.state_dict() if schedule is not None else None, **state})

    from outcomes.training.augment import wrinkle_augmentation

    sampler = PatchSampler(by_split["train"], patch=config.patch, context=config.context,
                           positive_fraction=config.positive_fraction, length=config.patches_per_epoch,
                           seed=config.seed, balance_groups=config.balance_groups,
                           augment=wrinkle_augmentation(config.darker_skin_probability) if config.augment else None)
    val = spread_evenly(by_split["val"], MAX_VAL_IMAGES)

    def val_dice(net: WrinkleUNet) -> dict:
        return evaluate(net, val, device, (config.threshold,))["by_threshold"][f"{config.threshold:g}"]

    if init_name is not None and state["init_dice"] is None:
        # the starting weights are the model to beat: a fine-tune that does not help exports them unchanged
        dice = val_dice(model)["dice"]
        state.update(init_dice=dice, best_dice=dice, best_state=cpu_state(model))
        log(f"starting weights {init_name}: val Dice {state['init_dice']:.3f}")
        save_checkpoint()

    def run_epoch(desc: str, scheduled: bool) -> dict:
        t0 = time.perf_counter()
        sampler.epoch = state["epoch"]
        loss = _train_epoch(model, sampler, config, device, optimiser, schedule if scheduled else None, desc, progress)
        m = val_dice(model)
        state["epoch"] += 1
        state["history"].append({"epoch": state["epoch"], "loss": loss, **m, "seconds": time.perf_counter() - t0,
                                 **({} if scheduled else {"averaged": True})})
        log(f"epoch {state['epoch']:3d}  loss {loss:.4f}  val Dice {m['dice']:.3f}  IoU {m['iou']:.3f}  "
            f"precision {m['precision']:.3f}  recall {m['recall']:.3f}  ({time.perf_counter() - t0:.0f} s)")
        state["seconds"] += time.perf_counter() - t0
        return m

    while state["epoch"] < config.epochs and state["bad_epochs"] < config.patience and not state["swa_count"]:
        m = run_epoch(f"epoch {state['epoch'] + 1}/{config.epochs}", scheduled=True)
        if m["dice"] > state["best_dice"]:
            state.update(best_dice=m["dice"], best_epoch=state["epoch"], bad_epochs=0, best_state=cpu_state(model))
        else:
            state["bad_epochs"] += 1
        if state["bad_epochs"] >= config.patience:
            log(f"early stop: no better val Dice for {config.patience} epochs")
        save_checkpoint()
    while state["swa_count"] < config.swa_epochs:
        if state["swa_count"] == 0:  # averaging starts from the best weights so far, at a constant rate
            model.load_state_dict(state["best_state"])
            for group in optimiser.param_groups:
                group["lr"] = config.swa_learning_rate
        run_epoch(f"averaged epoch {state['swa_count'] + 1}/{config.swa_epochs}", scheduled=False)
        state["swa_state"] = running_average(state["swa_state"], model, state["swa_count"])
        state["swa_count"] += 1
        save_checkpoint()
    if state["swa_count"] and state["swa_dice"] is None:
        t0 = time.perf_counter()
        model.load_state_dict(state["swa_state"])
        bn_sampler = PatchSampler(by_split["train"], patch=config.patch, context=config.context,
                                  positive_fraction=config.positive_fraction, length=BATCH_NORM_PATCHES,
                                  seed=config.seed + 1, balance_groups=config.balance_groups)
        recompute_batch_norm(model, (x for x, _ in DataLoader(bn_sampler, batch_size=config.batch_size)), device)
        state.update(swa_state=cpu_state(model), swa_dice=val_dice(model)["dice"])
        state["seconds"] += time.perf_counter() - t0
        log(f"average of {state['swa_count']} epochs: val Dice {state['swa_dice']:.3f} (best epoch "
            f"{state['best_epoch']}: {state['best_dice']:.3f})")
        save_checkpoint()
    averaged = state["swa_dice"] is not None and state["swa_dice"] > state["best_dice"]
    model.load_state_dict(state["swa_state"] if averaged else state["best_state"])
    model.eval()
    exported = ("average" if averaged else
                "starting weights" if init_name is not None and state["best_epoch"] == 0 else "best epoch")
    # the configured threshold first: per-group scores and the CLI's summary use it
    thresholds = (config.threshold, *(t for t in CARD_THRESHOLDS if t != config.threshold))
    final = {split: evaluate(model, by_split[split], device, thresholds) for split in ("val", "test") if by_split[split]}
    metadata = {"config_sha256": config.sha256(), "data_fingerprint": fingerprint, "best_epoch": state["best_epoch"],
                "exported": exported}
    weights = out_dir / WEIGHTS_NAME
    sha = save_wrinkle_weights(model, weights, metadata)
    calibration = spread_evenly(by_split["val"], config.int8_calibration_images) if config.int8_calibration_images else []
    onnx_card = export_for_inference(model, out_dir, MODEL_NAME, {**metadata, "source_weights_sha256": sha},
                                     calibration, {split: by_split[split] for split in ("val", "test")}, thresholds)
    if onnx_card["int8"]["available"]:
        log(f"int8: ranges from {len(calibration)} val images ({onnx_card['int8']['seconds']:.0f} s)")
    seconds = state["seconds"]  # epochs only (data loading and final scoring excluded), summed over resumes
    selection = {"exported": exported, "best_epoch_val_dice": state["best_dice"] if state["best_epoch"] else None,
                 "val_images": len(val)}
    if init_name is not None:
        selection["starting_weights"] = {"file": init_name, "sha256": config.init_sha256,
                                         "val_dice": state["init_dice"]}
    if state["swa_count"]:
        selection["averaging"] = {"epochs": state["swa_count"], "learning_rate": config.swa_learning_rate,
                                  "batch_norm_patches": BATCH_NORM_PATCHES, "val_dice": state["swa_dice"]}
    card = write_model_card(out_dir / CARD_NAME, model=model, weights=weights, sha256=sha,
                            config=dataclasses.asdict(config), config_sha256=config.sha256(), data_dir=Path(data_dir),
                            samples=samples, fingerprint=fingerprint, metrics=final, history=state["history"],
                            best_epoch=state["best_epoch"], seconds=seconds, device=device, onnx=onnx_card,
                            selection=selection)
    return TrainResult(weights=weights, card=out_dir / CARD_NAME, sha256=sha, best_epoch=state["best_epoch"],
                       epochs_run=state["epoch"], seconds=seconds, card_data=card, exported=exported)

