"""Head pose from the mesh: known rotations of the frontal template are recovered."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from outcomes.landmarks import estimate_pose, frontal_template


@settings(max_examples=40, deadline=None)
@given(st.floats(-30, 30), st.floats(-30, 30), st.floats(-45, 45), st.floats(50, 400))
def test_pose_recovers_rotations_of_the_template(yaw, pitch, roll, size):
    template = frontal_template().astype(np.float64)
    # Image axes: x right, y down, z into the scene. Our yaw turns the nose to
    # the image's right (a negative rotation about +y), pitch raises the chin
    # (negative about +x), roll is clockwise as displayed (positive about +z).
    r = Rotation.from_euler("ZYX", [roll, -yaw, -pitch], degrees=True).as_matrix()
    pose = estimate_pose(template @ r.T * size + [600.0, 500.0, 0.0], template)
    np.testing.assert_allclose([pose.yaw, pose.pitch, pose.roll], [yaw, pitch, roll], atol=1e-6)


def test_template_is_centred_unit_size_and_frontal():
    t = frontal_template()
    assert t.shape == (478, 3)
    np.testing.assert_allclose(t.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(np.sqrt((t.astype(float) ** 2).sum() / len(t)), 1.0, atol=1e-4)
    # Subject's right eye (mesh 33) on the image's left; chin (152) below the nose tip (1).
    assert t[33, 0] < t[263, 0] and t[152, 1] > t[1, 1]
    pose = estimate_pose(t.astype(float), t.astype(float))
    assert max(abs(pose.yaw), abs(pose.pitch), abs(pose.roll)) < 1e-9


def test_nose_turning_right_is_positive_yaw():
    t = frontal_template().astype(np.float64)
    nose_tip = 1
    r = Rotation.from_euler("Y", -15, degrees=True).as_matrix()
    turned = t @ r.T
    assert turned[nose_tip, 0] > t[nose_tip, 0]  # the nose moved to the image's right
    assert estimate_pose(turned, t).yaw > 14


def test_mesh_anchor_table_names_every_contract_anchor_in_order():
    from outcomes.landmarks import MESH_ANCHOR_INDEX
    from outcomes.types import ANCHOR_NAMES

    assert tuple(MESH_ANCHOR_INDEX) == ANCHOR_NAMES
