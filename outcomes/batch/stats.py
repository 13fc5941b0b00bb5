"""Trial statistics over a batch's assessments: responder rate, PIH incidence, paired change.

Plain functions over :class:`PairResult` rows, so they can be tested on tiny
hand-made tables. Definitions (also written into ``summary.json``):

- Statistics use one view (the *primary* view: ``frontal`` when present) and
  only pairs that were assessed and passed QC; the others are counted and
  listed, never silently dropped.
- **Responder**: GAIS grade ≤ 3 ("Improved" or better). *Overall* and *by
  group* use each subject's last usable follow-up (the usual end point), so
  every subject counts once and the intervals are valid; *by visit* counts
  the pairs of that visit.
- **PIH incidence**: subjects with PIH flagged at any usable follow-up, out
  of subjects with at least one; *by visit* counts pairs.
- Proportions carry Wilson 95 % intervals (statsmodels). A stratum with fewer
  than :data:`MIN_GROUP_SUBJECTS` subjects is reported with a warning that
  it is too small to conclude anything.
- **Paired wrinkle change**: per subject, the mean wrinkle severity over the
  regions scored at both visits, before vs after; Wilcoxon signed-rank
  (scipy) per visit.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from outcomes.schema import SCHEMA_VERSION

RESPONDER_MAX_GRADE = 3
MIN_GROUP_SUBJECTS = 10
FITZPATRICK_GROUPS = {"I": "I-II", "II": "I-II", "III": "III-IV", "IV": "III-IV", "V": "V-VI", "VI": "V-VI"}
GROUP_ORDER = ("I-II", "III-IV", "V-VI", "unknown")
TYPE_ORDER = ("I", "II", "III", "IV", "V", "VI", "unknown")
ITA_ORDER = ("very light", "light", "intermediate", "tan", "brown", "dark", "unknown")


@dataclass(frozen=True)
class PairResult:
    """What the statistics need from one row of ``assessments.csv``.

    ``grade`` is None when the pair failed (``error``) or was not usable.
    ``wrinkle_before``/``wrinkle_after`` are the mean severities over the
    regions scored at both visits (None when none were).
    """

    subject_id: str
    visit: str
    view: str
    visit_day: float | None = None
    grade: int | None = None
    pih: bool = False
    fitzpatrick: str | None = None
    ita_category: str | None = None
    usable: bool = True
    error: str = ""
    wrinkle_before: float | None = None
    wrinkle_after: float | None = None

    @property
    def counted(self) -> bool:
        return not self.error and self.usable and self.grade is not None

    @property
    def fitzpatrick_group(self) -> str:
        return FITZPATRICK_GROUPS.get(self.fitzpatrick or "", "unknown")


@dataclass(frozen=True)
class Proportion:
    """``count`` of ``n`` with its Wilson 95 % interval (all None when n = 0)."""

    count: int
    n: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    too_small: bool

    def to_dict(self) -> dict:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {"n": self.n, "count": self.count, "rate": r(self.rate), "ci_low": r(self.ci_low),
                "ci_high": r(self.ci_high), "too_small": self.too_small}


def wilson(count: int, n: int, min_n: int = MIN_GROUP_SUBJECTS) -> Proportion:
    """Proportion ``count / n`` with its Wilson score 95 % interval.

    >>> p = wilson(8, 10)
    >>> round(p.ci_low, 3), round(p.ci_high, 3)
    (0.49, 0.943)
    """
    if not 0 <= count <= n:
        raise ValueError(f"wilson: need 0 <= count <= n, got count={count}, n={n}")
    if n == 0:
        return Proportion(0, 0, None, None, None, True)
    from statsmodels.stats.proportion import proportion_confint

    rate = count / n
    low, high = proportion_confint(count, n, alpha=0.05, method="wilson")
    # Exactly 0 (or 1) at 0 of n (or n of n): rounding leaves 1e-17 otherwise.
    return Proportion(count, n, rate, min(max(float(low), 0.0), rate), max(min(float(high), 1.0), rate), n < min_n)


@dataclass(frozen=True)
class PairedChange:
    """Wilcoxon signed-rank on paired before/after values of one visit."""

    visit: str
    n: int
    median_before: float | None
    median_after: float | None
    median_change: float | None
    statistic: float | None
    p_value: float | None
    too_small: bool

    def to_dict(self) -> dict:
        def r(x: float | None, nd: int = 4) -> float | None:
            return None if x is None else round(x, nd)

        return {"n": self.n, "median_before": r(self.median_before), "median_after": r(self.median_after),
                "median_change": r(self.median_change), "statistic": r(self.statistic, 2),
                "p_value": r(self.p_value, 6), "too_small": self.too_small}


def paired_change(visit: str, before: Sequence[float], after: Sequence[float],
                  min_n: int = MIN_GROUP_SUBJECTS) -> PairedChange:
    """Wilcoxon signed-rank test of ``after - before`` (two-sided; zero differences dropped)."""
    import numpy as np

    if len(before) != len(after):
        raise ValueError(f"paired_change: {len(before)} values before but {len(after)} after")
    b, a = np.asarray(before, float), np.asarray(after, float)
    n = len(b)
    if n == 0:
        return PairedChange(visit, 0, None, None, None, None, None, True)
    diff = a - b
    statistic = p_value = None
    if np.count_nonzero(diff) > 0:
        from scipy.stats import wilcoxon

        test = wilcoxon(diff)
        statistic, p_value = float(test.statistic), float(test.pvalue)
    return PairedChange(visit, n, float(np.median(b)), float(np.median(a)), float(np.median(diff)),
                        statistic, p_value, n < min_n)


@dataclass(frozen=True)
class TrialSummary:
    """Everything ``summary.json`` and the report's statistics hold."""

    view: str | None
    counts: dict[str, int]
    responders_overall: Proportion
    responders_by_visit: dict[str, Proportion]
    responders_by_group: dict[str, Proportion]
    responders_by_ita: dict[str, Proportion]
    pih_overall: Proportion
    pih_by_visit: dict[str, Proportion]
    pih_by_group: dict[str, Proportion]
    pih_by_type: dict[str, Proportion]
    gais_by_visit: dict[str, dict[int, int]]
    wrinkle_change: dict[str, PairedChange]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        def table(d: dict[str, Proportion]) -> dict:
            return {k: v.to_dict() for k, v in d.items()}

        return {
            "schema_version": SCHEMA_VERSION,
            "view": self.view,
            "counts": dict(self.counts),
            "responder_rate": {
                "definition": f"GAIS grade <= {RESPONDER_MAX_GRADE}; overall and by group at each subject's last "
                              "usable follow-up, by visit over that visit's pairs; Wilson 95 % intervals",
                "overall": self.responders_overall.to_dict(),
                "by_visit": table(self.responders_by_visit),
                "by_fitzpatrick_group": table(self.responders_by_group),
                "by_ita_category": table(self.responders_by_ita),
            },
            "pih_incidence": {
                "definition": "subjects with PIH flagged at any usable follow-up, out of subjects with at least "
                              "one; by visit over that visit's pairs; Wilson 95 % intervals",
                "overall": self.pih_overall.to_dict(),
                "by_visit": table(self.pih_by_visit),
                "by_fitzpatrick_group": table(self.pih_by_group),
                "by_fitzpatrick_type": table(self.pih_by_type),
            },
            "gais_distribution": {v: {str(g): c for g, c in d.items()} for v, d in self.gais_by_visit.items()},
            "wrinkle_change": {
                "definition": "per subject, mean wrinkle severity over the regions scored at both visits; "
                              "Wilcoxon signed-rank of after - before, two-sided",
                "by_visit": {v: c.to_dict() for v, c in self.wrinkle_change.items()},
            },
            "min_group_subjects": MIN_GROUP_SUBJECTS,
            "warnings": list(self.warnings),
        }


def primary_view(results: Iterable[PairResult]) -> str | None:
    """``frontal`` when any pair has it, else the most common view (first seen on ties)."""
    views = Counter(r.view for r in results)
    if not views:
        return None
    return "frontal" if "frontal" in views else views.most_common(1)[0][0]


def _visit_order(results: Sequence[PairResult]) -> list[str]:
    """Visits by their median visit_day, then first appearance."""
    days: dict[str, list[float]] = defaultdict(list)
    first: dict[str, int] = {}
    for i, r in enumerate(results):
        first.setdefault(r.visit, i)
        if r.visit_day is not None:
            days[r.visit].append(r.visit_day)

    def key(v: str) -> tuple[float, int]:
        d = sorted(days[v])
        return (d[len(d) // 2] if d else math.inf, first[v])

    return sorted(first, key=key)


def _ordered(d: dict[str, Proportion], order: Sequence[str]) -> dict[str, Proportion]:
    return {k: d[k] for k in order if k in d} | {k: d[k] for k in sorted(d) if k not in order}


def summarise(results: Sequence[PairResult]) -> TrialSummary:
    """Responder rate, PIH incidence, GAIS distribution and paired change of a trial (see module docstring)."""
    view = primary_view(results)
    own = [r for r in results if r.view == view]
    counted = [r for r in own if r.counted]
    visits = _visit_order(own)
    rank = {v: i for i, v in enumerate(visits)}
    counts = {
        "pairs": len(results), "subjects": len({r.subject_id for r in results}),
        "errors": sum(1 for r in results if r.error),
        "not_usable": sum(1 for r in results if not r.error and not r.usable),
        "pairs_in_statistics": len(counted), "subjects_in_statistics": len({r.subject_id for r in counted}),
        "pairs_other_views": len(results) - len(own),
    }
    by_subject: dict[str, list[PairResult]] = defaultdict(list)
    for r in counted:
        by_subject[r.subject_id].append(r)
    last = {s: max(rows, key=lambda r: rank[r.visit]) for s, rows in by_subject.items()}
    any_pih = {s: any(r.pih for r in rows) for s, rows in by_subject.items()}

    def proportions(rows: Iterable, key, hit) -> dict[str, Proportion]:  # noqa: ANN001
        groups: dict[str, list] = defaultdict(list)
        for row in rows:
            groups[key(row)].append(row)
        return {k: wilson(sum(1 for x in g if hit(x)), len(g)) for k, g in groups.items()}

    def responder(r: PairResult) -> bool:
        return r.grade <= RESPONDER_MAX_GRADE

    subjects = list(last.values())
    resp_overall = wilson(sum(responder(r) for r in subjects), len(subjects))
    resp_visit = _ordered(proportions(counted, lambda r: r.visit, responder), visits)
    resp_group = _ordered(proportions(subjects, lambda r: r.fitzpatrick_group, responder), GROUP_ORDER)
    resp_ita = _ordered(proportions(subjects, lambda r: r.ita_category or "unknown", responder), ITA_ORDER)
    pih_overall = wilson(sum(any_pih.values()), len(any_pih))
    pih_visit = _ordered(proportions(counted, lambda r: r.visit, lambda r: r.pih), visits)
    pih_group = _ordered(proportions(subjects, lambda r: r.fitzpatrick_group, lambda r: any_pih[r.subject_id]),
                         GROUP_ORDER)
    pih_type = _ordered(proportions(subjects, lambda r: r.fitzpatrick or "unknown",
                                    lambda r: any_pih[r.subject_id]), TYPE_ORDER)
    gais = {v: {g: 0 for g in range(1, 6)} for v in visits}
    for r in counted:
        gais[r.visit][r.grade] += 1
    gais = {v: d for v, d in gais.items() if sum(d.values())}
    change = {}
    for v in visits:
        paired = [r for r in counted if r.visit == v and r.wrinkle_before is not None and r.wrinkle_after is not None]
        if paired:
            change[v] = paired_change(v, [r.wrinkle_before for r in paired], [r.wrinkle_after for r in paired])
    warnings = _warnings(counts, view, resp_overall, resp_visit, resp_group, pih_type, change)
    return TrialSummary(view, counts, resp_overall, resp_visit, resp_group, resp_ita, pih_overall, pih_visit,
                        pih_group, pih_type, gais, change, tuple(warnings))


def _warnings(counts: dict[str, int], view: str | None, overall: Proportion, by_visit: dict[str, Proportion],
              by_group: dict[str, Proportion], by_type: dict[str, Proportion],
              change: dict[str, PairedChange]) -> list[str]:
    out = []
    if counts["errors"]:
        out.append(f"{counts['errors']} pair(s) could not be assessed; they are listed under QC failures and errors "
                   "and are not in the statistics")
    if counts["not_usable"]:
        out.append(f"{counts['not_usable']} pair(s) failed quality control (pose, lighting or too few regions) and "
                   "are not in the statistics")
    if counts["pairs_other_views"]:
        out.append(f"statistics use the {view!r} view only; {counts['pairs_other_views']} pair(s) of other views are "
                   "in the tables")
    unknown = by_group.get("unknown")
    if unknown is not None and unknown.n:
        out.append(f"{unknown.n} subject(s) have no Fitzpatrick type (not reported, skin tone not measured)")
    few = f"fewer than {MIN_GROUP_SUBJECTS} subjects: too few to conclude anything"
    if overall.too_small:
        # Every stratum is smaller still: one warning says it all.
        out.append(f"the whole trial has {overall.n} subject(s) in the statistics, {few}, in any stratum either")
        return out
    for title, table in (("visit", by_visit), ("Fitzpatrick group", by_group), ("Fitzpatrick type", by_type)):
        small = [f"{k} (n={p.n})" for k, p in table.items() if p.too_small and k != "unknown"]
        if small:
            out.append(f"by {title}: {', '.join(small)} — {few}")
    for v, c in change.items():
        if c.too_small:
            out.append(f"wrinkle change at {v}: n={c.n}, {few}")
    return out
