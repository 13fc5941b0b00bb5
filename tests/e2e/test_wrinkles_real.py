"""Wrinkle detection on real London faces with simulated wrinkles (exact masks and depths).

``benchmarks/wrinkle_detection.py`` measures all 61 faces (severity 0.3-1.0,
median Dice 0.48 inside the skin). Here: three faces of different ethnicity
at severity 0.8, measured Dice 0.66 / 0.40 / 0.32 (floor 0.25). Severity is
summed over the regions where a simulated line is visible and detected.
"""

from __future__ import annotations

import numpy as np
import pytest

from outcomes.color import skin_pixels
from outcomes.features.wrinkle_regions import region_wrinkle_features
from outcomes.features.wrinkles import detect_wrinkles
from outcomes.io import read_photo
from outcomes.regions import region_masks
from outcomes.simulate import change_lighting, london_anchors, read_tem, render_wrinkles, sample_wrinkles
from outcomes.simulate.photometric import srgb_to_linear

FACES = ("010", "042", "087")  # self-reported white, black, east Asian
DEPTH_SCALES = (1.0, 0.7, 0.4, 0.0)
DICE_FLOOR = 0.25


def lightness(rgb: np.ndarray) -> np.ndarray:
    y = srgb_to_linear(rgb) @ np.array([0.2126, 0.7152, 0.0722])
    return (116.0 * np.where(y > (6 / 29) ** 3, np.cbrt(y), y / (3 * (6 / 29) ** 2) + 4 / 29) - 16.0).astype(np.float32)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(1, a.sum() + b.sum()))


@pytest.fixture(scope="module")
def faces(shared_data, models):
    out = {}
    for face_id in FACES:
        path = shared_data / "london" / "neutral" / f"{face_id}_03.jpg"
        photo = read_photo(path)
        wrinkles = sample_wrinkles(london_anchors(read_tem(path.with_suffix(".tem"))), 0.8,
                                   np.random.default_rng(int(face_id)))
        rendered = {ds: render_wrinkles(photo.pixels, wrinkles, ds) for ds in DEPTH_SCALES}
        lm = models.landmarker.detect(photo)
        plain = region_masks(lm, photo.pixels.shape[:2]).masks
        skin = skin_pixels(rendered[1.0][0], plain["cheek_right"] | plain["cheek_left"])
        regions = region_masks(lm, photo.pixels.shape[:2], skin)
        out[face_id] = (photo.pixels, rendered, regions, lm.inter_pupil_distance)
    return out


@pytest.mark.parametrize("face_id", FACES)
def test_simulated_wrinkles_are_found_and_their_severity_follows_depth(faces, face_id):
    original, rendered, regions, ipd = faces[face_id]
    roi = np.any(np.stack(list(regions.masks.values())), axis=0)
    maps = {ds: detect_wrinkles(img, ipd, roi) for ds, (img, _) in rendered.items()}
    truth = rendered[1.0][1]
    assert dice(maps[1.0].mask, truth & roi) >= DICE_FLOOR

    visible = srgb_to_linear(rendered[1.0][0]).mean(-1) <= 0.9 * srgb_to_linear(original).mean(-1)
    affected = {n: m for n, m in regions.masks.items() if (visible & m).sum() >= 30 and (maps[1.0].mask & truth & m).any()}
    assert len(affected) >= 3
    light = {ds: lightness(img) for ds, (img, _) in rendered.items()}

    def total(ds, reference=None):
        return sum(region_wrinkle_features(maps[ds], light[ds], m, regions.mm_per_px, reference=reference).severity
                   for m in affected.values())

    paired = [total(ds, maps[1.0]) for ds in DEPTH_SCALES]
    independent = [total(ds) for ds in DEPTH_SCALES]
    assert all(a > b for a, b in zip(paired, paired[1:])), paired
    # Scored alone, each photo loses the faint lines (depth x 0.4) below the threshold: only the first steps fall.
    assert independent[0] > independent[1] > max(independent[2:]), independent
    # The same photo under another exposure and white balance: nearly the same severity.
    relit = change_lighting(rendered[1.0][0], exposure_stops=-0.4, white_balance=(1.05, 1.0, 0.95))
    again = sum(region_wrinkle_features(detect_wrinkles(relit, ipd, roi), lightness(relit), m, regions.mm_per_px).severity
                for m in affected.values())
    assert again == pytest.approx(independent[0], rel=0.1)
