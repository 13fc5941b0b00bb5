"""A face turned a quarter or half round in the photo is flagged, not meshed as if upright unnoticed."""

from __future__ import annotations

import numpy as np
import pytest

from outcomes.io import photo_from_array, read_photo
from outcomes.landmarks import FaceLandmarker


@pytest.fixture(scope="module")
def landmarker():
    with FaceLandmarker() as lm:
        yield lm


def test_turned_faces_are_flagged_with_their_turn_and_upright_ones_are_not(shared_data, landmarker):
    files = sorted((shared_data / "london" / "neutral").glob("*.jpg"))[::12]
    flagged, found = 0, 0
    for path in files:
        pixels = read_photo(path).pixels
        upright = landmarker.detect(photo_from_array(pixels))
        assert not any(f.startswith("face_rotated") for f in upright.qc_flags), path
        for turns in (1, 2, 3):
            turned = photo_from_array(np.ascontiguousarray(np.rot90(pixels, k=-turns)))  # clockwise
            try:
                found_lm = landmarker.detect(turned)
            except Exception:  # noqa: BLE001 - the detector may not find a turned face at all: fine
                continue
            found += 1
            flags = [f for f in found_lm.qc_flags if f.startswith("face_rotated")]
            flagged += bool(flags) and f"turned {90 * turns} degrees" in flags[0]
    assert found >= 6 and flagged >= found - 1, (flagged, found)
