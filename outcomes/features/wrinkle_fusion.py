"""Wrinkle detection with the CNN, the classical filters, or both fused.

The fused score is ``w * p_cnn + (1 - w) * r_classical``: the CNN's probability and the
classical line-valley response (both in [0, 1]); a pixel is a wrinkle where the score reaches
``threshold`` inside the region of interest. The CNN supplies the shape of the lines (it was
trained against exact masks); the classical response, which does not depend on learned
weights, keeps strong lines the network is unsure of and damps its isolated responses. With
``w = 1`` this is the CNN alone; ``detector = "classical"`` keeps the classical detector's own
hysteresis and component filters. ``benchmarks/wrinkle_cnn.py`` measures all three.
"""

from __future__ import annotations

import numpy as np

from outcomes.config import WrinkleConfig
from outcomes.errors import ModelError
from outcomes.features.wrinkle_cnn import wrinkle_probability
from outcomes.features.wrinkle_model import WrinkleCNN
from outcomes.features.wrinkles import WrinkleMap, detect_wrinkles, response_params, wrinkle_response


def find_wrinkles(rgb: np.ndarray, ipd_px: float, roi: np.ndarray, cnn: WrinkleCNN | None,
                  config: WrinkleConfig) -> WrinkleMap:
    """Wrinkle map of one photo with the configured detector.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
    ipd_px : float
        Inter-pupil distance, px.
    roi : ndarray, shape (H, W), bool
        Face skin to analyse.
    cnn : WrinkleCNN or None
        Required unless ``config.detector == "classical"``.
    config : WrinkleConfig

    Returns
    -------
    WrinkleMap
        ``detector`` is ``"classical"``, ``"cnn"`` or ``"cnn+classical"``; ``response`` is the
        score that was thresholded; ``params`` records the fusion settings and the model.
    """
    if config.detector == "classical":
        return detect_wrinkles(rgb, ipd_px, roi)
    if cnn is None:
        raise ModelError(f"wrinkles.detector is {config.detector!r} but no wrinkle CNN was loaded")
    prob = wrinkle_probability(cnn, rgb, ipd_px, roi, mirror_average=config.cnn_mirror_average)
    params = {"threshold": config.threshold, "model_sha256": cnn.sha256, "mirror_average": config.cnn_mirror_average}
    if config.detector == "cnn":
        return WrinkleMap(response=prob, mask=(prob >= config.threshold) & roi, ipd_px=float(ipd_px),
                          detector="cnn", params=params)
    # Only the classical response is fused: its own hysteresis and component filters are not needed.
    classical = wrinkle_response(rgb, ipd_px, roi)
    return fuse(prob, classical, roi, ipd_px=ipd_px, cnn_weight=config.cnn_weight, threshold=config.threshold,
                params=params)


def fuse(probability: np.ndarray, classical_response: np.ndarray, roi: np.ndarray, *, ipd_px: float,
         cnn_weight: float, threshold: float, params: dict | None = None) -> WrinkleMap:
    """``cnn_weight * probability + (1 - cnn_weight) * classical_response``, thresholded in ``roi``.

    Parameters
    ----------
    probability : ndarray, shape (H, W), float in [0, 1]
    classical_response : ndarray, shape (H, W), float in [0, 1]
        :func:`~outcomes.features.wrinkles.wrinkle_response` of the same photo.
    roi : ndarray, shape (H, W), bool
    ipd_px : float
        Inter-pupil distance of the photo, px (recorded in the map).
    cnn_weight : float in [0, 1]
    threshold : float in (0, 1)
    params : dict, optional
        Recorded in the map's ``params`` with the weight, threshold and classical filter settings.
    """
    if probability.shape != classical_response.shape or roi.shape != probability.shape:
        raise ValueError(f"probability {probability.shape}, classical response {classical_response.shape} and roi "
                         f"{roi.shape} must have the same shape")
    if not 0.0 <= cnn_weight <= 1.0:
        raise ValueError(f"cnn_weight must be in [0, 1], got {cnn_weight}")
    score = (cnn_weight * probability + (1.0 - cnn_weight) * classical_response).astype(np.float32)
    score[~roi] = 0.0
    return WrinkleMap(response=score, mask=(score >= threshold) & roi, ipd_px=float(ipd_px), detector="cnn+classical",
                      params={**(params or {}), "cnn_weight": cnn_weight, "threshold": threshold,
                              "classical": response_params()})
