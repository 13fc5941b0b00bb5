"""Passwords, API tokens, page sessions, CSRF tokens and login throttling.

Secrets that the server hands out (API tokens, session cookies) are stored only as their
sha256, so a copy of the database does not let anyone in. Passwords are hashed with
argon2id (argon2-cffi's ``PasswordHasher`` defaults, RFC 9106's second recommendation).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from outcomes.service import audit
from outcomes.service.db import ApiToken, AuditEntry, Clinic, PageSession, User, utc_in, utc_now
from outcomes.service.errors import ServiceError, TooManyAttempts, Unauthorized
from outcomes.service.settings import ServiceSettings

LOGIN_FAILED_MESSAGE = "wrong user name or password"


def _hasher():  # noqa: ANN202 - argon2.PasswordHasher
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id


def hash_password(password: str) -> str:
    return _hasher().hash(password)


# Verified against when the user name is unknown, so that both cases take the same time.
_DUMMY_HASH: list[str] = []


def check_password(stored_hash: str | None, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    if stored_hash is None:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(hash_password(secrets.token_hex(16)))
        stored_hash = _DUMMY_HASH[0]
        known = False
    else:
        known = True
    try:
        return _hasher().verify(stored_hash, password) and known
    except (VerificationError, InvalidHashError):
        return False


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """The authenticated user of a request."""

    user_id: int
    username: str
    clinic_id: int
    clinic_name: str
    role: str
    ip: str = ""
    session_id: int | None = None
    token_id: int | None = None
    csrf_token: str | None = None

    @property
    def can_write(self) -> bool:
        return self.role in ("admin", "clinician")


def _caller(user: User, clinic: Clinic, ip: str, **extra) -> Caller:
    return Caller(user.id, user.username, clinic.id, clinic.name, user.role, ip, **extra)


def log_in(session: Session, settings: ServiceSettings, username: str, password: str, ip: str,
           via: str) -> Caller | ServiceError:
    """Check a user name and password, with throttling; every attempt is audited.

    The refusal is returned, not raised, so that the caller commits its audit row
    before answering.

    Returns
    -------
    Caller, or the refusal:
    TooManyAttempts
        ``login_failure_limit`` failures for this user name (known or not) within
        ``login_window_s``, or five times as many from this address.
    Unauthorized
        Wrong user name or password (one message for both).
    """
    _serialise_attempts(session, username, ip)
    since = utc_in(-settings.login_window_s)
    failures = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "login_failed", AuditEntry.username == username, AuditEntry.at >= since))
    from_ip = session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "login_failed", AuditEntry.ip == ip, AuditEntry.at >= since)) if ip else 0
    if failures >= settings.login_failure_limit or from_ip >= 5 * settings.login_failure_limit:
        audit.record(session, "login_throttled", username=username, ip=ip, detail={"via": via})
        return TooManyAttempts(f"too many failed logins; try again in {settings.login_window_s // 60} minutes")
    user = session.scalar(select(User).where(User.username == username))
    ok = check_password(user.password_hash if user is not None and user.active else None, password)
    if not ok:
        audit.record(session, "login_failed", username=username, ip=ip, detail={"via": via},
                     user_id=user.id if user else None, clinic_id=user.clinic_id if user else None)
        return Unauthorized(LOGIN_FAILED_MESSAGE, code="login_failed")
    clinic = session.get(Clinic, user.clinic_id)
    audit.record(session, "login", username=username, user_id=user.id, clinic_id=user.clinic_id, ip=ip,
                 detail={"via": via})
    return _caller(user, clinic, ip)


def _serialise_attempts(session: Session, username: str, ip: str) -> None:
    """Attempts on one user name (or from one address) run one at a time until their transaction ends, so
    that counting the failures and recording this one cannot interleave with a parallel guess.

    SQLite's write transactions (``BEGIN IMMEDIATE``) are serial already; PostgreSQL takes
    transaction-scoped advisory locks, always user name first, then address.
    """
    from sqlalchemy import text

    if session.get_bind().dialect.name != "postgresql":
        return
    for key in (f"outcomes login user {username}", f"outcomes login ip {ip}"):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


# --- API tokens --------------------------------------------------------------------------

def issue_token(session: Session, settings: ServiceSettings, caller: Caller) -> str:
    token = "oc_" + secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=secret_digest(token), user_id=caller.user_id,
                         expires_at=utc_in(settings.token_lifetime_s)))
    return token


def caller_from_token(session: Session, token: str, ip: str) -> Caller:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == secret_digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= utc_now():
        raise Unauthorized("the bearer token is unknown, expired or revoked; ask POST /api/v1/tokens for a new one",
                           code="token_invalid")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise Unauthorized("this token's user is disabled", code="token_invalid")
    return _caller(user, session.get(Clinic, user.clinic_id), ip, token_id=row.id)


def revoke_token(session: Session, token_id: int) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=utc_now()))


# --- page sessions -----------------------------------------------------------------------

def open_session(session: Session, caller: Caller) -> str:
    """A new page session for ``caller``; returns the cookie value (stored only hashed)."""
    value = secrets.token_urlsafe(32)
    session.add(PageSession(token_hash=secret_digest(value), user_id=caller.user_id,
                            csrf_token=secrets.token_urlsafe(32)))
    return value


def caller_from_session(session: Session, settings: ServiceSettings, cookie: str | None, ip: str) -> Caller | None:
    """The user of the page session, or None when the cookie is missing, unknown, revoked, idle too long or too old.

    The idle clock of a valid page session restarts.
    """
    if not cookie:
        return None
    row = session.scalar(select(PageSession).where(PageSession.token_hash == secret_digest(cookie)))
    now = utc_now()
    if row is None or row.revoked_at is not None:
        return None
    if utc_in(settings.session_idle_s, row.last_seen_at) <= now or \
            utc_in(settings.session_lifetime_s, row.created_at) <= now:
        row.revoked_at = now
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    row.last_seen_at = now
    return _caller(user, session.get(Clinic, user.clinic_id), ip, session_id=row.id, csrf_token=row.csrf_token)


def close_session(session: Session, session_id: int) -> None:
    session.execute(update(PageSession).where(PageSession.id == session_id).values(revoked_at=utc_now()))


# --- CSRF --------------------------------------------------------------------------------

def login_csrf_token(secret: bytes, nonce: str) -> str:
    """The login form's token: an HMAC of the pre-login cookie's nonce (double submit, signed)."""
    return hmac.new(secret, f"login:{nonce}".encode(), hashlib.sha256).hexdigest()


def same_token(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected.encode(), given.encode())
