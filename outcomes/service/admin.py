"""Administration from the command line: ``outcomes users add`` and ``outcomes audit verify``.

They work on the same ``--data``/``--database`` as ``outcomes serve`` and may run while it runs.
"""

from __future__ import annotations

from sqlalchemy import select

from outcomes.service.errors import Conflict, Unprocessable
from outcomes.service.settings import ROLES, ServiceSettings


def _sessions(settings: ServiceSettings):  # noqa: ANN202
    from outcomes.service.db import make_engine, make_sessionmaker
    from outcomes.service.migrate import upgrade_database

    settings.prepare()
    engine = make_engine(settings.database)
    upgrade_database(engine)
    return make_sessionmaker(engine, settings.audit_key())


def add_user(settings: ServiceSettings, username: str, clinic: str, role: str, password: str) -> tuple[int, bool]:
    """Create a user (and its clinic when new). Returns the user's id and whether the clinic was created.

    Raises
    ------
    Unprocessable
        Empty or over-long names, an unknown role, a password under 10 characters.
    Conflict
        The user name is taken.
    """
    from outcomes.service import audit
    from outcomes.service.db import Clinic, User
    from outcomes.service.security import hash_password

    username, clinic = username.strip(), clinic.strip()
    if not username or len(username) > 150 or any(c.isspace() for c in username):
        raise Unprocessable(f"user name {username!r}: expected 1-150 characters without spaces", code="username_invalid")
    if not clinic or len(clinic) > 200:
        raise Unprocessable("--clinic: expected the clinic's name (1-200 characters)", code="clinic_invalid")
    if role not in ROLES:
        raise Unprocessable(f"--role: expected one of {', '.join(ROLES)}, got {role!r}", code="role_invalid")
    if len(password) < 10:
        raise Unprocessable(f"the password has {len(password)} characters; use at least 10", code="password_too_short")
    sessions = _sessions(settings)
    with sessions.begin() as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise Conflict(f"user {username!r} already exists", code="user_exists")
        row = session.scalar(select(Clinic).where(Clinic.name == clinic))
        created = row is None
        if created:
            row = Clinic(name=clinic)
            session.add(row)
            session.flush()
        user = User(clinic_id=row.id, username=username, password_hash=hash_password(password), role=role,
                    active=True)
        session.add(user)
        session.flush()
        audit.record(session, "user_added", username="(command line)", clinic_id=row.id, object_type="user",
                     object_id=user.id, detail={"username": username, "role": role, "clinic_created": created})
        return user.id, created


def verify_audit(settings: ServiceSettings):  # noqa: ANN201 - audit.ChainCheck
    from outcomes.service.audit import verify_chain

    with _sessions(settings).begin() as session:
        return verify_chain(session)
