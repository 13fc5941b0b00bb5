"""Rated pairs with their measured features, and the cache that makes re-fitting cheap.

Assessing a pair takes about a second; refitting a scorer takes
milliseconds. Assessments are therefore cached as their contract JSON, keyed
by what determines them: both images' bytes (sha256), the configuration
hash, the models' identities and the package version. A changed photo,
setting or model is a cache miss, never a stale hit.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from outcomes.agreement import consensus_grade
from outcomes.config import Config
from outcomes.errors import OutcomesError, RatingsError
from outcomes.io import file_sha256
from outcomes.ratings import Ratings
from outcomes.scoring import ScoringFeatures


@dataclass(frozen=True)
class RatedPair:
    """One before/after pair, its ratings and what the pipeline measured on it.

    Attributes
    ----------
    subject_id : str
    before, after : Path
    lines : tuple of int
        Lines of the ratings file that rate this pair.
    ratings : tuple of (rater_id, grade)
    features : ScoringFeatures
    default_grade : int
        The configured (uncalibrated) scorer's grade, for comparison.
    usable : bool
        The assessment's ``qc.usable``; unusable pairs are neither fitted nor scored.
    qc_flags : tuple of str
    """

    subject_id: str
    before: Path
    after: Path
    lines: tuple[int, ...]
    ratings: tuple[tuple[str, int], ...]
    features: ScoringFeatures
    default_grade: int
    usable: bool
    qc_flags: tuple[str, ...] = ()

    @property
    def grades(self) -> list[int]:
        return [g for _, g in self.ratings]

    @property
    def consensus(self) -> int:
        """Median grade of the pair's raters (see :func:`outcomes.agreement.consensus_grade`)."""
        return consensus_grade(self.grades)

    @classmethod
    def from_assessment(cls, assessment: dict, subject_id: str, before: Path, after: Path,
                        lines: tuple[int, ...], ratings: tuple[tuple[str, int], ...]) -> RatedPair:
        """Build from an assessment's contract JSON (e.g. a batch job's per-pair file)."""
        return cls(subject_id=subject_id, before=before, after=after, lines=lines, ratings=ratings,
                   features=ScoringFeatures.from_assessment(assessment),
                   default_grade=int(assessment["gais"]["grade"]), usable=bool(assessment["qc"]["usable"]),
                   qc_flags=tuple(assessment["qc"]["flags"]))


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/outcomes/assessments`` (``~/.cache/outcomes/assessments``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "outcomes" / "assessments"


class AssessmentCache:
    """Assessment JSON on disk, keyed by content (see the module docstring).

    Parameters
    ----------
    directory : str or Path
        Created on first write. Entries are written atomically, so an
        interrupted run leaves only whole entries.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    @staticmethod
    def key(before_sha256: str, after_sha256: str, config: Config, models_identity: dict[str, str]) -> str:
        from outcomes import __version__

        ident = {"before": before_sha256, "after": after_sha256, "config": config.sha256(),
                 "models": models_identity, "package": __version__}
        return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            return json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None  # absent or unreadable: assess again

    def put(self, key: str, assessment: dict) -> None:
        from outcomes.io import write_json

        write_json(self._path(key), assessment)


def assess_rated_pairs(
    ratings: Ratings, models, config: Config | None = None,  # noqa: ANN001 - outcomes.runtime.Models
    cache: AssessmentCache | None = None, progress: Callable[[int, int, bool], None] | None = None,
) -> list[RatedPair]:
    """Assess every distinct rated pair (cached ones are read back, not recomputed).

    Parameters
    ----------
    ratings : Ratings
        From :func:`outcomes.ratings.read_ratings`.
    models : Models
        From :func:`outcomes.runtime.load_models`, without a calibrated scorer
        (the features and the default grade must not depend on one).
    config : Config, optional
    cache : AssessmentCache, optional
    progress : callable (done, total, from_cache), optional

    Raises
    ------
    RatingsError
        Pairs that could not be assessed (unreadable photo, no face), all of
        them, with the ratings lines that name them. Pairs assessed before
        are kept in the cache, so fixing the file and re-running is quick.
    """
    from outcomes.pipeline import assess_pair

    if models.gais_scorer is not None:
        raise ValueError("assess rated pairs with the default scorer: load_models(config) without a scorer")
    config = config or Config()
    identity = models.describe()
    grouped: dict[tuple[Path, Path], list] = {}
    for row in ratings.rows:
        grouped.setdefault(row.pair, []).append(row)
    pairs, problems = [], []
    for done, ((before, after), rows) in enumerate(grouped.items(), start=1):
        lines = tuple(r.line for r in rows)
        hit = False
        try:
            key = AssessmentCache.key(file_sha256(before), file_sha256(after), config, identity)
            assessment = cache.get(key) if cache else None
            hit = assessment is not None
            if not hit:
                assessment = assess_pair(before, after, models, config).to_dict()
                if cache:
                    cache.put(key, assessment)
        except OutcomesError as exc:
            problems.append(f"line {', '.join(map(str, lines))}: {exc}")
            continue
        except OSError as exc:
            problems.append(f"line {', '.join(map(str, lines))}: cannot read {exc.filename}: {exc.strerror}")
            continue
        finally:
            if progress:
                progress(done, len(grouped), hit)
        pairs.append(RatedPair.from_assessment(
            assessment, rows[0].subject_id, before, after, lines, tuple((r.rater_id, r.grade) for r in rows)))
    if problems:
        raise RatingsError(str(ratings.path), problems)
    return pairs

