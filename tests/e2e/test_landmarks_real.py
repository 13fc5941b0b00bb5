"""Landmarks on real faces against hand-placed points (../shared/data)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from outcomes.io import photo_from_array, read_photo
from outcomes.simulate.templates import LONDON_ANCHOR_INDEX, RIGID_ANCHORS, read_tem
from outcomes.types import ANCHOR_NAMES

# Every sixth face: a spread of ages and ethnicities in a few seconds. The
# benchmark covers all 61.
SAMPLE = slice(0, None, 6)


def _london(shared_data):
    return sorted((shared_data / "london" / "neutral").glob("*.jpg"))[SAMPLE]


def test_anchor_error_against_hand_placed_points(shared_data, models):
    errors = []
    for path in _london(shared_data):
        tem = read_tem(path.with_suffix(".tem"))
        lm = models.landmarker.detect(read_photo(path))
        ipd = np.linalg.norm(tem[0] - tem[1])
        errors.append([np.linalg.norm(lm.anchors[n] - tem[LONDON_ANCHOR_INDEX[n]]) / ipd for n in ANCHOR_NAMES])
    errors = np.array(errors)
    rigid = errors[:, [ANCHOR_NAMES.index(n) for n in RIGID_ANCHORS]]
    assert np.median(errors) <= 0.035, f"median anchor error {np.median(errors):.4f} IPD"
    assert np.median(rigid) <= 0.020, f"median rigid-anchor error {np.median(rigid):.4f} IPD"


def test_frontal_photos_have_near_zero_pose_and_subject_sides(shared_data, models):
    for path in _london(shared_data)[:4]:
        lm = models.landmarker.detect(read_photo(path))
        assert max(abs(v) for v in lm.pose.as_dict().values()) < 10, lm.pose
        # Subject's right is on the image's left in an ordinary photo.
        assert lm.anchors["right_pupil"][0] < lm.anchors["left_pupil"][0]
        assert lm.anchors["mouth_right"][0] < lm.anchors["mouth_left"][0]
        assert lm.points.shape == (478, 2) and lm.faces_found == 1


def test_in_plane_rotation_shows_as_roll(shared_data, models):
    photo = read_photo(_london(shared_data)[1])
    base = models.landmarker.detect(photo).pose.roll
    m = cv2.getRotationMatrix2D((photo.width / 2, photo.height / 2), -12, 1.0)  # clockwise on screen
    turned = cv2.warpAffine(photo.pixels, m, (photo.width, photo.height), borderMode=cv2.BORDER_REPLICATE)
    roll = models.landmarker.detect(photo_from_array(turned)).pose.roll
    assert roll - base == pytest.approx(12, abs=2.5)


def test_small_off_centre_face_is_found(shared_data, models):
    """A face 1/10 of a 2400×1600 frame, near a corner: needs the full-range detector."""
    photo = read_photo(_london(shared_data)[2])
    small = cv2.resize(photo.pixels, (300, 300), interpolation=cv2.INTER_AREA)
    canvas = np.full((1600, 2400, 3), 120, np.uint8)
    canvas[1150:1450, 1900:2200] = small
    lm = models.landmarker.detect(photo_from_array(canvas))
    tem = read_tem(_london(shared_data)[2].with_suffix(".tem")) * (300 / 1350) + [1900, 1150]
    ipd = np.linalg.norm(tem[0] - tem[1])
    err = np.linalg.norm(lm.anchors["right_pupil"] - tem[0]) / ipd
    assert err < 0.08


def test_two_faces_take_the_larger_and_flag_it(shared_data, models):
    faces = _london(shared_data)
    big = read_photo(faces[0]).pixels
    little = cv2.resize(read_photo(faces[3]).pixels, (700, 700), interpolation=cv2.INTER_AREA)
    canvas = np.full((1350, 2100, 3), 120, np.uint8)
    canvas[:, :1350] = big
    canvas[300:1000, 1380:2080] = little
    lm = models.landmarker.detect(photo_from_array(canvas))
    assert lm.faces_found == 2 and "multiple_faces" in lm.qc_flags
    assert lm.anchors["right_pupil"][0] < 1350  # the larger face was meshed


def test_close_up_face_that_fills_the_frame_is_found(shared_data, models):
    """A face filling the frame is outside the full-range detector's crops; the margin pass finds it."""
    path = shared_data / "london" / "neutral" / "070_03.jpg"
    tem = read_tem(path.with_suffix(".tem"))
    photo = read_photo(path)
    x0, y0, side = 330, 330, 720  # about the face oval, upscaled to the whole frame
    close = cv2.resize(photo.pixels[y0:y0 + side, x0:x0 + side], (1350, 1350), interpolation=cv2.INTER_CUBIC)
    lm = models.landmarker.detect(photo_from_array(close, "close-up"))
    scale = 1350 / side
    expected = (tem[LONDON_ANCHOR_INDEX["right_pupil"]] - [x0, y0]) * scale
    ipd = np.linalg.norm(tem[0] - tem[1]) * scale
    assert np.linalg.norm(lm.anchors["right_pupil"] - expected) < 0.05 * ipd


def test_detect_all_lists_faces_largest_first(shared_data, models):
    a = read_photo(shared_data / "london" / "neutral" / "007_03.jpg").pixels
    b = read_photo(shared_data / "london" / "neutral" / "017_03.jpg").pixels
    canvas = np.full_like(a, 200)
    canvas[-840:, :840] = cv2.resize(b, (840, 840), interpolation=cv2.INTER_AREA)
    canvas[-690:-120, -570:] = cv2.resize(a, (570, 570), interpolation=cv2.INTER_AREA)
    faces = models.landmarker.detect_all(photo_from_array(canvas, "two"))
    assert len(faces) == 2 and all(f.faces_found == 2 and "multiple_faces" in f.qc_flags for f in faces)
    assert faces[0].inter_pupil_distance > faces[1].inter_pupil_distance
    assert faces[0].anchors["right_pupil"][0] < 675 < faces[1].anchors["right_pupil"][0]
