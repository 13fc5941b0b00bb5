"""The pair's wrinkle lines: the baseline's plus the follow-up's new ones."""

from __future__ import annotations

import numpy as np
import pytest

from outcomes.measures.wrinkles import SAME_LINE_IPD, new_lines


def _line(shape, row, cols):
    mask = np.zeros(shape, bool)
    mask[row, cols[0]:cols[1]] = True
    return mask


def test_a_follow_up_line_on_a_baseline_line_is_not_new():
    before = _line((60, 80), 30, (10, 70))
    after = _line((60, 80), 31, (12, 68))  # the same crease, a pixel off and shorter
    assert not new_lines(after, before, ipd_px=200).any()


def test_a_line_away_from_every_baseline_line_is_new_and_kept_whole():
    before = _line((60, 80), 10, (10, 70))
    after = before | _line((60, 80), 45, (20, 60))
    new = new_lines(after, before, ipd_px=200)
    assert new.sum() == 40 and new[45, 20:60].all()


def test_a_lengthened_line_counts_its_extension():
    before = _line((60, 80), 30, (10, 40))
    after = _line((60, 80), 30, (10, 70))
    radius = round(SAME_LINE_IPD * 200)
    new = new_lines(after, before, ipd_px=200)
    assert new[30, 40 + radius + 1:70].all() and not new[30, 10:40].any()


def test_masks_must_match():
    with pytest.raises(ValueError, match="one shape"):
        new_lines(np.zeros((5, 5), bool), np.zeros((5, 6), bool), 100)
    with pytest.raises(ValueError, match="bool"):
        new_lines(np.zeros((5, 5)), np.zeros((5, 5), bool), 100)
