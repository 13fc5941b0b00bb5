"""Registration on synthetic textures and landmark clouds (no face detector involved)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcomes.align import _scale_matrix, apply_homography, register, warp_to_before
from outcomes.config import AlignmentConfig
from outcomes.landmarks import FACE_OVAL, LEFT_EYE_CONTOUR, LIPS_OUTER, MESH_ANCHOR_INDEX, RIGHT_EYE_CONTOUR
from outcomes.types import HeadPose, Landmarks

SIZE = 400


def _texture(seed: int) -> np.ndarray:
    """Smooth random RGB texture with skin-like low contrast, (SIZE, SIZE, 3) uint8."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(SIZE, SIZE, 3)).astype(np.float32)
    img = sum(cv2.GaussianBlur(noise, (0, 0), s) * s for s in (1.5, 4.0, 10.0))
    img = (img - img.mean()) / img.std() * 25 + np.array([190, 140, 120], np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _landmarks(points: np.ndarray, size: int = SIZE) -> Landmarks:
    anchors = {k: points[i].copy() for k, i in MESH_ANCHOR_INDEX.items()}
    return Landmarks(
        points=points, depth=np.zeros(len(points)), scheme="synthetic", anchors=anchors,
        pose=HeadPose(0.0, 0.0, 0.0), faces_found=1, face_box=(0.0, 0.0, size, size),
        image_size=(size, size),
    )


def _face_cloud(seed: int) -> np.ndarray:
    """478 points laid out like a face: oval, eyes, lips, pupils; the rest scattered inside."""
    rng = np.random.default_rng(seed)
    c = np.array([SIZE / 2, SIZE / 2])
    pts = c + rng.uniform(-90, 90, size=(478, 2))

    def ring(indices, centre, radius):
        t = np.linspace(0, 2 * np.pi, len(indices), endpoint=False)
        pts[list(indices)] = np.c_[np.cos(t), np.sin(t) * 1.2] * radius + centre

    ring(FACE_OVAL, c, 130)
    ring(RIGHT_EYE_CONTOUR, c + [-50, -40], 15)
    ring(LEFT_EYE_CONTOUR, c + [50, -40], 15)
    ring(LIPS_OUTER, c + [0, 70], 25)
    pts[MESH_ANCHOR_INDEX["right_pupil"]] = c + [-50, -40]
    pts[MESH_ANCHOR_INDEX["left_pupil"]] = c + [50, -40]
    return pts


def _known_pair(seed: int, angle: float, scale: float, shift: tuple[float, float]):
    before = _texture(seed)
    m = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), angle, scale)
    m[:, 2] += shift
    g = np.vstack([m, [0, 0, 1]])  # BEFORE pixel → AFTER pixel
    after = cv2.warpPerspective(before, g, (SIZE, SIZE), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    pts_b = _face_cloud(seed)
    noise = np.random.default_rng(seed + 1).normal(scale=1.0, size=pts_b.shape)  # landmark jitter
    pts_a = apply_homography(g, pts_b) + noise
    return before, after, _landmarks(pts_b), _landmarks(pts_a), g


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(-50, 50), min_size=6, max_size=6),
    st.lists(st.floats(-200, 200), min_size=4, max_size=4),
)
def test_apply_homography_inverse_roundtrip(coeffs, flat_points):
    h = np.eye(3)
    h[:2, :] += np.array(coeffs).reshape(2, 3) * np.array([0.005, 0.005, 1.0])
    pts = np.array(flat_points).reshape(2, 2)
    back = apply_homography(np.linalg.inv(h), apply_homography(h, pts))
    np.testing.assert_allclose(back, pts, atol=1e-6)


def test_scale_matrix_follows_cv2_resize_convention():
    img = np.zeros((100, 120), np.float32)
    img[40, 70] = 1.0
    img = cv2.GaussianBlur(img, (0, 0), 3)
    offset = np.array([10.0, 20.0])
    crop = img[20:, 10:]
    small = cv2.resize(crop, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    ys, xs = np.mgrid[: small.shape[0], : small.shape[1]]
    centroid = np.array([(xs * small).sum(), (ys * small).sum()]) / small.sum()
    expected = apply_homography(_scale_matrix(0.5, offset), np.array([[70.0, 40.0]]))[0]
    np.testing.assert_allclose(centroid, expected, atol=0.05)


@pytest.mark.parametrize("seed,angle,scale,shift", [(0, 6.0, 1.08, (12.0, -7.0)), (1, -7.5, 0.9, (-15.0, 9.0))])
def test_register_recovers_known_similarity_to_subpixel(seed, angle, scale, shift):
    before, after, lb, la, g = _known_pair(seed, angle, scale, shift)
    reg = register(before, lb, after, la, AlignmentConfig(local=False))
    probe = np.array([[150.0, 150.0], [250.0, 180.0], [200.0, 260.0]])
    err = np.linalg.norm(apply_homography(reg.after_to_before, apply_homography(g, probe)) - probe, axis=1)
    assert err.max() < 0.1, f"registration error {err} px"
    assert "refinement_rejected" not in reg.qc_flags and "refinement_failed" not in reg.qc_flags


def test_refinement_beats_landmarks_alone():
    before, after, lb, la, g = _known_pair(3, 5.0, 1.05, (5.0, 5.0))
    probe = np.array([[150.0, 150.0], [250.0, 250.0]])

    def error(cfg):
        reg = register(before, lb, after, la, cfg)
        return np.linalg.norm(apply_homography(reg.after_to_before, apply_homography(g, probe)) - probe, axis=1).max()

    assert error(AlignmentConfig(local=False)) < 0.25 * error(AlignmentConfig(local=False, refine=False))


def test_identical_photos_give_identity_and_flat_local_flow():
    before, _, lb, _, _ = _known_pair(4, 0.0, 1.0, (0.0, 0.0))
    reg = register(before, lb, before, lb, AlignmentConfig())
    np.testing.assert_allclose(reg.after_to_before, np.eye(3), atol=1e-3)
    assert reg.local_max_px < 0.3
    assert reg.ok and reg.residual_px < 1e-6


def test_local_correction_is_bounded_by_config():
    before, after, lb, la, _ = _known_pair(5, 0.0, 1.0, (0.0, 0.0))
    # A smooth bump displacement the global model cannot explain.
    ys, xs = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    bump = 12.0 * np.exp(-((xs - 200) ** 2 + (ys - 200) ** 2) / (2 * 40.0**2))
    bent = cv2.remap(before, xs + bump, ys, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    cfg = AlignmentConfig(local_max_rel_ipd=0.05)
    reg = register(before, lb, bent, lb, cfg)
    limit = cfg.local_max_rel_ipd * lb.inter_pupil_distance
    assert 0.5 * limit < reg.local_max_px <= limit + 1e-3


def test_pose_change_beyond_threshold_makes_pair_unusable():
    before, after, lb, la, _ = _known_pair(6, 0.0, 1.0, (0.0, 0.0))
    turned = dataclasses.replace(la, pose=HeadPose(yaw=12.0, pitch=0.0, roll=0.0))
    reg = register(before, lb, after, turned, AlignmentConfig(local=False))
    assert not reg.ok and "pose_change_yaw" in reg.qc_flags


def test_face_out_of_frame_is_flagged():
    before, after, lb, la, _ = _known_pair(7, 0.0, 1.0, (0.0, 0.0))
    # AFTER is the left 60 % of the scene: BEFORE's face falls partly outside it.
    cropped = np.ascontiguousarray(after[:, : int(SIZE * 0.6)])
    la_cropped = dataclasses.replace(la, image_size=(cropped.shape[1], cropped.shape[0]))
    reg = register(before, lb, cropped, la_cropped, AlignmentConfig(local=False, refine=False))
    assert not reg.ok and "face_partly_out_of_frame" in reg.qc_flags


def test_warp_to_before_matches_inverse_mapping():
    before, after, lb, la, g = _known_pair(8, 4.0, 1.1, (6.0, -4.0))
    reg = register(before, lb, after, la, AlignmentConfig(local=False))
    warped, valid = warp_to_before(after, reg, (SIZE, SIZE))
    inner = np.zeros((SIZE, SIZE), bool)
    inner[100:300, 100:300] = True
    assert valid[inner].all()
    diff = np.abs(warped[inner].astype(float) - before[inner].astype(float))
    assert diff.mean() < 2.0
