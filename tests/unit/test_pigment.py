"""PIH check on synthetic CIELAB images: what counts as new pigment and what does not."""

from __future__ import annotations

import numpy as np
import pytest

from outcomes.features.pigment import PigmentThresholds, check_pih

SIZE, IPD = 240, 120.0


def _skin(l_star: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    lab = np.empty((SIZE, SIZE, 3), np.float32)
    lab[..., 0] = l_star + rng.normal(0, 0.4, (SIZE, SIZE))
    lab[..., 1], lab[..., 2] = 12.0, 16.0
    return lab


def _regions() -> dict[str, np.ndarray]:
    m = np.zeros((SIZE, SIZE), bool)
    m[20:220, 20:220] = True
    left, right = m.copy(), m.copy()
    left[:, 120:] = False
    right[:, :120] = False
    return {"cheek_right": left, "cheek_left": right}


def _disc(lab: np.ndarray, centre: tuple[int, int], radius: float, d: tuple[float, float, float]) -> np.ndarray:
    out = lab.copy()
    yy, xx = np.mgrid[:SIZE, :SIZE]
    w = np.clip(1.5 - np.hypot(yy - centre[0], xx - centre[1]) / radius, 0, 1)[..., None]
    return out + w * np.array(d, np.float32)


@pytest.mark.parametrize("l_star", [70.0, 40.0])
def test_new_dark_macule_is_pih(l_star):
    before = _skin(l_star)
    after = _disc(before, (80, 70), 8, (-0.15 * l_star, 0.0, 3.0))
    result = check_pih(before, after, _regions(), IPD)
    assert result.flag and result.severity in ("mild", "moderate", "severe")
    assert result.spot_mask[80, 70] and not result.spot_mask[180, 180]
    by_region = {r.region: r for r in result.regions}
    assert by_region["cheek_right"].area_fraction > 0 and by_region["cheek_left"].area_fraction == 0


def test_unchanged_or_globally_shifted_skin_is_not_pih():
    before = _skin(60)
    assert not check_pih(before, before.copy(), _regions(), IPD).flag
    darker_everywhere = before + np.array([-6.0, 0.0, 2.0], np.float32)  # residual lighting difference
    assert not check_pih(before, darker_everywhere, _regions(), IPD).flag


def test_redness_is_erythema_not_pih():
    before = _skin(60)
    after = _disc(before, (100, 100), 30, (-1.0, 9.0, 0.5))
    result = check_pih(before, after, _regions(), IPD)
    assert not result.flag and result.erythema_mask.any()


def test_a_deeper_wrinkle_line_is_not_a_spot():
    before = _skin(60)
    after = before.copy()
    after[100:103, 40:200, 0] -= 12.0  # a thin dark line 160 px long
    assert not check_pih(before, after, _regions(), IPD).flag


@pytest.mark.parametrize("seed", [0, 1])
def test_dark_texture_that_moved_a_little_is_not_pih(seed):
    """Hair-like dark speckles shifted by 2 px (residual misregistration at a hairline):
    new dark pixels everywhere along their edges, but nothing darker than the baseline nearby."""
    import cv2

    rng = np.random.default_rng(seed)
    before = _skin(60)
    speckles = cv2.GaussianBlur(rng.normal(0, 1, (SIZE, SIZE)).astype(np.float32), (0, 0), 2.0)
    speckles = np.clip(-speckles / speckles.std() - 0.5, 0, None) * 12
    speckles[:30], speckles[90:], speckles[:, :30], speckles[:, 210:] = 0, 0, 0, 0
    moved = np.roll(speckles, 2, axis=0)
    b, a = before.copy(), before.copy()
    b[..., 0] -= speckles
    a[..., 0] -= moved
    assert check_pih(b, a, _regions(), IPD, PigmentThresholds(shift_tolerance_ipd=0.0)).flag  # the test has teeth
    assert not check_pih(b, a, _regions(), IPD).flag
    assert check_pih(b, _disc(a, (160, 160), 8, (-9.0, 0.0, 3.0)), _regions(), IPD).flag  # a new macule still is


def test_threshold_is_relative_to_the_skin_lightness():
    """ΔL* −3.5 is 5 % on L* 70 (below the 6 % threshold) but 9 % on L* 40 (above)."""
    for l_star, expected in ((70.0, False), (40.0, True)):
        before = _skin(l_star)
        after = _disc(before, (80, 70), 8, (-3.5, 0.0, 1.0))
        assert check_pih(before, after, _regions(), IPD, PigmentThresholds()).flag is expected


def test_shape_errors_are_explicit():
    with pytest.raises(ValueError, match="lab_before"):
        check_pih(np.zeros((10, 10)), np.zeros((10, 10, 3), np.float32), {}, IPD)
    with pytest.raises(ValueError, match="differ in shape"):
        check_pih(np.zeros((10, 10, 3), np.float32), np.zeros((12, 10, 3), np.float32), {}, IPD)
