"""Classical wrinkle detection on small synthetic skin patches."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from outcomes.features.wrinkle_regions import RegionWrinkles, region_wrinkle_features
from outcomes.features.wrinkles import WrinkleMap, detect_wrinkles, wrinkle_response
from outcomes.simulate.photometric import change_lighting, linear_to_srgb, srgb_to_linear

IPD = 200.0  # px: wrinkles 1.5-6 px wide, as in a 1350 px portrait
SHAPE = (120, 160)
MM = 63.0 / IPD


def skin(shape=SHAPE, noise: float = 2.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rgb = np.empty((*shape, 3))
    rgb[:] = (200, 150, 130)
    return np.clip(np.rint(rgb + rng.normal(0, noise, rgb.shape)), 0, 255).astype(np.uint8)


def segment_distance(shape, p0, p1) -> np.ndarray:
    ys, xs = np.mgrid[: shape[0], : shape[1]].astype(float)
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / (dx * dx + dy * dy), 0, 1)
    return np.hypot(xs - x0 - t * dx, ys - y0 - t * dy)


def shade(rgb: np.ndarray, profile: np.ndarray, depth: float) -> np.ndarray:
    """Multiply linear light by ``1 - depth * profile`` (negative depth brightens)."""
    return linear_to_srgb(srgb_to_linear(rgb) * (1.0 - depth * profile)[..., None])


def line(rgb, p0, p1, width=3.0, depth=0.3):
    d = segment_distance(rgb.shape[:2], p0, p1)
    return shade(rgb, np.exp(-4 * np.log(2) * d**2 / width**2), depth)


def lightness(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(rgb)[..., 0].astype(np.float32)


def test_flat_image_has_no_wrinkles_and_zero_features():
    for rgb in (np.full((*SHAPE, 3), 180, np.uint8), skin()):
        wmap = detect_wrinkles(rgb, IPD)
        assert wmap.response.dtype == np.float32 and wmap.response.shape == SHAPE
        assert not wmap.mask.any() and wmap.detector == "classical"
        f = region_wrinkle_features(wmap, lightness(rgb), np.ones(SHAPE, bool), MM)
        assert (f.area_fraction, f.length_per_cm2, f.depth, f.contrast, f.severity, f.wrinkle_px) == (0, 0, 0, 0, 0, 0)
        assert f.region_px == SHAPE[0] * SHAPE[1]
    assert wrinkle_response(np.full((*SHAPE, 3), 180, np.uint8), IPD).max() < 1e-4


@pytest.mark.parametrize(("p0", "p1"), [((20, 60), (140, 60)), ((30, 100), (130, 30)), ((80, 15), (80, 105))])
def test_dark_line_is_detected_along_the_line(p0, p1):
    rgb = line(skin(), p0, p1, width=3.0, depth=0.25)
    wmap = detect_wrinkles(rgb, IPD)
    dist = segment_distance(SHAPE, p0, p1)
    along = np.linspace(0.15, 0.85, 50)[:, None] * np.subtract(p1, p0) + p0  # middle 70 % of the line
    on_line = wmap.mask[np.rint(along[:, 1]).astype(int), np.rint(along[:, 0]).astype(int)]
    assert on_line.mean() > 0.9
    assert wmap.mask.any() and (dist[wmap.mask] <= 3.0).mean() > 0.9 and dist[wmap.mask].max() <= 6.0
    assert wmap.response[dist <= 0.5].mean() > 2 * wmap.response[dist > 10].mean()


def test_dark_round_spot_is_not_a_wrinkle():
    ys, xs = np.mgrid[: SHAPE[0], : SHAPE[1]]
    for fwhm in (3.0, 6.0, 10.0):
        spot = np.exp(-4 * np.log(2) * ((xs - 80) ** 2 + (ys - 60) ** 2) / fwhm**2)
        rgb = shade(skin(), spot, 0.35)
        wmap = detect_wrinkles(rgb, IPD)
        assert not wmap.mask.any(), f"a round spot of FWHM {fwhm} px was called a wrinkle"


def test_bright_ridge_is_not_a_wrinkle():
    rgb = skin()
    d = segment_distance(SHAPE, (20, 60), (140, 60))
    ridge = shade(rgb, np.exp(-4 * np.log(2) * d**2 / 9.0), -0.3)
    wmap = detect_wrinkles(ridge, IPD)
    assert not wmap.mask[d <= 3].any()
    assert wmap.response[d <= 1].mean() < 0.1


def test_response_is_invariant_to_brightness_and_contrast():
    rgb = line(line(skin(noise=3.0), (20, 40), (140, 50), 3.0, 0.2), (30, 90), (130, 80), 2.0, 0.15)
    ref = wrinkle_response(rgb, IPD)
    ref_mask = detect_wrinkles(rgb, IPD, response=ref).mask
    for kwargs in ({"exposure_stops": -0.6}, {"exposure_stops": 0.4, "white_balance": (1.08, 1.0, 0.9)},
                   {"gamma": 1.3}, {"gamma": 0.8, "exposure_stops": -0.3}):
        changed = change_lighting(rgb, **kwargs)
        resp = wrinkle_response(changed, IPD)
        assert np.median(np.abs(resp - ref)) < 0.02 and np.percentile(np.abs(resp - ref), 99) < 0.1, kwargs
        mask = detect_wrinkles(changed, IPD, response=resp).mask
        assert 2 * (mask & ref_mask).sum() / (mask.sum() + ref_mask.sum()) > 0.9, kwargs


def test_more_and_deeper_lines_give_higher_severity():
    region = np.ones(SHAPE, bool)

    def severity(rgb):
        return region_wrinkle_features(detect_wrinkles(rgb, IPD), lightness(rgb), region, MM)

    one = severity(line(skin(), (20, 40), (140, 40), 3.0, 0.2))
    two = severity(line(line(skin(), (20, 40), (140, 40), 3.0, 0.2), (20, 85), (140, 85), 3.0, 0.2))
    deep = severity(line(skin(), (20, 40), (140, 40), 3.0, 0.4))
    assert 0 < one.severity < two.severity and one.severity < deep.severity
    assert two.length_per_cm2 == pytest.approx(2 * one.length_per_cm2, rel=0.2)
    assert deep.depth > one.depth > 0 and deep.contrast > one.contrast > 0
    assert one.contrast == pytest.approx(0.2 / 1.35, rel=0.5)  # core share of the nominal depth (shoulder-free)


def test_region_without_wrinkles_has_zero_features():
    rgb = line(skin(), (20, 30), (140, 30), 3.0, 0.3)
    wmap = detect_wrinkles(rgb, IPD)
    assert wmap.mask.any()
    lower = np.zeros(SHAPE, bool)
    lower[70:, :] = True
    f = region_wrinkle_features(wmap, lightness(rgb), lower, MM)
    assert f == RegionWrinkles(0.0, 0.0, 0.0, 0.0, 0.0, 0, int(lower.sum()))


def test_length_area_and_depth_of_a_known_mask():
    light = np.full(SHAPE, 60.0, np.float32)
    mask = np.zeros(SHAPE, bool)
    mask[60, 20:121] = True  # 101 px horizontal: 100 steps
    for i in range(50):  # 50 px diagonal: 49 diagonal steps
        mask[5 + i, 5 + i] = True
    light[mask] = 50.0
    wmap = WrinkleMap(response=np.zeros(SHAPE, np.float32), mask=mask, ipd_px=IPD)
    f = region_wrinkle_features(wmap, light, np.ones(SHAPE, bool), 0.5)
    area_cm2 = SHAPE[0] * SHAPE[1] * 0.25 / 100
    assert f.length_per_cm2 == pytest.approx((100 + 49 * np.sqrt(2)) * 0.5 / area_cm2, rel=1e-6)
    assert f.area_fraction == pytest.approx(151 / (SHAPE[0] * SHAPE[1]))
    assert f.depth == pytest.approx(10.0, abs=1e-3)
    assert f.contrast == pytest.approx(1 - ((50 + 16) / (60 + 16)) ** 3, abs=1e-4)
    assert f.severity == pytest.approx(f.length_per_cm2 * f.contrast)
    lab = np.stack([light, np.zeros(SHAPE), np.zeros(SHAPE)], axis=-1)
    assert region_wrinkle_features(wmap, lab, np.ones(SHAPE, bool), 0.5) == f


def test_reference_measures_a_faded_line_on_the_same_pixels():
    before_rgb = line(skin(), (20, 60), (140, 60), 3.0, 0.3)
    after_rgb = line(skin(seed=1), (20, 60), (140, 60), 3.0, 0.03)  # faded below detection
    before, after = detect_wrinkles(before_rgb, IPD), detect_wrinkles(after_rgb, IPD)
    region = np.ones(SHAPE, bool)
    assert not after.mask.any()
    assert region_wrinkle_features(after, lightness(after_rgb), region, MM).severity == 0
    fb = region_wrinkle_features(before, lightness(before_rgb), region, MM, reference=after)
    fa = region_wrinkle_features(after, lightness(after_rgb), region, MM, reference=before)
    assert fa.length_per_cm2 == fb.length_per_cm2 > 0
    assert 0 < fa.severity < 0.3 * fb.severity


def test_roi_limits_the_response():
    rgb = line(skin(), (20, 60), (140, 60))
    roi = np.zeros(SHAPE, bool)
    roi[30:90, 40:120] = True
    full, cropped = wrinkle_response(rgb, IPD), wrinkle_response(rgb, IPD, roi)
    assert np.all(cropped[~roi] == 0)
    assert np.allclose(cropped[roi], full[roi], atol=1e-4)  # the bounding box margin covers the filters
    assert not wrinkle_response(rgb, IPD, np.zeros(SHAPE, bool)).any()


def test_a_large_face_is_analysed_at_the_working_scale():
    rgb = line(skin((240, 320)), (40, 120), (280, 120), width=6.0, depth=0.25)
    wmap = detect_wrinkles(rgb, 2 * IPD)
    assert wmap.mask.shape == (240, 320) and wmap.mask[120, 80:240].mean() > 0.9


def test_invalid_inputs_are_rejected_with_a_clear_message():
    rgb = skin()
    with pytest.raises(ValueError, match=r"rgb must be an \(H, W, 3\) uint8"):
        wrinkle_response(rgb.astype(np.float32), IPD)
    with pytest.raises(ValueError, match="rgb must be"):
        detect_wrinkles(rgb[..., 0], IPD)
    with pytest.raises(ValueError, match="ipd_px"):
        wrinkle_response(rgb, float("nan"))
    with pytest.raises(ValueError, match="ipd_px"):
        detect_wrinkles(rgb, 0)
    with pytest.raises(ValueError, match="roi must be a bool array of shape"):
        wrinkle_response(rgb, IPD, np.ones(SHAPE, np.uint8))
    with pytest.raises(ValueError, match="roi"):
        wrinkle_response(rgb, IPD, np.ones((10, 10), bool))
    with pytest.raises(ValueError, match="low_threshold"):
        detect_wrinkles(rgb, IPD, threshold=0.2, low_threshold=0.3)
    with pytest.raises(ValueError, match="response must be float32"):
        detect_wrinkles(rgb, IPD, response=np.zeros(SHAPE))
    with pytest.raises(ValueError, match="scales"):
        wrinkle_response(rgb, IPD, scales=(0.0, 0.01))
    wmap = detect_wrinkles(rgb, IPD)
    region = np.ones(SHAPE, bool)
    light = lightness(rgb)
    with pytest.raises(ValueError, match="region_mask is empty"):
        region_wrinkle_features(wmap, light, np.zeros(SHAPE, bool), MM)
    with pytest.raises(ValueError, match="region_mask must be a bool array"):
        region_wrinkle_features(wmap, light, region[:10], MM)
    with pytest.raises(ValueError, match="luminance_or_lab must be"):
        region_wrinkle_features(wmap, light[:, :10], region, MM)
    with pytest.raises(ValueError, match="mm_per_px"):
        region_wrinkle_features(wmap, light, region, -1.0)
    other = WrinkleMap(np.zeros((5, 5), np.float32), np.zeros((5, 5), bool), IPD)
    with pytest.raises(ValueError, match="reference map has shape"):
        region_wrinkle_features(wmap, light, region, MM, reference=other)


@pytest.mark.parametrize("module", ["outcomes.features.wrinkles", "outcomes.features.wrinkle_regions"])
def test_importing_loads_no_heavy_libraries(module):
    code = f"import sys, {module}; print(any(m in sys.modules for m in ('cv2', 'skimage')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
