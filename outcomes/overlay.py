"""Pictures for people: landmarks drawn on a photo."""

from __future__ import annotations

import numpy as np

from outcomes.types import Landmarks


def draw_landmarks(rgb: np.ndarray, landmarks: Landmarks) -> np.ndarray:
    """A copy of ``rgb`` (H, W, 3) uint8 with the mesh points and named anchors drawn."""
    import cv2

    out = rgb.copy()
    ipd = landmarks.inter_pupil_distance
    dot = max(1, int(round(ipd / 150)))
    for x, y in landmarks.points:
        cv2.circle(out, (int(round(x)), int(round(y))), dot, (0, 200, 255), -1, cv2.LINE_AA)
    for name, (x, y) in landmarks.anchors.items():
        centre = (int(round(x)), int(round(y)))
        cv2.circle(out, centre, 3 * dot, (255, 40, 40), -1, cv2.LINE_AA)
        cv2.putText(out, name, (centre[0] + 4 * dot, centre[1] - 2 * dot), cv2.FONT_HERSHEY_SIMPLEX,
                    0.25 * dot, (255, 255, 0), max(1, dot // 2), cv2.LINE_AA)
    return out


def draw_mask(rgb: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int] = (0, 220, 255),
              opacity: float = 0.6) -> np.ndarray:
    """A copy of ``rgb`` (H, W, 3) uint8 with the (H, W) bool ``mask`` blended in ``colour``."""
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match the image's {rgb.shape[:2]}")
    out = rgb.astype(np.float32)
    out[mask] = (1 - opacity) * out[mask] + opacity * np.asarray(colour, np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)
