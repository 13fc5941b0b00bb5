"""Agreement statistics: known values, properties, degenerate cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcomes.agreement import agreement, consensus_grade, rater_agreement

grades = st.lists(st.integers(1, 5), min_size=2, max_size=40)


def test_perfect_agreement():
    a = agreement([1, 2, 3, 4, 5, 4], [1, 2, 3, 4, 5, 4])
    assert a.kappa_linear == pytest.approx(1) and a.kappa_quadratic == pytest.approx(1)
    assert a.exact == 1 and a.within_one == 1 and a.spearman == pytest.approx(1)
    assert np.trace(np.array(a.confusion)) == 6


def test_quadratic_kappa_by_hand():
    ref, pred = [1, 2, 3, 4, 5], [1, 3, 3, 5, 5]
    obs = np.zeros((5, 5))
    for r, p in zip(ref, pred):
        obs[r - 1, p - 1] += 1
    expected = np.outer(obs.sum(1), obs.sum(0)) / obs.sum()
    w = (np.subtract.outer(np.arange(5), np.arange(5)) ** 2) / 16
    kappa = 1 - (w * obs).sum() / (w * expected).sum()
    a = agreement(ref, pred)
    assert a.kappa_quadratic == pytest.approx(kappa)
    assert a.exact == pytest.approx(3 / 5) and a.within_one == 1
    assert a.confusion[1][2] == 1 and a.confusion[3][4] == 1


@settings(max_examples=60, deadline=None)
@given(grades)
def test_symmetric_and_bounded(ref):
    rng = np.random.default_rng(len(ref))
    pred = list(np.clip(np.array(ref) + rng.integers(-1, 2, len(ref)), 1, 5))
    a, b = agreement(ref, pred), agreement(pred, ref)
    if a.kappa_quadratic is not None:
        assert a.kappa_quadratic == pytest.approx(b.kappa_quadratic)
        assert -1 - 1e-9 <= a.kappa_quadratic <= 1 + 1e-9
    assert a.within_one == 1.0  # never more than one grade apart by construction
    assert 0 <= a.exact <= 1 and sum(map(sum, a.confusion)) == len(ref)


def test_constant_gradings_give_no_kappa_or_rho():
    a = agreement([4, 4, 4], [4, 4, 4])
    assert a.kappa_quadratic is None and a.spearman is None and a.exact == 1


@pytest.mark.parametrize("ref,pred", [([1, 2], [1]), ([], []), ([0, 2], [1, 2]), ([1, 6], [1, 2])])
def test_bad_input(ref, pred):
    with pytest.raises(ValueError):
        agreement(ref, pred)


@pytest.mark.parametrize("grades,expected", [([3], 3), ([2, 3, 3], 3), ([2, 3], 3), ([4, 5], 4),
                                             ([1, 5], 3), ([3, 5], 4), ([1, 1, 2, 2], 2)])
def test_consensus_is_median_towards_no_change(grades, expected):
    assert consensus_grade(grades) == expected


def test_rater_agreement_uses_common_items():
    raters = {"R1": {"a": 1, "b": 2, "c": 4, "d": 5}, "R2": {"a": 1, "b": 2, "c": 4}, "R3": {"z": 3}}
    result = rater_agreement(raters)
    assert list(result.pairwise) == [("R1", "R2")]
    assert result.pairwise[("R1", "R2")].n == 3 and result.mean_kappa_quadratic == pytest.approx(1)
