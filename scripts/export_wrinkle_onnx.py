"""Export trained wrinkle-CNN weights (torch) to the ONNX files inference runs, and compare them.

``outcomes train wrinkles`` exports its own result; this script exports weights trained
before the export existed (or re-exports after a change to the export), writes the ONNX
section of their model card, and prints pooled pixel Dice on the training folder's val and
test splits for torch float32, ONNX float32 and ONNX int8 side by side.

    outcomes train wrinkle-data --london ../shared/data/london --out /tmp/wrinkle_data --labels exact --no-tone-depth
    python scripts/export_wrinkle_onnx.py --weights outcomes/models/wrinkle_unet.pt --data /tmp/wrinkle_data \\
        --out outcomes/models

The int8 ranges come from the validation images the card names (``int8.calibration_images``
of cards written before the ONNX export, else ``onnx.int8.calibration_images``), or from 8
val images spread over the split.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from outcomes.features.wrinkle_model import load_wrinkle_cnn
from outcomes.training.data import read_wrinkle_folder, spread_evenly
from outcomes.training.export import export_for_inference
from outcomes.training.metrics import evaluate
from outcomes.training.weights import read_wrinkle_unet


def calibration_names(card: dict) -> list[str]:
    old = (card.get("int8") or {}).get("calibration_images")
    new = ((card.get("onnx") or {}).get("int8") or {}).get("calibration_images")
    return list(old or new or [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True, type=Path, help="wrinkle_unet.pt (its .card.json beside it)")
    parser.add_argument("--data", required=True, type=Path, help="the training folder the weights were trained on")
    parser.add_argument("--out", required=True, type=Path, help="folder for NAME.onnx, NAME.int8.onnx and the card")
    args = parser.parse_args()

    card_path = args.weights.with_suffix(".card.json")
    card = json.loads(card_path.read_text())
    model, metadata, sha = read_wrinkle_unet(args.weights, card["sha256"])
    samples = read_wrinkle_folder(args.data)
    by_split = {split: [s for s in samples if s.split == split] for split in ("train", "val", "test")}
    names = calibration_names(card)
    calibration = ([s for s in by_split["val"] if s.name in names] if names else spread_evenly(by_split["val"], 8))
    if names and len(calibration) != len(names):
        raise SystemExit(f"calibration images {names} are not all in {args.data}'s val split")
    thresholds = (0.5,)
    scored = {split: by_split[split] for split in ("val", "test")}
    metadata = {k: v for k, v in metadata.items() if k != "int8_qparams"}
    section = export_for_inference(model, args.out, args.weights.stem, {**metadata, "source_weights_sha256": sha},
                                   calibration, scored, thresholds)
    float_onnx = load_wrinkle_cnn(args.out / section["float32"]["file"], section["float32"]["sha256"], "cpu")
    print("pooled Dice at 0.5:   torch float32   ONNX float32   ONNX int8")
    for split, items in scored.items():
        torch_dice = evaluate(model, items, "cpu", thresholds)["by_threshold"]["0.5"]["dice"]
        onnx_dice = evaluate(float_onnx, items, "cpu", thresholds)["by_threshold"]["0.5"]["dice"]
        int8_dice = section["int8"]["metrics"][split]["by_threshold"]["0.5"]["dice"]
        print(f"  {split:5s} ({len(items):3d} images)  {torch_dice:.4f}          {onnx_dice:.4f}         {int8_dice:.4f}")
        section.setdefault("float32_metrics", {})[split] = {"torch": torch_dice, "onnx": onnx_dice}
    card.pop("int8", None)  # the torch int8 scheme is gone; the int8 network is the ONNX file's
    card["onnx"] = section
    out_card = args.out / card_path.name
    out_card.write_text(json.dumps(card, indent=2) + "\n")
    if card_path.resolve() != out_card.resolve():
        shutil.copystat(card_path, out_card)
    print(json.dumps({k: v for k, v in section.items() if k in ("float32",)} | {"int8": {
        k: section["int8"].get(k) for k in ("file", "sha256")}}, indent=2))


if __name__ == "__main__":
    main()
