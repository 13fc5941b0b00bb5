"""Create or bring the database schema up to date with the Alembic migrations.

Run by ``outcomes serve`` and ``outcomes users add`` before they touch the database; both
may start at once on a new database, so the upgrade holds a lock (SQLite's write lock,
or a PostgreSQL advisory lock) and the second finds the schema already at head.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 0x6F7574636F6D6573  # "outcomes"


def alembic_config():  # noqa: ANN201 - alembic.config.Config
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade_database(engine: Engine) -> None:
    """Apply every migration not yet applied (a new database gets the whole schema)."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
