"""Add int8 activation scales to wrinkle-CNN weights trained before the int8 export existed.

``outcomes train wrinkles`` stores the scales itself (``int8_calibration_images``); this
script gives an older weights file the same: it calibrates on the run's validation images
(the same choice the trainer makes), scores the integer network on val and test, and
rewrites the weights file (same tensors, metadata plus ``int8_qparams``) and its model card.
The data folder must split subjects as the weights' training run did (checked against the
card: the scales must never come from test subjects). Where its fingerprint differs from the
run's, the float network is scored again on the same images, so the two are compared fairly.

    python scripts/calibrate_wrinkle_int8.py --weights models/wrinkle_unet.pt --data /tmp/wrinkle_data

Then set ``wrinkles.cnn_sha256`` to the printed sha256 and run
``python scripts/make_wrinkle_cnn_golden.py``.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
from pathlib import Path

import torch

from outcomes.features.wrinkle_cnn import WrinkleUNet, prepare_for_inference
from outcomes.features.wrinkle_int8 import QPARAMS_KEY
from outcomes.features.wrinkle_weights import WEIGHTS_FORMAT, save_wrinkle_weights
from outcomes.io import file_sha256
from outcomes.training.card import int8_section
from outcomes.training.config import TrainWrinklesConfig
from outcomes.training.data import read_wrinkle_folder, spread_evenly
from outcomes.training.int8 import int8_export
from outcomes.training.metrics import evaluate
from outcomes.training.trainer import CARD_THRESHOLDS, data_fingerprint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="the training folder the weights were trained on")
    parser.add_argument("--images", type=int, default=TrainWrinklesConfig().int8_calibration_images)
    args = parser.parse_args()
    card_path = args.weights.with_name(args.weights.name.replace(".pt", ".card.json"))
    card = json.loads(card_path.read_text())
    if file_sha256(args.weights) != card["sha256"]:
        raise SystemExit(f"{args.weights}: sha256 differs from its card {card_path}")
    blob = torch.load(io.BytesIO(args.weights.read_bytes()), map_location="cpu", weights_only=True)
    if blob.get("format") != WEIGHTS_FORMAT:
        raise SystemExit(f"{args.weights}: not {WEIGHTS_FORMAT} weights")
    model = WrinkleUNet(tuple(blob["arch"]["widths"]), int(blob["arch"]["in_channels"]))
    model.load_state_dict(blob["state_dict"], strict=True)
    samples = read_wrinkle_folder(args.data)
    metadata = dict(blob.get("metadata") or {})
    by_split = {k: [s for s in samples if s.split == k] for k in ("val", "test")}
    for split, found in by_split.items():
        subjects = sorted({s.subject for s in found})
        if subjects != card["training"][f"{split}_subjects"]:
            raise SystemExit(f"{args.data}: its {split} subjects {subjects} are not the training run's "
                             f"{card['training'][f'{split}_subjects']}")
    threshold = card["training"]["config"]["threshold"]
    thresholds = (threshold, *(t for t in CARD_THRESHOLDS if t != threshold))
    float_metrics = card["metrics"]
    if data_fingerprint(samples) != metadata.get("data_fingerprint"):
        print(f"{args.data}: same subject split, other images than the training run's: scoring float32 again")
        float_net = prepare_for_inference(copy.deepcopy(model))
        float_metrics = {split: evaluate(float_net, found, "cpu", thresholds) for split, found in by_split.items()}
    metadata[QPARAMS_KEY], int8 = int8_export(model, spread_evenly(by_split["val"], args.images), by_split, thresholds)
    int8["float32_on_same_images"] = {split: m["by_threshold"][f"{threshold:g}"] for split, m in float_metrics.items()}
    sha = save_wrinkle_weights(model, args.weights, metadata)
    card.update(sha256=sha, size_bytes=args.weights.stat().st_size)
    card["int8"] = int8_section(int8)
    card_path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    for split, m in int8["metrics"].items():
        print(f"int8 {split}: Dice {m['by_threshold'][f'{threshold:g}']['dice']:.3f} "
              f"(float32 {float_metrics[split]['by_threshold'][f'{threshold:g}']['dice']:.3f})")
    print(f"{args.weights}: sha256 {sha}")


if __name__ == "__main__":
    main()
