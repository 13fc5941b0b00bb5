"""The sagging simulator (jowls, fold shading, tightening) on small synthetic faces."""

from __future__ import annotations

import numpy as np
import pytest

from outcomes.simulate import LowerFace, SaggingSpec, TreatmentSpec, render_sagging, simulate_pair
from outcomes.simulate.photometric import side_light, srgb_to_linear
from outcomes.simulate.sagging import MAX_FOLD_DEPTH, fold_lines

SIZE = 320


def _lower_face() -> LowerFace:
    """A face 100 px between the pupils: jaw contours from beside the ears to the chin."""
    chin = np.array([160.0, 290.0])
    return LowerFace(
        jaw_right=np.array([[60.0, 170.0], [70.0, 225.0], [95.0, 262.0], [125.0, 284.0], chin]),
        jaw_left=np.array([[260.0, 170.0], [250.0, 225.0], [225.0, 262.0], [195.0, 284.0], chin]),
        nasolabial_right=np.array([[130.0, 180.0], [122.0, 200.0], [118.0, 220.0]]),
        nasolabial_left=np.array([[190.0, 180.0], [198.0, 200.0], [202.0, 220.0]]),
        mouth_right=np.array([135.0, 225.0]), mouth_left=np.array([185.0, 225.0]),
        right_pupil=np.array([110.0, 100.0]), left_pupil=np.array([210.0, 100.0]),
    )


def _face_image(face: LowerFace) -> np.ndarray:
    """Uniform skin inside the jaw contour, darker neck and background outside."""
    import cv2

    img = np.full((SIZE, SIZE, 3), 60, np.uint8)
    outline = np.vstack([face.jaw_right, face.jaw_left[::-1], [[260.0, 20.0], [60.0, 20.0]]])
    cv2.fillPoly(img, [np.round(outline).astype(np.int32)], (200, 160, 140))
    return img


def _edge_row(img: np.ndarray, x: int) -> float:
    """Lowest row of skin (red channel above the background) in column ``x``."""
    return float(np.nonzero(img[:, x, 0] > 130)[0].max())


def test_a_jowl_moves_the_contour_beside_the_chin_and_not_the_chin():
    face = _lower_face()
    img = _face_image(face)
    sagged = render_sagging(img, face, SaggingSpec(jowl_ipd=0.08, fold_depth=0.0))
    # Beside the chin (x = 110: the jowl) the contour drops; at the chin's centre it stays.
    assert _edge_row(sagged, 110) - _edge_row(img, 110) >= 3
    assert abs(_edge_row(sagged, 160) - _edge_row(img, 160)) <= 1
    assert np.array_equal(sagged[:120], img[:120])  # nothing above the mouth moves


def test_fold_shading_removes_the_rendered_fraction_of_light():
    face = _lower_face()
    img = np.full((SIZE, SIZE, 3), 150, np.uint8)
    shaded = render_sagging(img, face, SaggingSpec(jowl_ipd=0.0, fold_depth=0.3, fold_width_ipd=0.03))
    ratio = srgb_to_linear(shaded)[..., 1] / srgb_to_linear(img)[..., 1]
    assert ratio.min() == pytest.approx(0.7, abs=0.02)  # 30 % removed at the crease
    middle = fold_lines(face)["nasolabial_right"][1].astype(int)
    assert ratio[middle[1], middle[0]] < 0.75
    assert ratio[20, 20] == 1.0 and ratio[150, 160] == 1.0  # far from any fold


def test_tightening_scales_jowl_and_folds_and_is_recorded_in_the_truth():
    spec = SaggingSpec(jowl_ipd=0.06, fold_depth=0.2, tightening=0.5)
    later = spec.at_follow_up()
    assert later.jowl_ipd == pytest.approx(0.03) and later.fold_depth == pytest.approx(0.1)
    worse = SaggingSpec(fold_depth=0.5, tightening=-0.5).at_follow_up()
    assert worse.fold_depth == MAX_FOLD_DEPTH
    face = _lower_face()
    anchors = {"right_pupil": face.right_pupil, "left_pupil": face.left_pupil, "mouth_right": face.mouth_right,
               "mouth_left": face.mouth_left, "subnasale": np.array([160.0, 175.0]), "chin": np.array([160.0, 290.0]),
               "right_eye_outer": np.array([85.0, 100.0]), "right_eye_inner": np.array([135.0, 100.0]),
               "left_eye_inner": np.array([185.0, 100.0]), "left_eye_outer": np.array([235.0, 100.0])}
    pair = simulate_pair(_face_image(face), anchors,
                         TreatmentSpec(wrinkle_severity=0.0, sagging=spec, geometric=False, lighting=False), face)
    truth = pair.ground_truth["sagging"]
    assert truth["jowl_change_ipd"] == pytest.approx(0.03) and truth["fold_depth_change"] == pytest.approx(0.1)
    assert truth["tightening"] == 0.5 and pair.ground_truth["spec"]["sagging"]["jowl_ipd"] == 0.06
    assert not np.array_equal(pair.before, pair.after)
    with pytest.raises(ValueError, match="lower_face"):
        simulate_pair(_face_image(face), anchors, TreatmentSpec(sagging=spec))


def test_side_light_brightens_one_side_and_darkens_the_other():
    face = _lower_face()
    img = np.full((SIZE, SIZE, 3), 120, np.uint8)
    lit = srgb_to_linear(side_light(img, {"right_pupil": face.right_pupil, "left_pupil": face.left_pupil}, 0.1))
    base = srgb_to_linear(img)
    assert lit[150, 300, 1] / base[150, 300, 1] == pytest.approx(1.1, abs=0.01)  # subject's left
    assert lit[150, 10, 1] / base[150, 10, 1] == pytest.approx(0.9, abs=0.01)
    assert lit[150, 160, 1] == pytest.approx(base[150, 160, 1], rel=0.01)


def test_bad_sagging_specs_are_refused():
    face = _lower_face()
    with pytest.raises(ValueError, match="fold_depth"):
        render_sagging(_face_image(face), face, SaggingSpec(fold_depth=0.9))
    with pytest.raises(ValueError, match="jowl_ipd"):
        render_sagging(_face_image(face), face, SaggingSpec(jowl_ipd=-0.01))
