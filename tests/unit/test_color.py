"""Skin colour: Lab conversion, ITA / Fitzpatrick, skin pixels and illumination normalisation.

Synthetic "faces" (a skin ellipse with shading and noise, hair, brows, a
glare spot, grey background) of light and dark skin; pigment changes and
lighting changes come from the treatment simulator.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.color import rgb2lab

from outcomes.color import (
    SkinTone,
    fitzpatrick_from_ita,
    ita_category,
    ita_deg,
    lab_to_srgb,
    skin_pixels,
    skin_tone,
    srgb_to_lab,
)
from outcomes.illumination import normalise_illumination
from outcomes.simulate import (
    add_macules,
    change_lighting,
    linear_to_srgb,
    render_wrinkles,
    sample_wrinkles,
    srgb_to_linear,
)

SIZE = 320
LIGHT, DARK = (68.0, 12.0, 16.0), (36.0, 11.0, 15.0)  # CIELAB of the skin
HAIR = {LIGHT: (24.0, 4.0, 8.0), DARK: (11.0, 1.5, 2.0)}


def fake_anchors() -> dict[str, np.ndarray]:
    rel = {
        "right_pupil": (-35, 0), "left_pupil": (35, 0), "right_eye_outer": (-50, 1), "right_eye_inner": (-21, 1),
        "left_eye_inner": (21, 1), "left_eye_outer": (50, 1), "subnasale": (0, 50), "mouth_right": (-26, 74),
        "mouth_left": (26, 74), "chin": (0, 115),
    }
    return {k: np.array([160.0 + x, 150.0 + y]) for k, (x, y) in rel.items()}


def fake_face(skin_lab, seed: int = 0):
    """(rgb uint8, masks dict) of a frontal synthetic face on a grey background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(float)
    face = ((xx - 160) / 100) ** 2 + ((yy - 175) / 130) ** 2 <= 1
    hair = face & (yy < 95 + 10 * np.cos((xx - 160) / 40))
    brows = np.zeros_like(face)
    for cx in (125, 195):
        brows |= (np.abs(xx - cx) < 20) & (np.abs(yy - 134 + 0.1 * (xx - cx)) < 3)
    glare = (xx - 160) ** 2 + (yy - 112) ** 2 <= 7**2
    lab = np.empty((SIZE, SIZE, 3))
    lab[:] = (78.0, 0.0, 0.5)  # grey backdrop
    shade = -4.0 * ((xx - 160) / 100) ** 2 - 2.0 * (yy - 175) / 130  # darker towards the sides
    lab[face] = np.asarray(skin_lab) + np.c_[shade[face], 0 * shade[face], 0 * shade[face]]
    lab[hair | brows] = HAIR[tuple(skin_lab)]
    lab[glare] = (97.0, 0.0, 1.0)
    lab += rng.normal(0.0, 1.0, lab.shape) * (0.8, 0.6, 0.6)
    rgb = lab_to_srgb(lab)
    skin = face & ~hair & ~brows & ~glare
    cheeks = np.zeros_like(face)
    cheeks[185:225, 105:140] = cheeks[185:225, 180:215] = True
    return rgb, {"skin": skin, "hair": hair | brows, "glare": glare, "background": ~face, "cheeks": cheeks}


def patch(L: float, a: float, b: float, n: int = 40) -> np.ndarray:
    return srgb_to_lab(lab_to_srgb(np.full((n, n, 3), (L, a, b))))


# --- CIELAB ---------------------------------------------------------------------------------------------------


def test_srgb_to_lab_matches_skimage():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (200, 500, 3), dtype=np.uint8)
    rgb[0, :8] = np.array(np.meshgrid([0, 255], [0, 255], [0, 255])).reshape(3, -1).T  # cube corners
    lab = srgb_to_lab(rgb)
    assert lab.dtype == np.float32 and lab.shape == rgb.shape
    np.testing.assert_allclose(lab, rgb2lab(rgb), atol=1e-3)
    np.testing.assert_allclose(srgb_to_lab(rgb[0, :8]), rgb2lab(rgb[:1, :8])[0], atol=1e-3)  # any leading shape


def test_lab_to_srgb_inverts_srgb_to_lab():
    rgb = np.random.default_rng(2).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    np.testing.assert_array_equal(lab_to_srgb(srgb_to_lab(rgb)), rgb)


def test_srgb_to_lab_rejects_non_uint8():
    with pytest.raises(ValueError, match="uint8"):
        srgb_to_lab(np.zeros((4, 4, 3), float))


# --- ITA, categories, Fitzpatrick -------------------------------------------------------------------------------


@pytest.mark.parametrize("L,b", [(80, 10), (70, 15), (60, 18), (50, 20), (40, 18), (28, 12)])
def test_ita_of_uniform_patches(L, b):
    lab = patch(L, 9.0, b)  # 8-bit quantisation moves L*, b* by up to ~0.3
    ita = ita_deg(lab, np.ones(lab.shape[:2], bool))
    assert ita == pytest.approx(np.degrees(np.arctan2(lab[0, 0, 0] - 50, lab[0, 0, 2])), abs=1e-4)
    assert ita == pytest.approx(np.degrees(np.arctan2(L - 50, b)), abs=1.0)


def test_ita_ignores_glare_and_the_brightest_pixels():
    lab = patch(60, 9.0, 18.0, n=100)
    lab[:2, :] = (99.0, 0.0, 0.0)  # saturated glare: 2 %
    lab[2:6, :] = (80.0, 4.0, 8.0)  # unsaturated highlight: 4 %
    clean = np.degrees(np.arctan2(lab[50, 50, 0] - 50, lab[50, 50, 2]))
    assert ita_deg(lab, np.ones((100, 100), bool)) == pytest.approx(clean, abs=1e-4)


def test_ita_needs_enough_pixels():
    lab = patch(60, 9.0, 18.0)
    mask = np.zeros(lab.shape[:2], bool)
    mask[:5, :5] = True
    with pytest.raises(ValueError, match="too few skin pixels"):
        ita_deg(lab, mask)
    with pytest.raises(ValueError, match="mask must be a bool array"):
        ita_deg(lab, np.ones((3, 3), bool))


@pytest.mark.parametrize("ita,category,fitz", [
    (70, "very light", "I"), (55.01, "very light", "I"), (55, "light", "II"), (41.01, "light", "II"),
    (41, "intermediate", "III"), (28.01, "intermediate", "III"), (28, "tan", "IV"), (10.01, "tan", "IV"),
    (10, "brown", "V"), (-29.99, "brown", "V"), (-30, "dark", "VI"), (-80, "dark", "VI"),
])
def test_chardon_categories_and_fitzpatrick(ita, category, fitz):
    assert ita_category(ita) == category
    assert fitzpatrick_from_ita(ita) == fitz


def test_category_rejects_nan():
    with pytest.raises(ValueError, match="finite"):
        ita_category(float("nan"))


def test_reported_fitzpatrick_wins_and_is_validated():
    assert skin_tone(60.0, "V") == SkinTone(60.0, "very light", "V", "reported")
    assert skin_tone(60.0, " iv ").fitzpatrick == "IV"
    assert skin_tone(None, "II") == SkinTone(None, None, "II", "reported")
    assert skin_tone(-40.0, None) == SkinTone(-40.0, "dark", "VI", "estimated")
    for bad in ("VII", "4", "", 4):
        with pytest.raises(ValueError, match="must be one of I, II"):
            skin_tone(30.0, bad)
    with pytest.raises(ValueError, match="need a measured ITA"):
        skin_tone(None, None)


# --- skin pixels ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tone", [LIGHT, DARK], ids=["light", "dark"])
def test_skin_pixels_keep_skin_and_drop_hair_glare_background(tone):
    rgb, m = fake_face(tone)
    skin = skin_pixels(rgb, m["cheeks"])
    assert skin.dtype == bool and skin.shape == rgb.shape[:2]
    assert skin[m["skin"]].mean() > 0.97
    assert skin[m["hair"]].mean() < 0.03
    assert not skin[m["glare"]].any()
    assert skin[m["background"]].mean() < 0.01


@pytest.mark.parametrize("tone", [LIGHT, DARK], ids=["light", "dark"])
@pytest.mark.parametrize("dL,db", [(-5, 2), (-10, 3), (-15, 5)])
def test_skin_pixels_keep_pih_macules(tone, dL, db):
    rgb, m = fake_face(tone)
    out, macules, _ = add_macules(rgb, fake_anchors(), np.random.default_rng(3), count=4,
                                  radius_ipd=(0.1, 0.16), delta_L=dL, delta_b=db)
    assert macules.sum() > 300
    assert skin_pixels(out, m["cheeks"])[macules].mean() > 0.98


@pytest.mark.parametrize("tone", [LIGHT, DARK], ids=["light", "dark"])
def test_skin_pixels_keep_wrinkles(tone):
    rgb, m = fake_face(tone)
    out, lines = render_wrinkles(rgb, sample_wrinkles(fake_anchors(), 1.0, np.random.default_rng(4)))
    lines &= m["skin"]
    assert lines.sum() > 200
    assert skin_pixels(out, m["cheeks"])[lines].mean() > 0.97


@pytest.mark.parametrize("seed", range(4))
def test_skin_pixels_within_a_mask_equals_the_full_frame_result_inside_it(seed):
    """``within`` only saves work: inside it the answer is the full frame's, outside it False (with or without lab)."""
    rgb, m = fake_face(LIGHT if seed % 2 else DARK)
    rng = np.random.default_rng(seed)
    within = np.zeros(rgb.shape[:2], bool)
    y0, x0 = rng.integers(0, rgb.shape[0] // 2), rng.integers(0, rgb.shape[1] // 2)
    within[y0:y0 + rng.integers(5, rgb.shape[0] // 2), x0:x0 + rng.integers(5, rgb.shape[1] // 2)] = True
    within &= rng.uniform(size=within.shape) < 0.8  # ragged, not just a box
    full = skin_pixels(rgb, m["cheeks"])
    for lab in (None, srgb_to_lab(rgb)):
        got = skin_pixels(rgb, m["cheeks"], lab=lab, within=within)
        np.testing.assert_array_equal(got, full & within)
    with pytest.raises(ValueError, match="within must be a bool array"):
        skin_pixels(rgb, m["cheeks"], within=within[1:])


def test_skin_pixels_validates_the_seed():
    rgb, m = fake_face(LIGHT)
    with pytest.raises(ValueError, match="seed_mask has 0 unsaturated pixels"):
        skin_pixels(rgb, np.zeros(rgb.shape[:2], bool))
    with pytest.raises(ValueError, match="no chroma"):
        skin_pixels(rgb, m["background"])
    with pytest.raises(ValueError, match="seed_mask must be a bool array"):
        skin_pixels(rgb, m["cheeks"].astype(np.uint8))


# --- illumination -----------------------------------------------------------------------------------------------


def delta_e(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.linalg.norm(srgb_to_lab(a)[mask] - srgb_to_lab(b)[mask], axis=1)


@pytest.mark.parametrize("tone", [LIGHT, DARK], ids=["light", "dark"])
@pytest.mark.parametrize("stops,wb", [(0.5, (1.08, 1.0, 0.92)), (-0.5, (0.92, 1.0, 1.08)), (0.3, (1.0, 0.94, 1.05))])
def test_normalise_illumination_recovers_exposure_and_white_balance(tone, stops, wb):
    before, m = fake_face(tone)
    after = change_lighting(before, exposure_stops=stops, white_balance=wb)
    fit_mask = m["skin"] | m["background"]
    assert np.median(delta_e(after, before, m["skin"])) > 2.5  # the change is visible …
    corrected, fit = normalise_illumination(before, after, fit_mask, face_mask=m["skin"])
    assert corrected.dtype == np.uint8 and corrected.shape == before.shape
    dE = delta_e(corrected, before, m["skin"])
    assert np.median(dE) < 0.5 and np.percentile(dE, 95) < 1.0  # … and undone
    assert fit.correctable and fit.reason == ""
    assert fit.exposure_stops == pytest.approx(-stops - np.log2(np.dot([0.2127, 0.7152, 0.0722], wb)), abs=0.03)
    np.testing.assert_allclose(fit.gains * 2.0**stops * np.array(wb), 1.0, atol=0.03)
    np.testing.assert_allclose(fit.gammas, 1.0, atol=0.02)
    assert fit.residual_delta_e < 0.5 and fit.nonuniformity < 0.03


def test_normalise_illumination_undoes_a_tone_change():
    before, m = fake_face(LIGHT)
    after = change_lighting(before, exposure_stops=0.2, white_balance=(1.05, 1.0, 0.95), gamma=1.12)
    corrected, fit = normalise_illumination(before, after, m["skin"] | m["background"])
    assert fit.correctable and np.median(delta_e(corrected, before, m["skin"])) < 0.5
    _, gain_only = normalise_illumination(before, after, m["skin"] | m["background"], fit_gamma=False)
    np.testing.assert_array_equal(gain_only.gammas, 1.0)


@pytest.mark.parametrize("tone", [LIGHT, DARK], ids=["light", "dark"])
def test_normalise_illumination_preserves_a_local_macule(tone):
    before, m = fake_face(tone)
    treated, macules, _ = add_macules(before, fake_anchors(), np.random.default_rng(5), count=3,
                                      radius_ipd=(0.1, 0.16), delta_L=-8.0, delta_b=3.0)
    expected = srgb_to_lab(treated)[macules, 0] - srgb_to_lab(before)[macules, 0]
    after = change_lighting(treated, exposure_stops=-0.4, white_balance=(0.94, 1.0, 1.07))
    corrected, fit = normalise_illumination(before, after, m["skin"] | m["background"], face_mask=m["skin"])
    assert fit.correctable
    lab_c, lab_b = srgb_to_lab(corrected), srgb_to_lab(before)
    assert np.mean(lab_c[macules, 0] - lab_b[macules, 0]) == pytest.approx(expected.mean(), abs=1.0)
    assert expected.mean() < -5.0
    rest = m["skin"] & ~cv2.dilate(macules.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    d = lab_c[rest] - lab_b[rest]
    assert abs(np.median(d[:, 0])) < 0.3 and abs(np.median(d[:, 2])) < 0.3


def test_normalise_illumination_flags_side_lighting():
    before, m = fake_face(LIGHT)
    xs = np.clip((np.arange(SIZE) - 60) / 200 * 2 - 1, -1, 1)  # -1 … 1 across the face
    after = linear_to_srgb(srgb_to_linear(before) * (1 + 0.25 * xs)[None, :, None])
    _, fit = normalise_illumination(before, after, m["skin"] | m["background"], face_mask=m["skin"])
    assert not fit.correctable and "non-uniform lighting" in fit.reason and fit.nonuniformity > 0.15
    even = change_lighting(before, exposure_stops=0.3)
    assert normalise_illumination(before, even, m["skin"] | m["background"], face_mask=m["skin"])[1].correctable


def test_normalise_illumination_flags_implausible_changes():
    before, m = fake_face(LIGHT)
    fit_mask = m["skin"] | m["background"]
    _, fit = normalise_illumination(before, change_lighting(before, exposure_stops=-2.5), fit_mask)
    assert not fit.correctable and "exposure differs by +2.4" in fit.reason
    _, fit = normalise_illumination(before, change_lighting(before, white_balance=(1.25, 1.0, 0.8)), fit_mask)
    assert not fit.correctable and "white balance differs" in fit.reason


def test_normalise_illumination_without_usable_pixels_changes_nothing():
    before, m = fake_face(LIGHT)
    after = change_lighting(before, exposure_stops=0.3)
    corrected, fit = normalise_illumination(before, after, m["skin"], valid=np.zeros(before.shape[:2], bool))
    assert not fit.correctable and "usable fit pixels" in fit.reason
    np.testing.assert_array_equal(corrected, after)


def test_normalise_illumination_checks_shapes():
    before, m = fake_face(LIGHT)
    with pytest.raises(ValueError, match="same shape"):
        normalise_illumination(before, before[:-1], m["skin"])
    with pytest.raises(ValueError, match="fit_mask must be a bool array"):
        normalise_illumination(before, before, m["skin"][:-1])
