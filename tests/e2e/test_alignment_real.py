"""Registration of real faces: known changes recovered, real session pairs reported."""

from __future__ import annotations

import numpy as np

from outcomes.align import apply_homography, register
from outcomes.config import AlignmentConfig
from outcomes.io import photo_from_array, read_photo
from outcomes.simulate.geometry import random_geometric_change, warp_image
from outcomes.simulate.photometric import change_lighting, random_lighting
from outcomes.simulate.templates import read_tem


def test_known_changes_are_recovered_at_hand_placed_points(shared_data, models):
    rng = np.random.default_rng(2026)
    errors = []
    for path in sorted((shared_data / "london" / "neutral").glob("*.jpg"))[5::15]:
        photo = read_photo(path)
        tem = read_tem(path.with_suffix(".tem"))
        change = random_geometric_change(rng, (photo.width, photo.height))
        after = warp_image(change_lighting(photo.pixels, **random_lighting(rng)), change)
        reg = register(
            photo.pixels, models.landmarker.detect(photo),
            after, models.landmarker.detect(photo_from_array(after)), AlignmentConfig(local=False),
        )
        assert reg.ok, reg.qc_flags
        mapped = apply_homography(reg.after_to_before, apply_homography(change, tem))
        errors.append(np.linalg.norm(mapped - tem, axis=1) / np.linalg.norm(tem[0] - tem[1]))
    errors = np.concatenate(errors)
    assert np.median(errors) <= 0.003 and np.percentile(errors, 90) <= 0.01


def test_neutral_to_smiling_of_one_person_is_registered(shared_data, models):
    before = read_photo(shared_data / "london" / "neutral" / "007_03.jpg")
    after = read_photo(shared_data / "london" / "smiling" / "007_08.jpg")
    cfg = AlignmentConfig()
    reg = register(before.pixels, models.landmarker.detect(before), after.pixels, models.landmarker.detect(after), cfg)
    assert reg.residual_rel_ipd < cfg.qc.max_residual_rel_ipd
    ipd = models.landmarker.detect(before).inter_pupil_distance
    assert reg.local_max_px <= cfg.local_max_rel_ipd * ipd + 1e-3


def test_lisa_sessions_register_near_the_rigid_anchors(shared_data, models):
    """Different sessions, distances and head pitch: reported, and roughly right."""
    lisa = shared_data / "lisa"
    base = read_photo(lisa / "lisa1.jpg")
    base_lm = models.landmarker.detect(base)
    base_tem = read_tem(lisa / "lisa1.tem")
    rigid = [0, 1, 39, 44, 80]  # Face++ 106: eye centres, inner eye corners, subnasale
    ipd = np.linalg.norm(base_tem[0] - base_tem[1])
    for k in (2, 3, 4):
        photo = read_photo(lisa / f"lisa{k}.jpg")
        reg = register(base.pixels, base_lm, photo.pixels, models.landmarker.detect(photo), AlignmentConfig(local=False))
        err = np.linalg.norm(apply_homography(reg.after_to_before, read_tem(lisa / f"lisa{k}.tem")[rigid]) - base_tem[rigid], axis=1)
        assert np.median(err) / ipd < 0.08
        # lisa1 was taken looking down at the camera: the pitch change is real and flagged.
        assert "pose_change_pitch" in reg.qc_flags and not reg.ok
