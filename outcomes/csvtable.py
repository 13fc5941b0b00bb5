"""Reading the project's CSV inputs (ratings, manifests) with line numbers and column checks."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from outcomes.errors import TableFileError


def by_line(problems: list[str]) -> list[str]:
    """Problems ordered by their leading ``line N`` (file-wide problems first); stable otherwise."""
    def line(problem: str) -> int:
        head = problem.split(":", 1)[0].removeprefix("line ").split(",")[0]
        return int(head) if head.isdigit() else 0

    return sorted(problems, key=line)


@dataclass(frozen=True)
class Table:
    """A CSV read by :func:`read_table`."""

    header: tuple[str, ...]
    rows: list[tuple[int, dict[str, str]]]  # (line, {column: stripped text})
    problems: list[str]
    sha256: str  # of the file's bytes


def read_table(path: Path, required: tuple[str, ...], optional: tuple[str, ...],
               error: type[TableFileError]) -> Table:
    """Rows of a UTF-8 CSV as ``(line, {column: stripped text})`` plus the problems found so far.

    Every known column is present in each row ("" when empty). Unknown or
    repeated columns and rows longer than the header are problems; a file
    that cannot be read, or lacks a required column, raises ``error`` at once.
    """
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
    except OSError as exc:
        raise error(str(path), [f"cannot read the file: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError as exc:
        raise error(str(path), [f"not UTF-8 text (byte {exc.start})"]) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise error(str(path), ["the file is empty; expected a header line with " + ", ".join(required)])
    problems = []
    missing = [c for c in required if c not in header]
    if missing:
        problems.append(f"line 1: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                        f"(required: {', '.join(required)})")
    unknown = [c for c in header if c not in (*required, *optional)]
    if unknown:
        allowed = (*required, *optional)
        named = ", ".join(_with_suggestion(c, [a for a in allowed if a not in header]) for c in unknown)
        problems.append(f"line 1: unknown column{'s' if len(unknown) > 1 else ''} {named} "
                        f"(allowed: {', '.join(allowed)})")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        problems.append(f"line 1: repeated column{'s' if len(repeated) > 1 else ''} {', '.join(repeated)}")
    if missing:
        raise error(str(path), problems)
    reader.fieldnames = header
    rows = []
    for record in reader:
        if None in record:
            problems.append(f"line {reader.line_num}: {len(record[None])} more cells than the header's "
                            f"{len(header)} columns")
        rows.append((reader.line_num, {k: (record.get(k) or "").strip() for k in (*required, *optional)}))
    return Table(tuple(header), rows, problems, hashlib.sha256(data).hexdigest())


def _with_suggestion(column: str, candidates: list[str]) -> str:
    """``'subjet_id'`` → ``'subjet_id' (did you mean subject_id?)`` when a candidate is close."""
    import difflib

    close = difflib.get_close_matches(column.lower(), candidates, n=1, cutoff=0.6)
    return f"{column!r} (did you mean {close[0]}?)" if close else repr(column)
