"""Sharpness matching: a known blur between two photos of the same texture is found and undone."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcomes.resolution import fine_energy, match_blur, relative_blur


def texture(seed: int = 0, size: int = 160) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.normal(60, 4, (size, size)).astype(np.float32), (0, 0), 0.7)


@settings(max_examples=15, deadline=None)
@given(st.floats(0.3, 3.0), st.integers(0, 1000))
def test_known_blur_is_recovered_with_its_sign(sigma, seed):
    tex, mask = texture(seed), np.ones((160, 160), bool)
    soft = cv2.GaussianBlur(tex, (0, 0), sigma)
    assert relative_blur(tex, soft, mask) == pytest.approx(sigma, abs=0.1)
    assert relative_blur(soft, tex, mask) == pytest.approx(-sigma, abs=0.1)


def test_same_photo_needs_no_blur_and_is_returned_as_is():
    tex = texture()
    b, a, sigma = match_blur(tex, tex.copy(), np.ones(tex.shape, bool))
    assert sigma == 0 and b is tex


def test_matched_pair_has_equal_fine_energy():
    tex, mask = texture(3), np.ones((160, 160), bool)
    soft = cv2.GaussianBlur(tex, (0, 0), 1.5)
    b, a, sigma = match_blur(tex, soft, mask)
    assert sigma > 0 and a is soft
    assert fine_energy(b, mask) == pytest.approx(fine_energy(a, mask), rel=0.05)


def test_blur_matching_undoes_a_lines_contrast_loss():
    """A dark line measured on a blurred copy loses depth; at matched sharpness both agree."""
    tex = texture(5)
    tex[78:81, 20:140] -= 8.0
    soft = cv2.GaussianBlur(tex, (0, 0), 1.2)
    line = np.zeros(tex.shape, bool)
    line[78:81, 20:140] = True
    b, a, _ = match_blur(tex, soft, np.ones(tex.shape, bool))
    assert (tex[line].mean() - soft[line].mean()) < -1.0  # measured as is: the follow-up looks smoother
    assert abs(b[line].mean() - a[line].mean()) < 0.3


def test_only_the_mask_counts_and_an_empty_mask_is_no_blur():
    tex = texture(7)
    mask = np.zeros(tex.shape, bool)
    assert relative_blur(tex, cv2.GaussianBlur(tex, (0, 0), 2.0), mask) == 0.0


def test_shapes_must_match():
    with pytest.raises(ValueError, match="shape"):
        relative_blur(texture(), texture(size=100), np.ones((160, 160), bool))
