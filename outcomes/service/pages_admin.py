"""Administration pages (admins only, their own clinic): users and roles, and the audit log
with "who looked at patient X"."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from outcomes.service import audit
from outcomes.service.db import AuditEntry, Patient, User
from outcomes.service.errors import Conflict, Forbidden, NotFound, ServiceError, Unprocessable
from outcomes.service.pages import check_csrf, page_transaction, render
from outcomes.service.security import Caller, hash_password
from outcomes.service.settings import ROLES

router = APIRouter(prefix="/admin")


def require_admin(caller: Caller) -> None:
    if caller.role != "admin":
        raise Forbidden("only a clinic's admins can manage users and read the audit log", code="admin_only")


def _users_page(request: Request, error: str = "", status_code: int = 200) -> Response:
    with page_transaction(request) as (session, caller):
        require_admin(caller)
        users = session.scalars(select(User).where(User.clinic_id == caller.clinic_id).order_by(User.username)).all()
    return render("admin_users.html", status_code, caller=caller, users=users, roles=ROLES, error=error)


@router.get("/users")
def users(request: Request) -> Response:
    return _users_page(request)


@router.post("/users")
async def add_user(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)

    def add() -> None:
        with page_transaction(request) as (session, caller):
            require_admin(caller)
            check_csrf(caller, form.get("csrf_token"))
            username, role = str(form.get("username", "")).strip(), str(form.get("role", ""))
            password = str(form.get("password", ""))
            if not username or len(username) > 150 or any(c.isspace() for c in username):
                raise Unprocessable("user name: 1-150 characters without spaces", code="username_invalid")
            if role not in ROLES:
                raise Unprocessable(f"role: one of {', '.join(ROLES)}", code="role_invalid")
            if len(password) < 10:
                raise Unprocessable("the password needs at least 10 characters", code="password_too_short")
            if session.scalar(select(User.id).where(User.username == username)) is not None:
                raise Conflict(f"user name {username!r} is taken", code="user_exists")
            user = User(clinic_id=caller.clinic_id, username=username, password_hash=hash_password(password),
                        role=role, active=True)
            session.add(user)
            session.flush()
            audit.record(session, "user_added", username=caller.username, user_id=caller.user_id,
                         clinic_id=caller.clinic_id, object_type="user", object_id=user.id, ip=caller.ip,
                         detail={"username": username, "role": role})

    try:
        await run_in_threadpool(add)
    except ServiceError as exc:
        if exc.code in ("csrf_failed", "login_required", "admin_only"):
            raise
        return await run_in_threadpool(_users_page, request, str(exc), exc.status)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id}")
async def change_user(request: Request, user_id: int) -> Response:
    form = await request.form(max_files=0, max_fields=10)

    def change() -> None:
        with page_transaction(request) as (session, caller):
            require_admin(caller)
            check_csrf(caller, form.get("csrf_token"))
            user = session.get(User, user_id)
            if user is None or user.clinic_id != caller.clinic_id:
                raise NotFound(f"no user {user_id}", code="user_not_found")
            role, active = str(form.get("role", user.role)), form.get("active") == "on"
            if role not in ROLES:
                raise Unprocessable(f"role: one of {', '.join(ROLES)}", code="role_invalid")
            if user.id == caller.user_id and (role != "admin" or not active):
                raise Unprocessable("you cannot remove your own admin role or disable yourself", code="self_demotion")
            before = {"role": user.role, "active": user.active}
            user.role, user.active = role, active
            audit.record(session, "user_changed", username=caller.username, user_id=caller.user_id,
                         clinic_id=caller.clinic_id, object_type="user", object_id=user.id, ip=caller.ip,
                         detail={"before": before, "after": {"role": role, "active": active}})

    try:
        await run_in_threadpool(change)
    except ServiceError as exc:
        if exc.code in ("csrf_failed", "login_required", "admin_only", "user_not_found"):
            raise
        return await run_in_threadpool(_users_page, request, str(exc), exc.status)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/audit")
def audit_log(request: Request, patient: str = "", user: str = "", action: str = "") -> Response:
    """The latest 300 rows of the clinic's audit log, filtered; for a patient, who looked at it and how often."""
    with page_transaction(request) as (session, caller):
        require_admin(caller)
        query = select(AuditEntry).where(AuditEntry.clinic_id == caller.clinic_id)
        found = None
        if patient.strip():
            found = session.scalar(select(Patient).where(Patient.clinic_id == caller.clinic_id,
                                                         Patient.external_id == patient.strip()))
            query = query.where(AuditEntry.patient_id == (found.id if found else -1))
        if user.strip():
            query = query.where(AuditEntry.username == user.strip())
        if action.strip():
            query = query.where(AuditEntry.action == action.strip())
        rows = session.scalars(query.order_by(AuditEntry.id.desc()).limit(300)).all()
        viewers = []
        if found is not None:
            viewers = session.execute(
                select(AuditEntry.username, func.count(), func.min(AuditEntry.at), func.max(AuditEntry.at))
                .where(AuditEntry.clinic_id == caller.clinic_id, AuditEntry.patient_id == found.id,
                       AuditEntry.action.in_(("view", "export")))
                .group_by(AuditEntry.username).order_by(func.max(AuditEntry.at).desc())).all()
        audit.record(session, "view", username=caller.username, user_id=caller.user_id, clinic_id=caller.clinic_id,
                     object_type="audit_log", object_id=0, patient_id=found.id if found else None, ip=caller.ip,
                     detail={"patient": patient, "user": user, "action": action})
    return render("admin_audit.html", caller=caller, rows=rows, viewers=viewers, patient=patient, user=user,
                  action=action, patient_found=found)
