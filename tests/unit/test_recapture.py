"""The recapture simulator: an unchanged face photographed again."""

from __future__ import annotations

import numpy as np
import pytest

from outcomes.simulate.recapture import RecaptureSpec, head_depth, random_recapture, recapture

ANCHORS = {"right_pupil": [90.0, 100.0], "left_pupil": [150.0, 100.0], "chin": [120.0, 205.0]}


def textured(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    import cv2

    base = cv2.GaussianBlur(rng.uniform(60, 200, (240, 240, 3)).astype(np.float32), (0, 0), 2.0)
    return np.clip(base, 0, 255).astype(np.uint8)


def test_no_change_returns_the_photo():
    image = textured()
    out, m = recapture(image, ANCHORS, RecaptureSpec(), np.random.default_rng(0))
    assert np.abs(out.astype(int) - image).max() <= 1
    np.testing.assert_allclose(m, np.eye(3), atol=1e-12)


def test_scale_and_shift_move_the_face_as_the_returned_similarity_says():
    image = np.full((240, 240, 3), 128, np.uint8)
    image[98:103, 118:123] = 0  # a dark dot between the pupils
    spec = RecaptureSpec(scale=0.7, shift_ipd=(0.5, 0.0))
    out, m = recapture(image, ANCHORS, spec, np.random.default_rng(0))
    ys, xs = np.nonzero(out[..., 0] < 90)
    expected = m @ [120.0, 100.0, 1.0]
    assert abs(xs.mean() - expected[0]) < 1.0 and abs(ys.mean() - expected[1]) < 1.0
    assert expected[0] == pytest.approx(120 + 30, abs=1e-6)  # half an IPD (60 px) to the right


def test_yaw_moves_the_nose_more_than_the_face_edge():
    depth = head_depth((240, 240), ANCHORS)
    nose, cheek_edge, background = depth[150, 120], depth[150, 200], depth[5, 5]
    assert nose > cheek_edge > background == 0


def test_exposure_brightens_in_linear_light():
    image = np.full((240, 240, 3), 100, np.uint8)
    out, _ = recapture(image, ANCHORS, RecaptureSpec(exposure_ev=1.0), np.random.default_rng(0))
    # Twice the light: sRGB 100 (linear 0.127) becomes linear 0.254, sRGB ~137.
    assert abs(int(out[120, 120, 0]) - 137) <= 1


def test_random_specs_stay_within_a_photo_sessions_ranges():
    rng = np.random.default_rng(3)
    specs = [random_recapture(rng) for _ in range(200)]
    assert all(0.6 <= s.scale <= 1.6 and 70 <= s.jpeg_quality <= 95 and abs(s.exposure_ev) <= 0.3 for s in specs)
    assert all(abs(s.yaw_deg) <= 3 and abs(s.pitch_deg) <= 3 for s in specs)
    assert min(s.scale for s in specs) < 0.7 and max(s.scale for s in specs) > 1.4


def test_same_seed_same_photo():
    image = textured()
    spec = random_recapture(np.random.default_rng(1))
    a, _ = recapture(image, ANCHORS, spec, np.random.default_rng(5))
    b, _ = recapture(image, ANCHORS, spec, np.random.default_rng(5))
    assert np.array_equal(a, b)


def test_rejects_non_rgb_input():
    with pytest.raises(ValueError, match="uint8"):
        recapture(np.zeros((10, 10), np.uint8), ANCHORS, RecaptureSpec(), np.random.default_rng(0))
