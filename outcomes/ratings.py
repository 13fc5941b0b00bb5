"""Investigator GAIS ratings: the CSV that ``outcomes calibrate`` fits to.

Columns (``../shared/CONTRACT.md``): ``subject_id, before, after, gais`` and
optionally ``rater_id``. ``before`` and ``after`` are image paths relative to
the CSV; ``gais`` is a grade 1–5 or its label text ("Much improved"). Every
problem in the file is collected and reported at once, each with its line
number, before anything is assessed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from outcomes.csvtable import by_line, read_table
from outcomes.errors import RatingsError
from outcomes.scoring import parse_grade

REQUIRED_COLUMNS = ("subject_id", "before", "after", "gais")
OPTIONAL_COLUMNS = ("rater_id",)
# Each subject needs two rated pairs at least: a subject seen once cannot show
# that the scorer generalises within a person, and usually means a typo in
# subject_id that would leak the same person into two cross-validation folds.
MIN_PAIRS_PER_SUBJECT = 2


@dataclass(frozen=True)
class Rating:
    """One row of the ratings file."""

    line: int
    subject_id: str
    before: Path
    after: Path
    grade: int
    rater_id: str  # "" when the file has no rater column

    @property
    def pair(self) -> tuple[Path, Path]:
        return (self.before, self.after)


@dataclass(frozen=True)
class Ratings:
    """A validated ratings file.

    Attributes
    ----------
    path : Path
        The CSV.
    sha256 : str
        Of the CSV's bytes (for the scorer's training summary).
    rows : tuple of Rating
        In file order; image paths resolved against the CSV's folder.
    """

    path: Path
    sha256: str
    rows: tuple[Rating, ...]

    @property
    def pairs(self) -> list[tuple[Path, Path]]:
        """Distinct (before, after) pairs in first-seen order."""
        return list(dict.fromkeys(r.pair for r in self.rows))

    @property
    def subjects(self) -> list[str]:
        return list(dict.fromkeys(r.subject_id for r in self.rows))

    @property
    def raters(self) -> list[str]:
        return list(dict.fromkeys(r.rater_id for r in self.rows))


def read_ratings(path: str | Path, check_images: bool = True) -> Ratings:
    """Read and validate a ratings CSV.

    Parameters
    ----------
    path : str or Path
    check_images : bool
        Also require every image file to exist.

    Raises
    ------
    RatingsError
        Listing every problem found, each with its line number: missing or
        unknown columns, empty cells, grades outside 1–5 or unknown labels,
        missing images, the same pair rated twice by one rater, a pair given
        to two subjects, a subject with fewer than two rated pairs.
    """
    path = Path(path)
    table = read_table(path, REQUIRED_COLUMNS, OPTIONAL_COLUMNS, RatingsError)
    problems = table.problems
    rows: list[Rating] = []
    root = path.parent
    for line, values in table.rows:
        empty = [k for k in REQUIRED_COLUMNS if not values[k]]
        if "rater_id" in table.header and not values["rater_id"]:
            empty.append("rater_id")
        if empty:
            problems.append(f"line {line}: empty {', '.join(empty)}")
            if any(k in empty for k in ("subject_id", "before", "after")):
                continue
        before, after = root / values["before"], root / values["after"]
        if check_images:
            for column, image in (("before", before), ("after", after)):
                if not image.is_file():
                    problems.append(f"line {line}: {column} image {values[column]!r} not found "
                                    f"(paths are relative to {root})")
        grade = 0  # a row with a bad grade still counts for the subject and duplicate checks
        if values["gais"]:
            try:
                grade = parse_grade(values["gais"])
            except ValueError as exc:
                problems.append(f"line {line}: gais: {exc}")
        rows.append(Rating(line, values["subject_id"], before, after, grade, values["rater_id"]))
    if not rows and not problems:
        problems.append("no ratings below the header")
    problems.extend(_consistency_problems(rows))
    if problems:
        raise RatingsError(str(path), by_line(problems))
    return Ratings(path=path, sha256=table.sha256, rows=tuple(rows))


def _consistency_problems(rows: list[Rating]) -> list[str]:
    """Duplicates, a pair under two subjects, subjects with too few pairs."""
    problems = []
    seen: dict[tuple, int] = {}
    owner: dict[tuple[Path, Path], tuple[str, int]] = {}
    pairs_of: dict[str, dict[tuple[Path, Path], int]] = defaultdict(dict)
    for r in rows:
        key = (r.pair, r.rater_id)
        if key in seen:
            who = f"rater {r.rater_id!r}" if r.rater_id else "the same rater"
            problems.append(f"line {r.line}: the same pair is rated again by {who} (first on line {seen[key]})")
        else:
            seen[key] = r.line
        subject, first = owner.setdefault(r.pair, (r.subject_id, r.line))
        if subject != r.subject_id:
            problems.append(f"line {r.line}: this pair belongs to subject {subject!r} on line {first}, "
                            f"not {r.subject_id!r}")
        pairs_of[r.subject_id].setdefault(r.pair, r.line)
    for subject, pairs in pairs_of.items():
        if len(pairs) < MIN_PAIRS_PER_SUBJECT:
            lines = ", ".join(str(n) for n in pairs.values())
            problems.append(f"line {lines}: subject {subject!r} has {len(pairs)} rated pair; each subject needs "
                            f"at least {MIN_PAIRS_PER_SUBJECT}")
    return problems

