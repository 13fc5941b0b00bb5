"""Agreement between GAIS gradings, measured the way the field does.

Weighted Cohen's κ (linear and quadratic weights over the five grades),
exact and within-one agreement, the confusion matrix and Spearman's ρ. With
several raters, rater-versus-rater agreement is the ceiling a scorer can be
expected to reach, and the consensus (median grade of a pair's raters) is
the reference a scorer is compared with besides each rating.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

GRADES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Agreement:
    """Agreement of ``predicted`` grades with ``reference`` grades.

    Attributes
    ----------
    n : int
        Number of graded items compared.
    kappa_linear, kappa_quadratic : float or None
        Weighted Cohen's κ; None when undefined (both sides a single grade).
    exact, within_one : float
        Fraction of items with the same grade / at most one grade apart.
    spearman : float or None
        Rank correlation; None when either side is constant.
    confusion : tuple of tuple of int, shape (5, 5)
        ``confusion[i][j]``: items with reference grade i+1 graded j+1.
    """

    n: int
    kappa_linear: float | None
    kappa_quadratic: float | None
    exact: float
    within_one: float
    spearman: float | None
    confusion: tuple[tuple[int, ...], ...]

    def to_dict(self) -> dict:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {"n": self.n, "kappa_linear": r(self.kappa_linear), "kappa_quadratic": r(self.kappa_quadratic),
                "exact": r(self.exact), "within_one": r(self.within_one), "spearman": r(self.spearman),
                "confusion": [list(row) for row in self.confusion]}


def agreement(reference: Sequence[int], predicted: Sequence[int]) -> Agreement:
    """Agreement statistics of two gradings of the same items.

    Parameters
    ----------
    reference, predicted : sequence of int, length n ≥ 1
        Grades 1–5, item by item.

    Raises
    ------
    ValueError
        Different lengths, no items, or a grade outside 1–5.
    """
    from scipy.stats import spearmanr

    ref, pred = np.asarray(reference, dtype=int), np.asarray(predicted, dtype=int)
    if ref.shape != pred.shape or ref.ndim != 1:
        raise ValueError(f"need two gradings of the same items, got shapes {ref.shape} and {pred.shape}")
    if ref.size == 0:
        raise ValueError("need at least one graded item")
    outside = sorted(set(np.concatenate([ref, pred]).tolist()) - set(GRADES))
    if outside:
        raise ValueError(f"grades must be 1–5, got {outside}")
    confusion = np.zeros((5, 5), dtype=int)
    np.add.at(confusion, (ref - 1, pred - 1), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # κ is 0/0 when both sides are one grade: reported as None
        kappas = [weighted_kappa(confusion, w) for w in ("linear", "quadratic")]
        rho = spearmanr(ref, pred).statistic if np.ptp(ref) and np.ptp(pred) else math.nan

    def finite(x: float) -> float | None:
        return float(x) if math.isfinite(x) else None

    diff = np.abs(ref - pred)
    return Agreement(
        n=int(ref.size), kappa_linear=finite(kappas[0]), kappa_quadratic=finite(kappas[1]),
        exact=float(np.mean(diff == 0)), within_one=float(np.mean(diff <= 1)), spearman=finite(rho),
        confusion=tuple(tuple(int(v) for v in row) for row in confusion),
    )


def consensus_grade(grades: Sequence[int]) -> int:
    """The median of one item's grades; a median halfway between grades goes towards "No change" (4).

    Rounding towards 4 is the conservative reading: raters saying 2 and 3
    give 3 ("Improved"), raters saying 4 and 5 give 4.
    """
    if not grades:
        raise ValueError("no grades to take the consensus of")
    median = float(np.median(grades))
    if median.is_integer():
        return int(median)
    return min((math.floor(median), math.ceil(median)), key=lambda g: abs(g - 4))


@dataclass(frozen=True)
class RaterAgreement:
    """How well the raters agree with each other: the ceiling for a scorer."""

    pairwise: dict[tuple[str, str], Agreement]
    mean_kappa_quadratic: float | None
    mean_kappa_linear: float | None

    def to_dict(self) -> dict:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {
            "mean_kappa_quadratic": r(self.mean_kappa_quadratic),
            "mean_kappa_linear": r(self.mean_kappa_linear),
            "pairs": [{"raters": list(k), **v.to_dict()} for k, v in self.pairwise.items()],
        }


def rater_agreement(grades_by_rater: Mapping[str, Mapping[Hashable, int]], min_common: int = 2) -> RaterAgreement:
    """Agreement of every pair of raters over the items both graded.

    Parameters
    ----------
    grades_by_rater : mapping rater → (item → grade)
    min_common : int
        Rater pairs sharing fewer items are left out.
    """
    pairwise = {}
    for a, b in itertools.combinations(sorted(grades_by_rater), 2):
        common = [k for k in grades_by_rater[a] if k in grades_by_rater[b]]
        if len(common) >= min_common:
            pairwise[(a, b)] = agreement([grades_by_rater[a][k] for k in common],
                                         [grades_by_rater[b][k] for k in common])

    def mean(values: list[float | None]) -> float | None:
        kept = [v for v in values if v is not None]
        return float(np.mean(kept)) if kept else None

    return RaterAgreement(
        pairwise=pairwise,
        mean_kappa_quadratic=mean([v.kappa_quadratic for v in pairwise.values()]),
        mean_kappa_linear=mean([v.kappa_linear for v in pairwise.values()]),
    )


def weighted_kappa(confusion: np.ndarray, weights: str) -> float:
    """Cohen's weighted κ of a square confusion matrix (rows: reference, columns: predicted).

    ``weights`` is ``"linear"`` (|i − j|) or ``"quadratic"`` ((i − j)²). NaN when chance
    disagreement is zero (both gradings use one and the same grade). Equal to
    scikit-learn's ``cohen_kappa_score`` with the same labels and weights.
    """
    confusion = np.asarray(confusion, dtype=float)
    if confusion.ndim != 2 or confusion.shape[0] != confusion.shape[1]:
        raise ValueError(f"confusion must be a square matrix, got shape {confusion.shape}")
    if weights not in ("linear", "quadratic"):
        raise ValueError(f"weights must be 'linear' or 'quadratic', got {weights!r}")
    total = confusion.sum()
    if total <= 0:
        return math.nan
    expected = np.outer(confusion.sum(axis=1), confusion.sum(axis=0)) / total
    i, j = np.indices(confusion.shape)
    w = np.abs(i - j) if weights == "linear" else (i - j) ** 2
    chance = float((w * expected).sum())
    return 1.0 - float((w * confusion).sum()) / chance if chance else math.nan
