"""Property tests of the treatment simulator (a test instrument) on small synthetic faces."""

from __future__ import annotations

import ast
import dataclasses
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.color import rgb2lab

from outcomes.simulate import (
    REGIONS,
    TreatmentSpec,
    Wrinkle,
    add_macules,
    add_redness,
    change_lighting,
    linear_to_srgb,
    random_geometric_change,
    random_lighting,
    render_wrinkles,
    sample_wrinkles,
    simulate_pair,
    srgb_to_linear,
    transform_points,
    warp_image,
    write_pair,
)

SKIN = (200, 150, 130)


def fake_anchors(ipd: float = 60.0, cx: float = 100.0, cy: float = 80.0) -> dict[str, np.ndarray]:
    """Anchors of a frontal fake face with the given IPD (px), pupils centred at (cx, cy)."""
    u = ipd / 60.0
    rel = {
        "right_pupil": (-30, 0), "left_pupil": (30, 0),
        "right_eye_outer": (-42, 1), "right_eye_inner": (-18, 1),
        "left_eye_inner": (18, 1), "left_eye_outer": (42, 1),
        "subnasale": (0, 42), "mouth_right": (-22, 62), "mouth_left": (22, 62), "chin": (0, 95),
    }
    return {k: np.array([cx + x * u, cy + y * u]) for k, (x, y) in rel.items()}


def skin_image(size: int = 200, noise: float = 3.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.array(SKIN, float) + rng.normal(0.0, noise, (size, size, 3))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def luminance(img: np.ndarray) -> np.ndarray:
    return srgb_to_linear(img) @ np.array([0.2126, 0.7152, 0.0722])


def dot_centroid(img: np.ndarray, channel: int = 2) -> np.ndarray:
    """Sub-pixel position [x, y] of the brightest blob in one channel."""
    ch = img[..., channel].astype(np.float64)
    y, x = np.unravel_index(np.argmax(cv2.GaussianBlur(ch, (0, 0), 1.5)), ch.shape)
    win = ch[y - 5:y + 6, x - 5:x + 6]
    wgt = np.clip(win - np.median(ch), 0, None)
    ys, xs = np.mgrid[y - 5:y + 6, x - 5:x + 6]
    return np.array([(wgt * xs).sum(), (wgt * ys).sum()]) / wgt.sum()


def draw_dot(img: np.ndarray, xy, sigma: float = 1.5) -> np.ndarray:
    ys, xs = np.mgrid[: img.shape[0], : img.shape[1]]
    g = np.exp(-((xs - xy[0]) ** 2 + (ys - xy[1]) ** 2) / (2 * sigma**2))[..., None]
    return np.clip(np.rint(img * (1 - g) + 255 * g), 0, 255).astype(np.uint8)


# --- geometry -------------------------------------------------------------


def test_identity_warp_leaves_image_unchanged():
    img = skin_image(noise=20)
    assert np.array_equal(warp_image(img, np.eye(3)), img)
    pts = np.array([[3.0, 4.0], [150.5, 7.25]])
    assert np.allclose(transform_points(pts, np.eye(3)), pts)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31), x=st.floats(70, 130), y=st.floats(70, 130))
def test_transform_points_agrees_with_warp_image(seed, x, y):
    h = random_geometric_change(np.random.default_rng(seed), (200, 200))
    img = draw_dot(np.zeros((200, 200, 3), np.uint8), (x, y))
    found = dot_centroid(warp_image(img, h, border_value=(0, 0, 0)))
    assert np.linalg.norm(found - transform_points(np.array([[x, y]]), h)[0]) < 1.0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), rot=st.floats(0.5, 20), scale=st.floats(0.01, 0.3),
       shift=st.floats(0.0, 0.2), size=st.sampled_from([(200, 200), (640, 480), (1350, 1350)]))
def test_random_geometric_change_within_bounds(seed, rot, scale, shift, size):
    w, h = size
    persp = 0.0002
    hom = random_geometric_change(np.random.default_rng(seed), size, max_rotation_deg=rot,
                                  max_scale=scale, max_shift=shift, max_perspective=persp)
    c = np.array([(w - 1) / 2, (h - 1) / 2])
    moved = transform_points(c[None], hom)[0]
    assert np.all(np.abs(moved - c) <= shift * np.array([w, h]) + 1e-6)
    eps = 1e-3  # local Jacobian at the centre is rotation x scale
    jac = (transform_points(np.array([c + [eps, 0], c + [0, eps]]), hom) - moved).T / eps
    s = np.sqrt(abs(np.linalg.det(jac)))
    angle = np.degrees(np.arctan2(jac[1, 0], jac[0, 0]))
    assert 1 - scale - 1e-3 <= s <= 1 + scale + 1e-3
    assert abs(angle) <= rot + 1e-2
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], float)
    # projective divisor at the corners relative to the centre: within a few percent
    wdiv = (np.hstack([corners, np.ones((4, 1))]) @ hom[2]) / (np.append(c, 1) @ hom[2])
    assert np.all(np.abs(wdiv - 1) <= 2 * persp * 128 + 1e-9)


# --- photometric ----------------------------------------------------------


def test_srgb_round_trip_is_exact():
    codes = np.arange(256, dtype=np.uint8)
    assert np.array_equal(linear_to_srgb(srgb_to_linear(codes)), codes)


def test_lighting_identity_and_one_stop():
    img = skin_image(noise=30)
    same = change_lighting(img, exposure_stops=0.0, white_balance=(1, 1, 1), gamma=1.0)
    assert np.abs(same.astype(int) - img).max() <= 1
    grey = np.full((4, 4, 3), 118, np.uint8)
    brighter = change_lighting(grey, exposure_stops=1.0)
    assert brighter.min() > 150  # +1 stop doubles linear light: 118 -> ~163
    assert change_lighting(grey, exposure_stops=-1.0).max() < 90


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_random_lighting_within_bounds(seed):
    p = random_lighting(np.random.default_rng(seed), max_stops=0.3, max_wb=0.05)
    assert abs(p["exposure_stops"]) <= 0.3 and p["gamma"] == 1.0
    assert all(0.95 <= g <= 1.05 for g in p["white_balance"])
    json.dumps(p)


# --- wrinkles -------------------------------------------------------------


def test_severity_zero_gives_no_wrinkles():
    img = skin_image()
    ws = sample_wrinkles(fake_anchors(), 0.0, np.random.default_rng(1))
    assert ws == ()
    out, mask = render_wrinkles(img, ws)
    assert np.array_equal(out, img) and not mask.any()


def test_wrinkle_placement_by_region():
    a = fake_anchors(ipd=200, cx=500, cy=400)
    ws = sample_wrinkles(a, 1.0, np.random.default_rng(3))
    assert {w.region for w in ws} <= set(REGIONS)
    assert {"forehead", "glabella", "nasolabial_right", "nasolabial_left"} <= {w.region for w in ws}
    for w in ws:
        p = np.array(w.points)
        assert 1.5 <= w.width_px <= 6.0 and 0 < w.depth <= 0.9
        if w.region == "forehead":
            assert np.all((p[:, 1] < 400 - 0.45 * 200) & (p[:, 1] > 400 - 1.3 * 200))
            assert np.all(np.abs(p[:, 0] - 500) < 0.8 * 200)
        elif w.region == "crows_feet_right":
            assert np.all(p[:, 0] < a["right_eye_outer"][0])
        elif w.region == "crows_feet_left":
            assert np.all(p[:, 0] > a["left_eye_outer"][0])
        elif w.region.startswith("nasolabial"):
            assert a["subnasale"][1] - 20 < p[0, 1] < p[-1, 1] < a["mouth_right"][1] + 20
        elif w.region == "perioral":
            assert np.all((p[:, 1] < a["mouth_right"][1]) & (p[:, 1] > a["subnasale"][1]))


def test_more_severity_more_area_and_darker():
    img = np.full((200, 200, 3), SKIN, np.uint8)
    lum = luminance(img)
    results = []
    for sev in (0.3, 1.0):
        ws = sample_wrinkles(fake_anchors(), sev, np.random.default_rng(5))
        out, mask = render_wrinkles(img, ws)
        results.append((mask.sum(), luminance(out)[mask].mean() / lum[mask].mean()))
    (area_lo, dark_lo), (area_hi, dark_hi) = results
    assert 0 < area_lo < area_hi
    assert dark_hi < dark_lo < 1.0


def test_depth_scale_zero_and_reduction():
    img = skin_image()
    ws = sample_wrinkles(fake_anchors(), 0.8, np.random.default_rng(2))
    out0, m0 = render_wrinkles(img, ws, depth_scale=0.0)
    assert np.array_equal(out0, img) and not m0.any()
    full, m1 = render_wrinkles(img, ws, 1.0)
    part, m4 = render_wrinkles(img, ws, 0.4)
    assert np.array_equal(m1, m4) and m1.any()
    base = luminance(img)[m1]
    assert (base - luminance(part)[m1]).mean() < (base - luminance(full)[m1]).mean()
    assert luminance(part)[m1].mean() < base.mean()


def test_render_keeps_hue_and_mask_is_on_the_line():
    img = np.full((60, 80, 3), SKIN, np.uint8)
    w = Wrinkle("forehead", ((10.0, 30.0), (70.0, 30.0)), width_px=4.0, depth=0.5, taper=0.2)
    out, mask = render_wrinkles(img, [w])
    assert mask[30, 40] and not mask[20, 40] and not mask[30, 2]
    lin_in, lin_out = srgb_to_linear(img[30, 40]), srgb_to_linear(out[30, 40])
    ratio = lin_out / lin_in
    assert abs(ratio[0] - 0.5) < 0.02 and np.ptp(ratio) < 0.02


# --- lesions --------------------------------------------------------------


def test_macules_darken_and_yellow_without_reddening():
    img = skin_image(noise=1)
    out, mask, params = add_macules(img, fake_anchors(), np.random.default_rng(4), count=3)
    assert mask.any() and len(params) == 3 and mask.sum() <= sum(p["area_px"] for p in params)
    d = rgb2lab(out / 255.0)[mask] - rgb2lab(img / 255.0)[mask]
    assert d[:, 0].mean() < -4.0 and d[:, 2].mean() > 1.5 and abs(d[:, 1].mean()) < 2.0
    assert np.array_equal(out[:40], img[:40])  # forehead untouched
    json.dumps(params)


def test_redness_raises_a_more_than_l():
    img = skin_image(noise=1)
    out, mask, params = add_redness(img, fake_anchors(), np.random.default_rng(4), delta_a=8.0)
    assert mask.any() and params["area_px"] == mask.sum()
    d = rgb2lab(out / 255.0)[mask] - rgb2lab(img / 255.0)[mask]
    assert d[:, 1].mean() > 4.0 and d[:, 1].mean() > 3 * abs(d[:, 0].mean())
    json.dumps(params)


# --- scenario -------------------------------------------------------------


def test_simulate_pair_deterministic_and_json(tmp_path: Path):
    img, a = skin_image(), fake_anchors()
    spec = TreatmentSpec(wrinkle_severity=0.8, wrinkle_reduction=0.6, geometric=True,
                         lighting=True, macules=2, redness=True, seed=11)
    p1, p2 = simulate_pair(img, a, spec), simulate_pair(img, a, spec)
    assert np.array_equal(p1.before, p2.before) and np.array_equal(p1.after, p2.after)
    gt = p1.ground_truth
    assert json.loads(json.dumps(gt)) == gt == p2.ground_truth
    assert gt["image_size"] == [200, 200] and abs(gt["wrinkle_reduction"] - 0.6) < 1e-9
    assert gt["spec"] == dataclasses.asdict(spec) and gt["macule_area_px"] == p1.macule_mask.sum()
    assert all(abs(w["depth_after"] - 0.4 * w["depth_before"]) < 1e-12 for w in gt["wrinkles"])
    other = simulate_pair(img, a, dataclasses.replace(spec, seed=12))
    assert not np.array_equal(other.after, p1.after)
    paths = write_pair(p1, tmp_path, "x")
    back = cv2.cvtColor(cv2.imread(str(paths["after"])), cv2.COLOR_BGR2RGB)
    assert np.array_equal(back, p1.after)
    assert json.loads(paths["truth"].read_text()) == gt
    wm = cv2.imread(str(paths["wrinkle_mask"]), cv2.IMREAD_UNCHANGED)
    assert wm.ndim == 2 and set(np.unique(wm)) <= {0, 255} and np.array_equal(wm > 0, p1.wrinkle_mask)


def test_after_to_before_maps_features_back():
    xy = np.array([100.0, 100.0])  # on the nose: no wrinkle or lesion goes there
    img = draw_dot(skin_image(noise=1), xy)
    for seed in range(4):
        spec = TreatmentSpec(wrinkle_severity=0.5, wrinkle_reduction=0.5, geometric=True,
                             lighting=True, macules=1, redness=False, seed=seed)
        pair = simulate_pair(img, fake_anchors(), spec)
        assert np.linalg.norm(dot_centroid(pair.before) - xy) < 0.5
        in_after = dot_centroid(pair.after)
        back = transform_points(in_after[None], np.array(pair.ground_truth["after_to_before"]))[0]
        assert np.linalg.norm(back - xy) < 1.0


def test_no_change_spec_is_identity():
    img = skin_image()
    spec = TreatmentSpec(wrinkle_severity=0.0, wrinkle_reduction=0.0, geometric=False,
                         lighting=False, macules=0, redness=False, seed=0)
    pair = simulate_pair(img, fake_anchors(), spec)
    assert np.array_equal(pair.before, img) and np.array_equal(pair.after, img)
    assert np.allclose(pair.ground_truth["after_to_before"], np.eye(3))


def test_simulator_imports_nothing_else_from_outcomes():
    pkg = Path(__file__).resolve().parents[2] / "outcomes" / "simulate"
    allowed = {"numpy", "scipy", "cv2", "skimage", "__future__"}
    for f in pkg.glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                names = [n.name for n in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level > 0:
                    continue  # relative: stays inside outcomes.simulate
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in allowed or top in sys.stdlib_module_names, f"{f.name} imports {name}"
