"""The JSON outputs' versioned schema: its version, QC flags as codes with details, and the run identity.

Every JSON the project writes (``landmarks``, ``align``, ``assess``, batch records and
summaries) carries ``schema_version`` = :data:`SCHEMA_VERSION`. The contract only grows:
fields are added, never renamed or removed; a breaking change would raise the version.

QC flags are :class:`QcFlag` (a stable ``code`` and a free-text ``detail``). The JSON keeps
them as text, ``"code: detail"``, as it always has (``qc.flags``), and also lists them
as objects (``qc.flag_codes``) so that scripts never parse text.

The run identity (package, configuration, models, scorer, inputs) is computed here only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from outcomes.config import Config
    from outcomes.runtime import Models
    from outcomes.types import Photo

SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class QcFlag:
    """One quality-control finding.

    Attributes
    ----------
    code : str
        Stable, machine-readable (``expression_change``, ``after_multiple_faces``...).
    detail : str
        What was measured and which threshold was missed, for people; may be empty.
    """

    code: str
    detail: str = ""

    @property
    def text(self) -> str:
        """The flag as the JSON's ``qc.flags`` holds it: ``"code"`` or ``"code: detail"``."""
        return f"{self.code}: {self.detail}" if self.detail else self.code

    @classmethod
    def parse(cls, text: str) -> QcFlag:
        """A flag from its text form (records written by earlier versions hold only that)."""
        code, _, detail = str(text).partition(":")
        return cls(code.strip(), detail.strip())

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


def flag_texts(flags: Iterable[QcFlag | str]) -> list[str]:
    """Flags as the JSON's text list."""
    return [f.text if isinstance(f, QcFlag) else str(f) for f in flags]


def flag_objects(flags: Iterable[QcFlag | str]) -> list[dict[str, str]]:
    """Flags as ``[{"code": ..., "detail": ...}]``."""
    return [(f if isinstance(f, QcFlag) else QcFlag.parse(f)).to_dict() for f in flags]


def run_identity(config: Config, models: Models | None = None, photos: Sequence[Photo] = ()) -> dict:
    """What produced an output: package version, configuration hash, models (name → sha256 or
    version), the inputs' sha256 (never file names: names of clinical photos may identify people).
    """
    from outcomes import __version__

    identity: dict = {"package_version": __version__, "config_sha256": config.sha256()}
    if photos:
        identity["inputs_sha256"] = [p.sha256 for p in photos]
    if models is not None:
        identity["models"] = models.describe()
    return identity
