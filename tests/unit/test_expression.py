"""Expression measures from the mesh, their change under repeat-photo noise, and moved regions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcomes.expression import (
    MEASURES,
    Expression,
    ExpressionNoise,
    compare_expressions,
    load_expression_noise,
    measure_expression,
    moved_regions,
)
from outcomes.landmarks import MESH_ANCHOR_INDEX, frontal_template
from outcomes.types import HeadPose, Landmarks


def mesh(points: np.ndarray) -> Landmarks:
    return Landmarks(points=points, depth=np.zeros(len(points)), scheme="mediapipe-478",
                     anchors={k: points[i].copy() for k, i in MESH_ANCHOR_INDEX.items()},
                     pose=HeadPose(0.0, 0.0, 0.0), faces_found=1, face_box=(0, 0, 1, 1), image_size=(800, 800))


def frontal(size: float = 300.0, centre=(400.0, 400.0)) -> np.ndarray:
    return frontal_template()[:, :2].astype(np.float64) * size + centre


def test_same_mesh_is_no_change():
    noise = load_expression_noise(0.006)
    e = measure_expression(mesh(frontal()))
    change = compare_expressions(e, e, noise, 4.5)
    assert change.distance == 0 and not change.changed
    assert set(change.changes) == set(MEASURES)


@settings(max_examples=30, deadline=None)
@given(st.floats(-40, 40), st.floats(0.3, 3.0), st.floats(-200, 200), st.floats(-200, 200))
def test_measures_do_not_depend_on_position_size_or_roll(roll_deg, scale, dx, dy):
    points = frontal()
    a = np.radians(roll_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    moved = (points - 400.0) @ rot.T * scale + [400.0 + dx, 400.0 + dy]
    np.testing.assert_allclose(measure_expression(mesh(moved)).as_vector(),
                               measure_expression(mesh(points)).as_vector(), atol=1e-9)


def test_a_smile_is_an_expression_change_that_names_the_mouth():
    points = frontal()
    ipd = np.linalg.norm(points[473] - points[468])
    smiling = points.copy()
    # Corners out and up by 0.05 IPD each, as in AU12.
    for index, side in ((61, -1), (78, -1), (62, -1), (291, 1), (308, 1), (292, 1)):
        smiling[index] += [side * 0.05 * ipd, -0.04 * ipd]
    change = compare_expressions(measure_expression(mesh(points)), measure_expression(mesh(smiling)),
                                 load_expression_noise(0.006), 4.5)
    assert change.changed and change.changes["mouth_width"] == pytest.approx(0.1, abs=1e-3)
    assert change.changes["corner_lift"] > 0.03
    assert "mouth wider" in change.main_changes
    assert "retake" in change.describe() and "4.5" in change.describe()


def test_a_change_within_repeat_noise_is_not_flagged():
    points = frontal()
    ipd = np.linalg.norm(points[473] - points[468])
    jittered = points + np.random.default_rng(0).normal(0, 0.002 * ipd, points.shape)
    change = compare_expressions(measure_expression(mesh(points)), measure_expression(mesh(jittered)),
                                 load_expression_noise(0.006), 4.5)
    assert not change.changed


def test_noise_floor_raises_small_sds_and_keeps_correlations():
    raw, floored = load_expression_noise(0.0), load_expression_noise(0.01)
    sd_raw, sd_floor = np.sqrt(np.diag(raw.covariance)), np.sqrt(np.diag(floored.covariance))
    np.testing.assert_allclose(sd_floor, np.maximum(sd_raw, 0.01))
    np.testing.assert_allclose(raw.covariance / np.outer(sd_raw, sd_raw),
                               floored.covariance / np.outer(sd_floor, sd_floor), atol=1e-12)
    assert "repeat photos" in raw.source


def test_noise_model_must_be_positive_definite():
    with pytest.raises(ValueError, match="positive-definite"):
        ExpressionNoise(np.zeros((6, 6)), "bad")


def test_measure_needs_the_478_point_mesh():
    with pytest.raises(ValueError, match="478-point"):
        measure_expression(Landmarks(points=np.zeros((10, 2)), depth=np.zeros(10), scheme="other", anchors={},
                                     pose=HeadPose(0.0, 0.0, 0.0), faces_found=1, face_box=(0, 0, 1, 1),
                                     image_size=(8, 8)))


def test_expression_vector_follows_the_measure_order():
    e = Expression(*range(6))
    assert list(e.as_vector()) == [getattr(e, m) for m in MEASURES]


def test_moved_regions_reports_only_regions_whose_points_moved():
    points = frontal()
    ipd = np.linalg.norm(points[473] - points[468])
    lower = np.zeros((800, 800), bool)
    lower[int(points[61, 1]) - 30:, :] = True  # the mouth and below
    upper = np.zeros((800, 800), bool)
    upper[:int(points[468, 1]), :] = True  # above the pupils
    moved = points.copy()
    below = points[:, 1] > points[61, 1] - 30
    moved[below, 1] -= 0.05 * ipd
    found = moved_regions(mesh(points), moved, {"lower": lower, "upper": upper}, 0.02)
    assert set(found) == {"lower"} and found["lower"] == pytest.approx(0.05, rel=1e-6)
    assert moved_regions(mesh(points), points, {"lower": lower, "upper": upper}, 0.02) == {}
