"""The int8 part of a wrinkle-CNN export: activation scales from validation images, and
the integer network's scores, for the weights metadata and the model card."""

from __future__ import annotations

import copy
import time

from outcomes.features.wrinkle_cnn import WrinkleUNet, cnn_input, prepare_for_inference
from outcomes.features.wrinkle_int8 import calibrate_int8, int8_available, quantize_unet
from outcomes.training.metrics import evaluate


def int8_export(model: WrinkleUNet, calibration: list, scored: dict[str, list],
                thresholds: tuple[float, ...]) -> tuple[dict, dict]:
    """Calibrate int8 activation scales and score the integer network.

    Parameters
    ----------
    model : WrinkleUNet
        Trained float network (any device, train or eval mode); not modified.
    calibration : list of WrinkleSample
        Images (at the working scale) the scales are taken from: validation images, never test.
    scored : dict
        Split name → samples to score the integer network on (as the float one in the card).
    thresholds : tuple of float
        As for :func:`~outcomes.training.metrics.evaluate`.

    Returns
    -------
    qparams : dict
        For the weights metadata (``wrinkle_int8.QPARAMS_KEY``).
    card : dict
        ``{"calibration_images": [...], "metrics": {split: scores}, "seconds": s}``.
    """
    if not calibration:
        raise ValueError("int8 calibration needs at least one image")
    if not int8_available():
        raise RuntimeError("this torch build has no x86 quantized engine: set int8_calibration_images: 0")
    t0 = time.perf_counter()
    float_net = prepare_for_inference(copy.deepcopy(model).to("cpu"))
    qparams = calibrate_int8(float_net, (cnn_input(s.image) for s in calibration))
    int8_net = quantize_unet(float_net, qparams)
    metrics = {split: evaluate(int8_net, samples, "cpu", thresholds) for split, samples in scored.items() if samples}
    return qparams, {"calibration_images": [s.name for s in calibration], "metrics": metrics,
                     "seconds": round(time.perf_counter() - t0, 1)}
