"""Region masks and laxity features on synthetic faces (no detector involved)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from outcomes.features.jawline import jaw_bulge, jaw_contour, jaw_profiles, jowl_change
from outcomes.features.laxity import (
    fold_bands,
    fold_depth,
    fold_lines,
    jawline_baseline,
    jawline_follow_up,
    laxity_features,
    lightness_to_luminance,
)
from outcomes.landmarks import MESH_ANCHOR_INDEX, frontal_template
from outcomes.regions import REGION_NAMES, region_masks
from outcomes.types import HeadPose, Landmarks

SIZE = 600


def _face(scale: float = 1.0, angle: float = 0.0) -> Landmarks:
    """A plausible mesh: the frontal template, placed and sized like a photo's face."""
    t = frontal_template().astype(np.float64)[:, :2]
    ipd = np.linalg.norm(t[473] - t[468])
    theta = np.radians(angle)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    pts = (t - t.mean(axis=0)) / ipd * 120 * scale @ rot.T + [SIZE / 2, SIZE / 2]
    return Landmarks(
        points=pts, depth=np.zeros(478), scheme="test", anchors={k: pts[i] for k, i in MESH_ANCHOR_INDEX.items()},
        pose=HeadPose(0.0, 0.0, 0.0), faces_found=1, face_box=(0.0, 0.0, SIZE, SIZE), image_size=(SIZE, SIZE),
    )


def test_regions_are_disjoint_named_and_on_the_right_side():
    lm = _face()
    r = region_masks(lm, (SIZE, SIZE))
    assert set(r.masks) == set(REGION_NAMES) and not r.omitted
    total = np.sum([m.astype(int) for m in r.masks.values()], axis=0)
    assert total.max() == 1  # no pixel in two regions
    centre_x = lambda m: np.nonzero(m)[1].mean()  # noqa: E731
    # Subject's right is on the image's left.
    for pair in ("crows_feet", "cheek", "nasolabial", "marionette", "jawline", "under_eye"):
        assert centre_x(r.masks[f"{pair}_right"]) < SIZE / 2 < centre_x(r.masks[f"{pair}_left"])
    assert r.mm_per_px == pytest.approx(63.0 / lm.inter_pupil_distance)


def test_regions_scale_and_rotate_with_the_face():
    small = region_masks(_face(0.5), (SIZE, SIZE)).masks["forehead"].sum()
    big = region_masks(_face(1.0), (SIZE, SIZE)).masks["forehead"].sum()
    assert big / small == pytest.approx(4.0, rel=0.15)
    tilted = region_masks(_face(1.0, 20.0), (SIZE, SIZE)).masks
    assert set(tilted) == set(REGION_NAMES)


def test_hidden_region_is_omitted_with_a_reason():
    lm = _face()
    skin = np.ones((SIZE, SIZE), bool)
    skin[: int(lm.anchors["right_pupil"][1]) - 20] = False  # hair over the whole upper face
    r = region_masks(lm, (SIZE, SIZE), skin)
    assert "forehead" not in r.masks and "mostly hidden" in r.omitted["forehead"]
    assert "chin" in r.masks


def test_fold_depth_grows_with_a_darker_valley():
    lum = np.full((200, 200), 60.0, np.float32)
    line, inside = np.array([[100.0, 40.0], [100.0, 160.0]]), np.array([0.0, 100.0])
    assert fold_depth(lum, line, 100, inside) == pytest.approx(0.0, abs=1e-6)
    depths = []
    for valley in (3.0, 6.0, 12.0):
        shaded = lum.copy()
        shaded[:, 95:105] -= valley
        shaded = cv2.GaussianBlur(shaded, (0, 0), 2)
        depths.append(fold_depth(shaded, line, 100, inside))
    assert depths[0] < depths[1] < depths[2]


def test_fold_depth_does_not_depend_on_fine_texture_blur_or_noise():
    """A fold is a valley millimetres wide: pores, focus and sensor noise must not move its depth."""
    rng = np.random.default_rng(0)
    ipd = 200
    lum = np.full((400, 400), 60.0, np.float32)
    lum[:, 190:210] -= 6.0
    lum = cv2.GaussianBlur(lum, (0, 0), 5)
    textured = lum + cv2.GaussianBlur(rng.normal(0, 3, lum.shape).astype(np.float32), (0, 0), 0.8)
    line, inside = np.array([[200.0, 60.0], [200.0, 340.0]]), np.array([0.0, 200.0])
    reference = fold_depth(textured, line, ipd, inside)
    softer = fold_depth(cv2.GaussianBlur(textured, (0, 0), 1.2), line, ipd, inside)
    noisy = fold_depth(textured + rng.normal(0, 2, lum.shape).astype(np.float32), line, ipd, inside)
    assert reference > 5
    assert softer == pytest.approx(reference, rel=0.05) and noisy == pytest.approx(reference, rel=0.05)


def _lit_face(lm: Landmarks, contrast: float = 20.0, sag_px: float = 0.0, shift_px: float = 0.0) -> np.ndarray:
    """L* image: the face oval lit (60 + contrast) over a darker neck and background (60),
    its right jaw bowed out by ``sag_px`` between the jaw angle and the chin."""
    from outcomes.landmarks import FACE_OVAL

    oval = lm.points[list(FACE_OVAL)].copy()
    if sag_px:
        contour = jaw_contour(lm, "right")
        mouth = (lm.anchors["mouth_right"] + lm.anchors["mouth_left"]) / 2
        for i, p in enumerate(oval):
            distance = np.linalg.norm(contour - p, axis=1)
            k = int(distance.argmin())
            if distance[k] < 1.0 and 1 <= k <= len(contour) - 2:  # inner contour points only
                outward = (p - mouth) / np.linalg.norm(p - mouth)
                oval[i] = p + sag_px * np.sin(np.pi * k / (len(contour) - 1)) * outward
    lum = np.full((SIZE, SIZE), 60.0, np.float32)
    cv2.fillPoly(lum, [np.round((oval + [0, shift_px]) * 16).astype(np.int32)], 60.0 + contrast, cv2.LINE_AA, shift=4)
    return cv2.GaussianBlur(lum, (0, 0), 2.0)


def _profiles(lm: Landmarks, lum: np.ndarray):  # noqa: ANN202
    mouth = (lm.anchors["mouth_right"] + lm.anchors["mouth_left"]) / 2
    return jaw_profiles(lum, jaw_contour(lm, "right"), mouth, lm.inter_pupil_distance)


def test_jaw_edge_bulges_when_the_jaw_contour_sags_outwards():
    lm = _face()
    ipd = lm.inter_pupil_distance
    base, contrast = jaw_bulge(_profiles(lm, _lit_face(lm)))
    sagged, _ = jaw_bulge(_profiles(lm, _lit_face(lm, sag_px=0.05 * ipd)))
    # The bow is read from the image's edge, not from the landmarks (unchanged here);
    # over the jowl span the rendered bow averages about 0.8 of its peak.
    assert sagged - base == pytest.approx(0.05 * 0.8, abs=0.012)
    assert contrast > 10


def test_jaw_edge_ignores_a_shift_of_the_whole_contour_and_loses_support_without_contrast():
    lm = _face()
    base, contrast = jaw_bulge(_profiles(lm, _lit_face(lm)))
    moved, _ = jaw_bulge(_profiles(lm, _lit_face(lm, shift_px=0.03 * lm.inter_pupil_distance)))
    # Read from the edge's own chord: a 0.03 IPD shift leaves well under a fifth of it.
    assert moved == pytest.approx(base, abs=0.006)
    _, faint = jaw_bulge(_profiles(lm, _lit_face(lm, contrast=2.0)))
    assert faint < 0.2 * contrast


def test_jowl_change_follows_the_contour_not_the_lighting_or_a_shift():
    lm = _face()
    ipd = lm.inter_pupil_distance
    baseline = _profiles(lm, _lit_face(lm, sag_px=0.06 * ipd))
    tightened = jowl_change(baseline, _profiles(lm, _lit_face(lm, sag_px=0.02 * ipd)))
    # The bow here is a half sine over the whole contour: over the jowl span, measured from
    # the medians of the contour's first and last fifths, it moves about 0.55 of its peak.
    assert tightened.inward_ipd == pytest.approx(0.04 * 0.55, abs=0.008) and tightened.match > 0.9
    worse = jowl_change(baseline, _profiles(lm, _lit_face(lm, sag_px=0.09 * ipd)))
    assert worse.inward_ipd < -0.015
    # Brighter, lower-contrast light and a whole-contour shift are not a jowl change.
    relit = 0.7 * _lit_face(lm, sag_px=0.06 * ipd, shift_px=0.02 * ipd) + 12
    assert abs(jowl_change(baseline, _profiles(lm, relit)).inward_ipd) < 0.006


def test_a_follow_up_jawline_is_read_in_its_own_frame():
    """Profiles are placed by the baseline's contour carried through the registration."""
    lm = _face()
    ipd = lm.inter_pupil_distance
    lum_b = _lit_face(lm, sag_px=0.06 * ipd)
    values, profiles = jawline_baseline(lm, lum_b)
    # The follow-up: tightened, photographed 10 % larger and shifted.
    zoom = np.array([[1.1, 0.0, -20.0], [0.0, 1.1, -35.0], [0.0, 0.0, 1.0]])
    lum_a = cv2.warpAffine(_lit_face(lm, sag_px=0.02 * ipd), zoom[:2], (SIZE, SIZE), flags=cv2.INTER_LINEAR)
    rgb_a = np.repeat(np.clip(lum_a * 2.55, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    after = jawline_follow_up(lm, rgb_a, lm, profiles, values, zoom)
    moved = values["jawline_right"].value - after["jawline_right"].value
    assert moved == pytest.approx(4.0 * 0.55, abs=0.9)  # % IPD (see the test above)
    assert after["jawline_right"].confidence > 0.5


def test_fold_depth_is_the_fraction_of_light_removed_on_any_skin_tone():
    """The same shading (20 % of the light at the crease) reads the same on light and dark skin."""
    ipd = 200
    x = np.arange(400, dtype=np.float64) - 200
    shading = 1.0 - 0.2 * np.exp(-0.5 * (x / 8.0) ** 2)
    line, inside = np.array([[200.0, 60.0], [200.0, 340.0]]), np.array([0.0, 200.0])
    depths = []
    for skin_luminance in (0.45, 0.05):  # L* about 73 and 27
        y = np.tile(skin_luminance * shading, (400, 1))
        lightness = np.where(y > 0.008856, 116 * np.cbrt(y) - 16, 903.3 * y).astype(np.float32)
        assert lightness_to_luminance(lightness) == pytest.approx(y, rel=1e-4)
        depths.append(fold_depth(lightness, line, ipd, inside))
    assert depths[0] == pytest.approx(depths[1], rel=0.02)
    # The band over the crease (-0.02 … +0.08 IPD = -4 … +16 px) averages the valley:
    expected = 100 * (1 - shading[196:217].mean())
    assert depths[0] == pytest.approx(expected, rel=0.1)


def test_fold_depth_ignores_what_lies_on_the_midline_side_of_the_fold():
    """A moustache or the lip's edge beside a nasolabial fold is not the fold."""
    lum = np.full((200, 200), 60.0, np.float32)
    line, inside = np.array([[100.0, 40.0], [100.0, 160.0]]), np.array([0.0, 100.0])
    shaded = lum.copy()
    shaded[:, 90:102] -= 6.0
    shaded = cv2.GaussianBlur(shaded, (0, 0), 2)
    with_moustache = shaded.copy()
    with_moustache[:, 60:92] = 35.0
    assert fold_depth(with_moustache, line, 100, inside) == pytest.approx(fold_depth(shaded, line, 100, inside),
                                                                          rel=0.15)


def test_laxity_covers_jaw_and_folds_with_confidence():
    lm = _face()
    lum = _lit_face(lm)
    values = laxity_features(lm, lum)
    assert set(values) == {"jawline_right", "jawline_left", "nasolabial_right", "nasolabial_left",
                           "marionette_right", "marionette_left"}
    assert all(0.0 <= v.confidence <= 1.0 for v in values.values())
    turned = dataclasses.replace(lm, pose=HeadPose(15.0, 0.0, 0.0))
    assert laxity_features(turned, lum)["jawline_right"].confidence < values["jawline_right"].confidence


def test_face_masks_nest_and_the_ring_lies_outside_the_face():
    from outcomes.face_analysis import face_masks

    lm = _face(scale=0.8)
    m = face_masks(lm, (SIZE, SIZE))
    regions = region_masks(lm, (SIZE, SIZE)).masks
    assert all(a.shape == (SIZE, SIZE) and a.dtype == bool for a in (m.oval, m.ring, m.seed, m.face))
    assert not (m.oval & ~m.face).any() and not (m.seed & ~m.face).any()
    assert all(not (r & ~m.face).any() for r in regions.values())
    assert m.seed.any() and not (m.ring & m.oval).any()
    ipd = lm.inter_pupil_distance
    import cv2

    distance = cv2.distanceTransform((~m.oval).astype(np.uint8), cv2.DIST_L2, 3)
    assert distance[m.ring].min() > 0.6 * ipd - 1 and distance[m.ring].max() < 1.2 * ipd + 1
    with pytest.raises(ValueError, match=r"\(H, W\)"):
        face_masks(lm, (SIZE, SIZE, 3))


def test_fold_bands_cover_the_named_folds_and_the_cheek_beside_them():
    lm = _face()
    ipd = lm.inter_pupil_distance
    band = fold_bands(lm, (SIZE, SIZE), ["nasolabial_right"])
    line = fold_lines(lm)["nasolabial_right"]
    middle = line[1].astype(int)
    assert band[middle[1], middle[0]]
    # Lateral (the image's left for the subject's right) 0.08 IPD is inside, 0.2 IPD is not.
    assert band[middle[1], int(middle[0] - 0.08 * ipd)] and not band[middle[1], int(middle[0] - 0.2 * ipd)]
    assert not band[:, SIZE // 2:].any()  # nothing on the other side
    assert not fold_bands(lm, (SIZE, SIZE), []).any()


def test_fold_confidence_falls_with_uneven_lighting():
    from outcomes.features.laxity import fold_features

    lm = _face()
    even = np.full((SIZE, SIZE), 60.0, np.float32)
    steady = fold_features(lm, even)["nasolabial_right"].confidence
    assert steady > 0.5
    assert fold_features(lm, even, lighting_support=0.5)["nasolabial_right"].confidence == pytest.approx(steady / 2)
    assert fold_features(lm, even, lighting_support=-0.3)["nasolabial_right"].confidence == 0.0


def test_a_jawline_loses_confidence_as_the_head_pose_differs_between_the_photos():
    """The contour lies behind the plane the registration aligns: a nod or turn moves it."""
    from outcomes.features.laxity import JAW_POSE_DIFFERENCE_DEG, pose_agreement

    lm = _face()
    lum = _lit_face(lm, sag_px=0.04 * lm.inter_pupil_distance)
    values, profiles = jawline_baseline(lm, lum)
    rgb = np.repeat(np.clip(lum * 2.55, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    confidences = []
    for pitch in (0.0, 3.0, JAW_POSE_DIFFERENCE_DEG):
        nodded = dataclasses.replace(lm, pose=HeadPose(0.0, pitch, 0.0))
        confidences.append(jawline_follow_up(nodded, rgb, lm, profiles, values, np.eye(3))["jawline_right"].confidence)
    assert confidences[0] > confidences[1] > confidences[2] == 0.0
    assert pose_agreement(lm, dataclasses.replace(lm, pose=HeadPose(-3.0, 0.0, 0.0))) == pytest.approx(
        1 - 3 / JAW_POSE_DIFFERENCE_DEG)
