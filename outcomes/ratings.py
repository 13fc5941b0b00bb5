"""Investigator GAIS ratings: the CSV that ``outcomes calibrate`` fits to.

Columns (``../shared/CONTRACT.md``): ``subject_id, before, after, gais`` and
optionally ``rater_id``. ``before`` and ``after`` are image paths relative to
the CSV; ``gais`` is a grade 1–5 or its label text ("Much improved"). Every
problem in the file is collected and reported at once, each with its line
number, before anything is assessed.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

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
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RatingsError(str(path), [f"cannot read the file: {exc.strerror or exc}"]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RatingsError(str(path), [f"not UTF-8 text (byte {exc.start})"]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise RatingsError(str(path), ["the file is empty; expected a header line with "
                                       + ", ".join(REQUIRED_COLUMNS)])
    problems = _header_problems(header)
    if any(p.startswith("line 1: missing") for p in problems):
        raise RatingsError(str(path), problems)  # rows cannot be read without the required columns
    reader.fieldnames = header
    rows: list[Rating] = []
    root = path.parent
    for record in reader:
        line = reader.line_num
        if None in record:
            problems.append(f"line {line}: {len(record[None])} more cells than the header's {len(header)} columns")
        values = {k: (record.get(k) or "").strip() for k in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}
        empty = [k for k in REQUIRED_COLUMNS if not values[k]]
        if "rater_id" in header and not values["rater_id"]:
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
        raise RatingsError(str(path), sorted(problems, key=_line_number))
    return Ratings(path=path, sha256=hashlib.sha256(data).hexdigest(), rows=tuple(rows))


def _header_problems(header: list[str]) -> list[str]:
    problems = []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        problems.append(f"line 1: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                        f"(required: {', '.join(REQUIRED_COLUMNS)})")
    unknown = [c for c in header if c not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)]
    if unknown:
        problems.append(f"line 1: unknown column{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                        f"(allowed: {', '.join((*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS))})")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        problems.append(f"line 1: repeated column{'s' if len(repeated) > 1 else ''} {', '.join(repeated)}")
    return problems


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


def _line_number(problem: str) -> int:
    head = problem.split(":", 1)[0].removeprefix("line ").split(",")[0]
    return int(head) if head.isdigit() else 0
