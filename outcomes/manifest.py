"""The batch manifest: which photo is which subject's visit, and which pairs to assess.

Columns (``../shared/CONTRACT.md``): ``subject_id, visit, image`` and
optionally ``visit_day, view, fitzpatrick``. Image paths are relative to the
manifest. The baseline of each subject and view is its visit with the
smallest ``visit_day``, or the visit named by ``baseline_visit``; every
other visit is a follow-up assessed against it. Every problem is collected
and reported at once, with its line number, before anything is processed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from outcomes.csvtable import by_line, read_table
from outcomes.errors import ManifestError

REQUIRED_COLUMNS = ("subject_id", "visit", "image")
OPTIONAL_COLUMNS = ("visit_day", "view", "fitzpatrick")
FITZPATRICK_TYPES = ("I", "II", "III", "IV", "V", "VI")
DEFAULT_VIEW = "frontal"


@dataclass(frozen=True)
class Visit:
    """One row of the manifest."""

    line: int
    subject_id: str
    visit: str
    image: Path
    visit_day: float | None
    view: str
    fitzpatrick: str | None


@dataclass(frozen=True)
class PlannedPair:
    """A follow-up photo to assess against its subject's baseline photo (same view)."""

    subject_id: str
    view: str
    baseline: Visit
    follow_up: Visit

    @property
    def key(self) -> tuple[str, str, str]:
        """(subject_id, follow-up visit, view): one row of assessments.csv."""
        return (self.subject_id, self.follow_up.visit, self.view)

    @property
    def fitzpatrick(self) -> str | None:
        """The clinic's type: the follow-up row's, else the baseline row's."""
        return self.follow_up.fitzpatrick or self.baseline.fitzpatrick


@dataclass(frozen=True)
class Manifest:
    """A validated manifest and the pairs it implies, in file order."""

    path: Path
    visits: tuple[Visit, ...]
    pairs: tuple[PlannedPair, ...]


def read_manifest(path: str | Path, baseline_visit: str | None = None, check_images: bool = True) -> Manifest:
    """Read and validate a manifest CSV and plan its pairs.

    Raises
    ------
    ManifestError
        Listing every problem with its line: missing or unknown columns,
        empty cells, missing images, a repeated subject/visit/view, a
        ``visit_day`` that is not a number, a Fitzpatrick type other than
        I–VI, a subject and view without a baseline (none named
        ``baseline_visit``, no ``visit_day``, or two visits on the first
        day) or without any follow-up.
    """
    path = Path(path)
    table = read_table(path, REQUIRED_COLUMNS, OPTIONAL_COLUMNS, ManifestError)
    problems = table.problems
    visits: list[Visit] = []
    first_line: dict[tuple[str, str, str], int] = {}
    for line, v in table.rows:
        empty = [k for k in REQUIRED_COLUMNS if not v[k]]
        if empty:
            problems.append(f"line {line}: empty {', '.join(empty)}")
            continue
        image = path.parent / v["image"]
        if check_images and not image.is_file():
            problems.append(f"line {line}: image {v['image']!r} not found (paths are relative to {path.parent})")
        day = None
        if v["visit_day"]:
            try:
                day = float(v["visit_day"])
            except ValueError:
                problems.append(f"line {line}: visit_day {v['visit_day']!r} is not a number of days")
            else:
                if day != day or abs(day) == float("inf"):
                    problems.append(f"line {line}: visit_day {v['visit_day']!r} is not a finite number of days")
                    day = None
        fitz = v["fitzpatrick"].upper() or None
        if fitz is not None and fitz not in FITZPATRICK_TYPES:
            problems.append(f"line {line}: fitzpatrick {v['fitzpatrick']!r} is not one of {', '.join(FITZPATRICK_TYPES)}")
            fitz = None
        view = v["view"] or DEFAULT_VIEW
        key = (v["subject_id"], v["visit"], view)
        if key in first_line:
            problems.append(f"line {line}: subject {key[0]!r} visit {key[1]!r} view {key[2]!r} repeats line "
                            f"{first_line[key]}")
            continue
        first_line[key] = line
        visits.append(Visit(line, v["subject_id"], v["visit"], image, day, view, fitz))
    if not visits and not problems:
        problems.append("no visits below the header")
    pairs, plan_problems = _plan(visits, baseline_visit)
    problems.extend(plan_problems)
    if problems:
        raise ManifestError(str(path), by_line(problems))
    return Manifest(path=path, visits=tuple(visits), pairs=tuple(pairs))


def _plan(visits: list[Visit], baseline_visit: str | None) -> tuple[list[PlannedPair], list[str]]:
    groups: dict[tuple[str, str], list[Visit]] = defaultdict(list)
    for v in visits:
        groups[(v.subject_id, v.view)].append(v)
    pairs, problems = [], []
    for (subject, view), rows in groups.items():
        where = f"line {', '.join(str(r.line) for r in rows)}: subject {subject!r} view {view!r}"
        if baseline_visit is not None:
            named = [r for r in rows if r.visit == baseline_visit]
            if not named:
                problems.append(f"{where} has no baseline visit named {baseline_visit!r}")
                continue
            baseline = named[0]
        else:
            undated = [r for r in rows if r.visit_day is None]
            if undated:
                problems.append(f"{where} has no baseline: visit {undated[0].visit!r} has no visit_day "
                                "(give every visit a visit_day, or name the baseline with --baseline-visit)")
                continue
            first = min(r.visit_day for r in rows)
            earliest = [r for r in rows if r.visit_day == first]
            if len(earliest) > 1:
                problems.append(f"{where} has no baseline: visits {', '.join(repr(r.visit) for r in earliest)} "
                                f"share the first visit_day {first:g}")
                continue
            baseline = earliest[0]
        follow_ups = [r for r in rows if r is not baseline]
        if not follow_ups:
            problems.append(f"{where} has only its baseline visit {baseline.visit!r}; nothing to compare it with")
            continue
        pairs.extend(PlannedPair(subject, view, baseline, f) for f in follow_ups)
    pairs.sort(key=lambda p: p.follow_up.line)
    return pairs, problems

