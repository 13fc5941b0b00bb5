"""Region masks and laxity features on synthetic faces (no detector involved)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from outcomes.features.laxity import fold_depth, jowl_bulge, laxity_features
from outcomes.landmarks import frontal_template
from outcomes.regions import REGION_NAMES, region_masks
from outcomes.types import HeadPose, Landmarks
from outcomes.landmarks import MESH_ANCHOR_INDEX

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
    start, end = np.array([100.0, 40.0]), np.array([100.0, 160.0])
    assert fold_depth(lum, start, end, ipd=100) == pytest.approx(0.0, abs=1e-6)
    depths = []
    for valley in (3.0, 6.0, 12.0):
        shaded = lum.copy()
        shaded[:, 95:105] -= valley
        shaded = cv2.GaussianBlur(shaded, (0, 0), 2)
        depths.append(fold_depth(shaded, start, end, ipd=100))
    assert depths[0] < depths[1] < depths[2]


def test_fold_depth_does_not_depend_on_fine_texture_blur_or_noise():
    """A fold is a valley millimetres wide: pores, focus and sensor noise must not move its depth."""
    rng = np.random.default_rng(0)
    ipd = 200
    lum = np.full((400, 400), 60.0, np.float32)
    lum[:, 190:210] -= 6.0
    lum = cv2.GaussianBlur(lum, (0, 0), 5)
    textured = lum + cv2.GaussianBlur(rng.normal(0, 3, lum.shape).astype(np.float32), (0, 0), 0.8)
    start, end = np.array([200.0, 60.0]), np.array([200.0, 340.0])
    reference = fold_depth(textured, start, end, ipd=ipd)
    softer = fold_depth(cv2.GaussianBlur(textured, (0, 0), 1.2), start, end, ipd=ipd)
    noisy = fold_depth(textured + rng.normal(0, 2, lum.shape).astype(np.float32), start, end, ipd=ipd)
    assert reference > 5
    assert softer == pytest.approx(reference, rel=0.05) and noisy == pytest.approx(reference, rel=0.05)


def test_jowl_bulge_grows_when_the_jaw_contour_sags_outwards():
    lm = _face()
    base = jowl_bulge(lm, "right")
    from outcomes.regions import JAW_RIGHT

    pts = lm.points.copy()
    mid = list(JAW_RIGHT)[2:6]
    pts[mid] += [-8.0, 6.0]  # outwards (image left) and down
    sagged = dataclasses.replace(lm, points=pts)
    assert jowl_bulge(sagged, "right") > base


def test_laxity_covers_jaw_and_folds_with_confidence():
    lm = _face()
    lum = np.full((SIZE, SIZE), 60.0, np.float32)
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
