"""Page sessions, CSRF tokens and the audit log, each test failing when its protection is removed."""

from __future__ import annotations

import re
import subprocess
import sys

from sqlalchemy import select, text, update

from tests.service.conftest import PASSWORD, make_service


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _log_in(service, username: str, password: str = PASSWORD):
    page = service.client.get("/login")
    return service.client.post("/login", data={"username": username, "password": password,
                                               "csrf_token": _csrf(page.text)}, follow_redirects=False)


def _set_cookie_header(answer, name: str) -> str:
    return next(h for h in answer.headers.get_list("set-cookie") if h.startswith(name + "="))


def test_login_sets_a_host_only_secure_strict_cookie(service):
    service.add_user("dr.lee")
    answer = _log_in(service, "dr.lee")
    assert answer.status_code == 303 and answer.headers["location"] == "/patients"
    cookie = _set_cookie_header(answer, "__Host-outcomes_session").lower()
    for attribute in ("secure", "httponly", "samesite=strict", "path=/"):
        assert attribute in cookie, attribute
    assert "domain=" not in cookie
    home = service.client.get("/patients")
    assert home.status_code == 200 and "dr.lee" in home.text and "Harbour Clinic" in home.text


def test_development_mode_cookie_is_not_secure(tmp_path, database_url):
    service = make_service(tmp_path, database_url, dev_mode=True)
    service.add_user("dr.lee")
    cookie = _set_cookie_header(_log_in(service, "dr.lee"), "outcomes_session").lower()
    assert "secure" not in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_every_form_has_a_csrf_token(service):
    service.add_user("dr.lee")
    for page in (service.client.get("/login").text,):
        assert page.count("<form") == page.count('name="csrf_token"')
    _log_in(service, "dr.lee")
    home = service.client.get("/patients").text
    forms = re.findall(r"<form[^>]*>", home)
    posting = [f for f in forms if 'method="post"' in f]
    assert posting and home.count('name="csrf_token"') == len(posting)


def test_login_without_its_csrf_token_is_refused(service):
    service.add_user("dr.lee")
    service.client.get("/login")
    answer = service.client.post("/login", data={"username": "dr.lee", "password": PASSWORD, "csrf_token": "forged"},
                                 follow_redirects=False)
    assert answer.status_code == 403
    assert "__Host-outcomes_session" not in answer.headers.get("set-cookie", "")


def test_logout_needs_the_sessions_csrf_token_and_revokes_it(service):
    service.add_user("dr.lee")
    _log_in(service, "dr.lee")
    cookie = service.client.cookies.get("__Host-outcomes_session")
    assert service.client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert service.client.get("/patients", follow_redirects=False).status_code == 200  # still signed in
    token = _csrf(service.client.get("/patients").text)
    assert service.client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    service.client.cookies.set("__Host-outcomes_session", cookie)  # the old cookie, replayed
    answer = service.client.get("/patients", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/login"


def test_sessions_end_when_idle_and_at_their_absolute_lifetime(service):
    from outcomes.service.db import PageSession, utc_in

    service.add_user("dr.lee")
    for column, seconds in (("last_seen_at", service.settings.session_idle_s),
                            ("created_at", service.settings.session_lifetime_s)):
        _log_in(service, "dr.lee")
        assert service.client.get("/patients", follow_redirects=False).status_code == 200
        with service.sessions().begin() as session:
            session.execute(update(PageSession).where(PageSession.revoked_at.is_(None))
                            .values({column: utc_in(-seconds - 1)}))
        assert service.client.get("/patients", follow_redirects=False).status_code == 303, column
        service.client.cookies.clear()


def test_an_active_session_stays_open(service):
    from outcomes.service.db import PageSession, utc_in

    service.add_user("dr.lee")
    _log_in(service, "dr.lee")
    with service.sessions().begin() as session:
        session.execute(update(PageSession).values(last_seen_at=utc_in(-service.settings.session_idle_s + 60)))
    assert service.client.get("/patients", follow_redirects=False).status_code == 200


def test_page_login_failures_are_throttled_with_one_message(service):
    service.add_user("dr.lee")
    for username in ("dr.lee", "ghost"):
        texts = set()
        for _ in range(10):
            answer = _log_in(service, username, "wrong-password")
            assert answer.status_code == 401
            texts.add(re.search(r'role="alert">([^<]+)<', answer.text).group(1))
        assert texts == {"wrong user name or password"}
        assert _log_in(service, username).status_code == 429


def test_api_does_not_accept_the_session_cookie(service):
    service.add_user("dr.lee")
    _log_in(service, "dr.lee")
    assert service.client.get("/api/v1/patients").status_code == 401


def _actions(service) -> list[str]:
    from outcomes.service.db import AuditEntry

    with service.sessions().begin() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_audit_rows_for_login_view_upload_export_and_delete(service):
    from tests.service.conftest import face_jpeg

    service.add_user("dr.lee")
    service.client.post("/api/v1/tokens", json={"username": "dr.lee", "password": "wrong-password"})
    auth = service.auth("dr.lee")
    patient_id = service.client.post("/api/v1/patients", json={"external_id": "P"}, headers=auth).json()["id"]
    photo = service.client.post(f"/api/v1/patients/{patient_id}/photos", headers=auth,
                                files={"file": ("a.jpg", face_jpeg(0), "image/jpeg")},
                                data={"visit": "v0", "visit_day": "0"}).json()
    service.client.get(f"/api/v1/patients/{patient_id}", headers=auth)
    service.client.get(f"/api/v1/photos/{photo['id']}/image", headers=auth)
    service.client.get(f"/api/v1/patients/{patient_id}/export", headers=auth)
    service.client.delete(f"/api/v1/photos/{photo['id']}", headers=auth)
    actions = _actions(service)
    for action in ("login_failed", "login", "upload", "view", "export", "delete"):
        assert action in actions, action
    from outcomes.service.audit import verify_chain

    with service.sessions().begin() as session:
        check = verify_chain(session)
    assert check.ok and check.rows == len(actions)


def _tamper_and_verify(service, statement: str) -> str:
    from outcomes.service.audit import verify_chain

    with service.sessions().begin() as session:
        session.execute(text(statement))
    with service.sessions().begin() as session:
        check = verify_chain(session)
    assert not check.ok
    return check.problem


def test_an_edited_audit_row_is_detected(service):
    service.add_user("dr.lee")
    for _ in range(3):
        service.token("dr.lee")
    problem = _tamper_and_verify(service, "UPDATE audit_log SET username = 'someone.else' WHERE id = 2")
    assert "row 2" in problem


def test_a_removed_audit_row_is_detected(service):
    service.add_user("dr.lee")
    for _ in range(3):
        service.token("dr.lee")
    assert "row 2" in _tamper_and_verify(service, "DELETE FROM audit_log WHERE id = 2")


def test_rows_cut_off_the_end_of_the_audit_log_are_detected(service):
    service.add_user("dr.lee")
    for _ in range(3):
        service.token("dr.lee")
    assert "removed" in _tamper_and_verify(service, "DELETE FROM audit_log WHERE id = (SELECT MAX(id) FROM audit_log)")


def test_audit_verify_command(service):
    service.add_user("dr.lee")
    service.token("dr.lee")
    options = ["--data", str(service.settings.data_dir)]
    if service.settings.database_url:
        options += ["--database", service.settings.database_url]
    run = subprocess.run([sys.executable, "-m", "outcomes.cli", "audit", "verify", *options], capture_output=True,
                         text=True)
    assert run.returncode == 0 and "intact" in run.stdout, run.stderr
    with service.sessions().begin() as session:
        session.execute(text("UPDATE audit_log SET action = 'view' WHERE id = 1"))
    run = subprocess.run([sys.executable, "-m", "outcomes.cli", "audit", "verify", *options], capture_output=True,
                         text=True)
    assert run.returncode == 1 and "row 1" in run.stderr and "Traceback" not in run.stderr


def test_the_session_cookie_is_stored_only_hashed(service):
    from outcomes.service.db import PageSession

    service.add_user("dr.lee")
    _log_in(service, "dr.lee")
    cookie = service.client.cookies.get("__Host-outcomes_session")
    with service.sessions().begin() as session:
        row = session.scalar(select(PageSession))
        values = " ".join(str(v) for v in session.execute(text("SELECT * FROM page_sessions")).one())
    assert cookie and cookie not in values and row.token_hash != cookie and len(row.token_hash) == 64


def test_each_request_restarts_the_idle_clock(service):
    from outcomes.service.db import PageSession, utc_in

    service.add_user("dr.lee")
    _log_in(service, "dr.lee")
    with service.sessions().begin() as session:
        session.execute(update(PageSession).values(last_seen_at=utc_in(-service.settings.session_idle_s + 60)))
    assert service.client.get("/patients", follow_redirects=False).status_code == 200
    with service.sessions().begin() as session:
        assert session.scalar(select(PageSession.last_seen_at)) >= utc_in(-30)


def test_a_chain_rewritten_without_the_key_is_detected(service):
    import hashlib
    import json as json_module

    from outcomes.service.audit import GENESIS_HASH, HASHED_FIELDS, verify_chain
    from outcomes.service.db import AuditEntry, AuditHead

    service.add_user("dr.lee")
    for _ in range(3):
        service.token("dr.lee")
    with service.sessions().begin() as session:  # edit row 2, then recompute every hash as sha256
        session.execute(update(AuditEntry).where(AuditEntry.id == 2).values(username="someone.else"))
        prev = GENESIS_HASH
        for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
            canonical = json_module.dumps([getattr(entry, f) for f in HASHED_FIELDS], separators=(",", ":"))
            digest = hashlib.sha256(f"{prev}\n{canonical}".encode()).hexdigest()
            session.execute(update(AuditEntry).where(AuditEntry.id == entry.id).values(prev_hash=prev, row_hash=digest))
            prev = digest
        session.execute(update(AuditHead).values(last_hash=prev))
    with service.sessions().begin() as session:
        assert not verify_chain(session).ok
