"""Segmentation scores of the wrinkle network on whole images."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from outcomes.features.wrinkle_cnn import LogitsFunction, cnn_input, predict_logits


def scores(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Dice, IoU, precision and recall from pixel counts (1.0 when both masks are empty)."""
    dice = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 1.0
    iou = tp / (tp + fp + fn) if (tp + fp + fn) else 1.0
    precision = tp / (tp + fp) if (tp + fp) else 1.0
    recall = tp / (tp + fn) if (tp + fn) else 1.0
    return {"dice": dice, "iou": iou, "precision": precision, "recall": recall}


def counts(predicted: np.ndarray, truth: np.ndarray) -> tuple[int, int, int]:
    """``(tp, fp, fn)`` pixel counts of two bool masks of the same shape."""
    if predicted.shape != truth.shape:
        raise ValueError(f"masks differ in shape: {predicted.shape} vs {truth.shape}")
    return int((predicted & truth).sum()), int((predicted & ~truth).sum()), int((~predicted & truth).sum())


def evaluate(model: object, samples: Iterable, device: str = "cpu",
             thresholds: tuple[float, ...] = (0.5,)) -> dict:
    """Pooled pixel scores over ``samples`` (:class:`~outcomes.training.data.WrinkleSample`).

    ``model`` is a torch network (scored in eval mode on ``device``, then put back in its
    mode) or a :data:`~outcomes.features.wrinkle_cnn.LogitsFunction` such as a loaded ONNX
    export. Pixels in a sample's ``ignore`` mask are not scored.

    Returns ``{"n_images": n, "by_threshold": {t: scores}, "by_group": {group: scores at the
    first threshold}, "median_image_dice": float}``.
    """
    was_training = getattr(model, "training", None)
    network: LogitsFunction = model
    if was_training is not None:  # a torch module
        from outcomes.training.unet import TorchLogits

        model.eval()
        network = TorchLogits(model, device)
    pooled = {t: np.zeros(3, dtype=np.int64) for t in thresholds}
    groups: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(3, dtype=np.int64))
    per_image, n = [], 0
    for sample in samples:
        prob = 1.0 / (1.0 + np.exp(-predict_logits(network, cnn_input(sample.image))))
        scored = np.ones(sample.mask.shape, bool) if sample.ignore is None else ~sample.ignore
        for t in thresholds:
            c = np.array(counts((prob >= t) & scored, sample.mask))
            pooled[t] += c
            if t == thresholds[0]:
                groups[sample.group] += c
                per_image.append(scores(*c)["dice"])
        n += 1
    if was_training is not None:
        model.train(was_training)
    return {
        "n_images": n,
        "by_threshold": {f"{t:g}": scores(*map(int, c)) for t, c in pooled.items()},
        "by_group": {g: scores(*map(int, c)) for g, c in sorted(groups.items())},
        "median_image_dice": float(np.median(per_image)) if per_image else float("nan"),
    }
