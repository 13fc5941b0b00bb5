"""Model card of a trained wrinkle CNN (JSON, next to the weights)."""

from __future__ import annotations

import json
import platform
from collections import Counter
from pathlib import Path

import torch

from outcomes.features.wrinkle_cnn import CONTEXT_REL_IPD, WORK_IPD
from outcomes.training.unet import WrinkleUNet
from outcomes.training.weights import WEIGHTS_FORMAT

INTENDED_USE = (
    "Segmenting facial wrinkles (creases, fine lines) on frontal, evenly lit face photos for before/after "
    "comparison of skin-rejuvenation treatments, as one input to outcomes' wrinkle features next to classical "
    "filters. Not a diagnostic device; not for non-frontal photos, children, or body sites other than the face."
)
LIMITATIONS = (
    "Trained on wrinkles rendered onto real faces with known masks (no openly licensed hand-annotated wrinkle set "
    "is available; data_rendering says whether the labels are the visible part of each line or all of it): real "
    "creases that differ from the renderer's cross-sections, and natural lines already present in the source "
    "photos (left unlabelled), are not learned.",
    "Source faces are 61 adults aged 18-54 from one studio (London set): older skin, other cameras and lighting "
    "are outside the training data; retrain on a site's own annotations where possible (outcomes train wrinkles).",
    "Per-group metrics rest on few people per group (the test split holds 1-2 people for some groups).",
)


def write_model_card(path: Path, *, model: WrinkleUNet, weights: Path, sha256: str, config: dict, config_sha256: str,
                     data_dir: Path, samples: list, fingerprint: str, metrics: dict, history: list, best_epoch: int,
                     seconds: float, device: str, onnx: dict | None = None, selection: dict | None = None) -> dict:
    """Write the card and return it as a dict (``onnx``: from :func:`~outcomes.training.export.export_for_inference`;
    ``selection``: which weights were exported and why, with the starting weights and the average when used)."""
    subjects = {split: sorted({s.subject for s in samples if s.split == split}) for split in ("train", "val", "test")}
    licence = data_dir / "LICENSE.txt"
    rendering = data_dir / "rendering.json"  # written by `outcomes train wrinkle-data`; absent for a site's own data
    try:
        import albumentations
        aug_version = albumentations.__version__
    except ImportError:  # pragma: no cover - training always has it
        aug_version = None
    card = {
        "name": "outcomes wrinkle U-Net",
        "format": WEIGHTS_FORMAT,
        "weights_file": weights.name,
        "sha256": sha256,
        "size_bytes": weights.stat().st_size,
        "architecture": {**model.arch(), "parameters": int(sum(p.numel() for p in model.parameters())),
                         "description": "U-Net: per level two 3×3 conv + batch norm + ReLU; max-pool down, bilinear "
                                        "up with skip concatenation; 1×1 head to one logit per pixel"},
        "input": {
            "image": "RGB uint8 face photo, any size; the region of interest (face skin) is cropped with 0.1 IPD margin",
            "scale": f"resampled so the inter-pupil distance is {WORK_IPD:g} px (area when shrinking, bilinear when "
                     "enlarging)",
            "preprocessing": "x_c = 4 (log(lin_c + 0.002) - G * log(Y + 0.002)) for linear-light sRGB channels c, "
                             f"Y = Rec.709 luminance, G = Gaussian of sigma {CONTEXT_REL_IPD * WORK_IPD:g} px",
            "tiling": "the whole crop in one pass when it fits 1024 px (32 px of mirrored context each side), else "
                      "1024 px tiles with 32 px discarded at each edge; tiles outside the region of interest skipped",
        },
        "output": "per-pixel wrinkle probability (sigmoid of the logit), resampled back to the photo; a wrinkle mask "
                  f"is probability >= threshold ({config['threshold']:g} in these metrics)",
        "training": {
            "config": config,
            "config_sha256": config_sha256,
            "data_fingerprint": fingerprint,
            "data_licence": licence.read_text().strip() if licence.is_file() else "not stated in the training folder",
            "data_rendering": json.loads(rendering.read_text()) if rendering.is_file() else None,
            "images": dict(Counter(s.split for s in samples)),
            "subjects": {k: len(v) for k, v in subjects.items()},
            "test_subjects": subjects["test"],
            "val_subjects": subjects["val"],
            "groups": dict(Counter(s.group for s in samples if s.split == "train")),
            "epochs_run": len(history),
            "best_epoch": best_epoch,
            "selection": selection,
            "training_seconds": round(seconds, 1),
            "device": device,
            "machine": f"{platform.machine()} {torch.get_num_threads()} threads",
            "torch": torch.__version__,
            "albumentations": aug_version,
        },
        "metrics": metrics,
        "onnx": onnx,
        "history": history,
        "intended_use": INTENDED_USE,
        "limitations": list(LIMITATIONS),
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return card
