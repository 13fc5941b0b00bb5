"""The server's records: clinics → users → patients → visits → photos → assessments, and the
audit log; engines for SQLite (embedded) and PostgreSQL.

The schema itself is created and changed by the Alembic migrations in
``outcomes/service/migrations``; these classes must match them (a test checks).
Times are ISO-8601 UTC strings (``2026-12-02T10:00:00.000000Z``): portable across both
databases, ordered as text, and hashed as they are stored by the audit chain.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_now() -> str:
    """Now, as the records store times."""
    return datetime.now(UTC).strftime(TIME_FORMAT)


def utc_in(seconds: float, since: str | None = None) -> str:
    """``seconds`` after ``since`` (default now), as the records store times."""
    start = datetime.strptime(since, TIME_FORMAT).replace(tzinfo=UTC) if since else datetime.now(UTC)
    return (start + timedelta(seconds=seconds)).strftime(TIME_FORMAT)


# SQLite would give a deleted row's id to the next row; a link or an audit row naming a deleted
# photo or assessment must never lead to another one. (PostgreSQL's sequences never reuse.)
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class Base(DeclarativeBase):
    pass


class Clinic(Base):
    __tablename__ = "clinics"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[str] = mapped_column(String(32), default=utc_now)


class User(Base):
    __tablename__ = "users"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[str] = mapped_column(String(32), default=utc_now)


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("clinic_id", "external_id"), NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(200))
    fitzpatrick: Mapped[str | None] = mapped_column(String(3), nullable=True)
    consent: Mapped[str] = mapped_column(String(100), default="care")  # comma-separated scopes
    created_at: Mapped[str] = mapped_column(String(32), default=utc_now)


class Visit(Base):
    __tablename__ = "visits"
    __table_args__ = (UniqueConstraint("patient_id", "name"), NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    day: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(String(32), default=utc_now)


class Photo(Base):
    __tablename__ = "photos"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    view: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(100), unique=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    captured_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    uploaded_at: Mapped[str] = mapped_column(String(32), default=utc_now)
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class Assessment(Base):
    __tablename__ = "assessments"
    __table_args__ = (UniqueConstraint("photo_id", "baseline_photo_id"), NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id"), index=True)
    baseline_photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id"))
    status: Mapped[str] = mapped_column(String(10), index=True)  # queued, running, done, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(120), nullable=True)  # "host:pid" of the worker
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)  # the assess JSON
    created_at: Mapped[str] = mapped_column(String(32), default=utc_now)
    started_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    finished_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class PageSession(Base):
    __tablename__ = "page_sessions"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(32), default=utc_now)
    last_seen_at: Mapped[str] = mapped_column(String(32), default=utc_now)
    revoked_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[str] = mapped_column(String(32), default=utc_now)
    expires_at: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_action_username_at", "action", "username", "at"),
                      Index("ix_audit_action_ip_at", "action", "ip", "at"), NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[str] = mapped_column(String(32))
    clinic_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    username: Mapped[str] = mapped_column(String(150))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    object_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    patient_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str] = mapped_column(String(60), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the last audit entry's id and hash. Appends lock it, which orders the chain."""

    __tablename__ = "audit_head"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys, a busy timeout and write-first transactions.

    SQLite transactions start with ``BEGIN IMMEDIATE``: a transaction that reads and then
    writes (the audit chain's head, a job's claim) would otherwise fail at once when another
    process wrote in between, instead of waiting its turn.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001
            dbapi_connection.isolation_level = None  # transactions are begun below, not by the driver
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection) -> None:  # noqa: ANN001
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def make_sessionmaker(engine: Engine, audit_key: bytes | None = None) -> sessionmaker:
    """Sessions on ``engine``; ``audit_key`` (see :meth:`ServiceSettings.audit_key`) lets them write and
    check the audit log."""
    return sessionmaker(engine, expire_on_commit=False, info={"audit_key": audit_key})
