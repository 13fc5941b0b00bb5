"""The shipped wrinkle CNN: checksum pinned in the config and card, and a stored output on a fixed input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from outcomes.config import Config, WrinkleConfig
from outcomes.features.wrinkle_cnn import wrinkle_probability
from outcomes.features.wrinkle_model import load_configured_cnn
from outcomes.io import file_sha256
from outcomes.model_store import find_model_file

PROJECT_DIR = Path(__file__).resolve().parents[2]

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "wrinkle_cnn.npz"
MAX_WEIGHTS_BYTES = 20 * 2**20


def golden_input() -> tuple[np.ndarray, float]:
    """A fixed 240×320 crop of a bundled sample (around the right eye and cheek) and its IPD."""
    bgr = cv2.imread(str(PROJECT_DIR / "data_samples" / "S01_baseline.jpg"), cv2.IMREAD_COLOR)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)[420:660, 300:620]), 240.0


def test_shipped_models_are_pinned_small_and_carded():
    """The default config's sha256s are the shipped ONNX files' and their model card's; each file is < 20 MB."""
    config = Config().wrinkles
    float_path = find_model_file(config.cnn_weights, "wrinkles.cnn_weights")
    int8_path = find_model_file(config.cnn_int8_weights, "wrinkles.cnn_int8_weights")
    card = json.loads((float_path.parent / "wrinkle_unet.card.json").read_text())
    assert file_sha256(float_path) == config.cnn_sha256 == card["onnx"]["float32"]["sha256"]
    assert file_sha256(int8_path) == config.cnn_int8_sha256 == card["onnx"]["int8"]["sha256"]
    assert file_sha256(float_path.parent / card["weights_file"]) == card["sha256"]  # the torch weights they came from
    for path in (float_path, int8_path):
        assert path.stat().st_size < MAX_WEIGHTS_BYTES
    assert card["architecture"]["name"] == "WrinkleUNet" and card["metrics"]["test"]["n_images"] > 0
    # the int8 network keeps the float one's Dice on the held-out renders
    for split in ("val", "test"):
        float_dice = card["onnx"]["float32_metrics"][split]["onnx"]
        int8_dice = card["onnx"]["int8"]["metrics"][split]["by_threshold"]["0.5"]["dice"]
        assert abs(float_dice - int8_dice) <= 0.005
        assert abs(float_dice - card["onnx"]["float32_metrics"][split]["torch"]) <= 1e-4


def shipped_cnn(precision: str):  # noqa: ANN201 - WrinkleCNN
    return load_configured_cnn(WrinkleConfig(detector="cnn", device="cpu", cnn_precision=precision))


# Float32 differs between CPUs only by summation order. The int8 network's integer sums are
# exact, but its float steps (input quantization, upsampling, requantization) may round a value
# to the neighbouring step on another CPU, and a step is ~0.05 in the logits.
TOLERANCE = {"float32": (2e-3, 5), "int8": (2e-2, 40)}  # max |Δp|, pixels at p >= 0.5


@pytest.mark.parametrize("precision", ["float32", "int8"])
def test_shipped_weights_reproduce_the_stored_output(precision):
    """Same weights + same input → the stored probabilities (CPU, within tolerance), in both precisions."""
    stored = np.load(GOLDEN)
    cnn = shipped_cnn(precision)
    assert cnn.precision == precision
    assert str(stored[f"sha256_{precision}"]) == cnn.sha256, \
        "golden output is from other weights: run scripts/make_wrinkle_cnn_golden.py"
    rgb, ipd = golden_input()
    prob = wrinkle_probability(cnn, rgb, ipd)
    expected = stored[f"probability_{precision}"]
    max_diff, pixels = TOLERANCE[precision]
    assert prob.shape == expected.shape
    assert np.abs(prob - expected).max() <= max_diff
    assert (prob >= 0.5).sum() == pytest.approx((expected >= 0.5).sum(), abs=pixels)


def test_int8_and_float32_find_the_same_lines_on_the_golden_input():
    """The int8 network is the float one up to rounding: its mask overlaps float32's at Dice >= 0.9."""
    stored = np.load(GOLDEN)
    a, b = stored["probability_float32"] >= 0.5, stored["probability_int8"] >= 0.5
    assert a.sum() > 100
    assert 2 * (a & b).sum() / (a.sum() + b.sum()) >= 0.9


def test_auto_precision_is_int8_on_cpu_for_the_shipped_weights():
    cnn = shipped_cnn("auto")
    assert cnn.precision == "int8" and cnn.describe() == {"wrinkle_unet.int8.onnx": Config().wrinkles.cnn_int8_sha256}
