"""Settings of one clinic server: where its data lives and the limits it enforces."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = "./outcomes-data"
ROLES = ("admin", "clinician", "viewer")
CONSENT_SCOPES = ("care", "teaching", "publication")
FITZPATRICK_TYPES = ("I", "II", "III", "IV", "V", "VI")


@dataclass(frozen=True)
class ServiceSettings:
    """Where the server keeps its data, and its security limits.

    Parameters
    ----------
    data_dir : Path
        Photos (``photos/``, outside any served folder), the queue (``queue.sqlite3``),
        the session-signing secret and, unless ``database_url`` names another, the SQLite
        database ``outcomes.sqlite3``.
    database_url : str or None
        SQLAlchemy URL; ``postgresql+psycopg://USER@HOST/DB`` for PostgreSQL.
    dev_mode : bool
        Plain-HTTP development on localhost: the session cookie is not ``Secure`` (and so
        cannot carry the ``__Host-`` prefix). Off in any real deployment.
    """

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str | None = None
    config_path: str | None = None
    dev_mode: bool = False
    # Upload body cap (bytes), answered with 413 before the body is read.
    max_upload_bytes: int = 40 * 1024 * 1024
    # Decoded pixels of an uploaded photo (a 61 MP full-frame camera is 9504×6336).
    max_upload_pixels: int = 64_000_000
    # Page sessions: idle timeout and absolute lifetime (seconds).
    session_idle_s: int = 30 * 60
    session_lifetime_s: int = 12 * 3600
    # API tokens: lifetime (seconds).
    token_lifetime_s: int = 30 * 24 * 3600
    # Login throttling: failures per user name (and per client address, times 5) within the window.
    login_failure_limit: int = 10
    login_window_s: int = 15 * 60
    # How often an idle queue worker looks for work (seconds); the upload → result latency floor.
    queue_poll_s: float = 0.1
    # Cached baseline analyses kept on disk (MiB; about 2.5 MiB each), the least recently used dropped.
    analysis_cache_mib: int = 2048

    @property
    def database(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'outcomes.sqlite3').resolve()}"

    @property
    def photos_dir(self) -> Path:
        return self.data_dir / "photos"

    @property
    def results_dir(self) -> Path:
        """Each finished assessment's pictures and HTML report, in a folder named by its id."""
        return self.data_dir / "results"

    @property
    def analyses_dir(self) -> Path:
        """Baseline analyses the workers cached (compressed pickles made here only), so that the first
        follow-up of a patient does not wait for its baseline's analysis."""
        return self.data_dir / "analyses"

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "queue.sqlite3"

    @property
    def session_cookie(self) -> str:
        # __Host-: sent only to this host, path /, and only ever set over HTTPS (Secure).
        return "outcomes_session" if self.dev_mode else "__Host-outcomes_session"

    @property
    def login_cookie(self) -> str:
        return "outcomes_login" if self.dev_mode else "__Host-outcomes_login"

    def prepare(self) -> None:
        """Create the data folder, its photos folder and the signing secret (first start)."""
        self.photos_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)

    def audit_key(self) -> bytes:
        """The audit chain's HMAC key, derived from the secret (kept in the data folder, not the database)."""
        import hashlib
        import hmac

        return hmac.new(self.secret(), b"outcomes audit log", hashlib.sha256).digest()

    def secret(self) -> bytes:
        """The server's signing secret (``secret.key`` in the data folder, made on first use)."""
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first
                pass
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_hex(32).encode())
        return path.read_bytes().strip()
