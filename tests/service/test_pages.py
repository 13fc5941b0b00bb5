"""The pages through the ASGI client (the browser tests drive them in Chromium): results as the
worker leaves them, usable, not usable and failed; the timeline; retaking; the framing check's
guard; the admin pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.service.conftest import PASSWORD, face_jpeg, make_service

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "samples"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _log_in(service, username: str) -> None:
    page = service.client.get("/login")
    answer = service.client.post("/login", data={"username": username, "password": PASSWORD,
                                                  "csrf_token": _csrf(page.text)}, follow_redirects=False)
    assert answer.status_code == 303


def _pair(service, auth) -> tuple[int, int]:
    patient = service.client.post("/api/v1/patients", json={"external_id": "P-7", "fitzpatrick": "V"},
                                  headers=auth).json()["id"]
    for i, (visit, day) in enumerate((("baseline", 0), ("day90", 90))):
        answer = service.client.post(f"/api/v1/patients/{patient}/photos", headers=auth,
                                     files={"file": ("p.jpg", face_jpeg(i), "image/jpeg")},
                                     data={"visit": visit, "visit_day": str(day)}).json()
    return patient, answer["assessment_id"]


def _finish(service, assessment_id: int, result: dict | None = None, error: tuple[str, str] | None = None) -> None:
    from outcomes.service.db import Assessment

    values = {"status": "done", "result": json.dumps(result)} if result else \
        {"status": "failed", "error": error[1], "error_code": error[0]}
    with service.sessions().begin() as session:
        session.execute(update(Assessment).where(Assessment.id == assessment_id).values(attempts=1, **values))


@pytest.fixture
def clinic(service):
    auth = service.auth(service.add_user("dr.lee"))
    _log_in(service, "dr.lee")
    return service, auth


def test_a_usable_result_says_what_changed(clinic):
    service, auth = clinic
    patient, assessment = _pair(service, auth)
    result = json.loads((GOLDEN / "S01.json").read_text())
    _finish(service, assessment, result)
    page = service.client.get(f"/assessments/{assessment}").text
    assert "Improved" in page and "Most likely Improved" in page
    wrinkle = result["gais"]["components"]["wrinkle"]
    assert wrinkle > 0.1 and "What changed:" in page and f"Wrinkle severity {wrinkle:.0%} lower than baseline" in page
    assert "Not usable" not in page and "not scored: mostly hidden" in page
    unseen = [n for n, r in result["regions"].items() if n.startswith(("nasolabial", "marionette"))
              and r.get("laxity_before") == 0 and r.get("laxity_after") == 0]
    assert unseen and page.count("no fold shading seen in either photo") == len(unseen)
    timeline = service.client.get(f"/patients/{patient}").text
    assert "<svg" in timeline and "3 Improved" in timeline


def test_an_unusable_result_gives_no_grade_and_says_what_to_do(clinic):
    service, auth = clinic
    patient, assessment = _pair(service, auth)
    result = json.loads((GOLDEN / "S01.json").read_text())
    result["qc"].update(usable=False, flags=["expression_change: mouth corners raised (expression distance 11.0)"],
                        flag_codes=[{"code": "expression_change", "detail": "mouth corners raised"}],
                        expression={"changes_ipd": {"corner_lift": 0.06, "mouth_width": 0.05, "lip_opening": 0.0}})
    _finish(service, assessment, result)
    answer = service.client.get(f"/assessments/{assessment}")
    assert answer.status_code == 200
    page = answer.text
    assert "Not usable" in page and "No trustworthy grade" in page
    assert "the mouth corners are raised (a smile)" in page and "expression distance" not in page
    assert "Retake the follow-up with the baseline&#39;s expression" in page
    assert 'action="/photos/' in page  # the retake button
    timeline = service.client.get(f"/patients/{patient}").text
    assert "no — retake" in timeline and "3 Improved" not in timeline and "GAIS 3" not in timeline


def test_a_failed_assessment_shows_its_error_and_the_retake(clinic):
    service, auth = clinic
    patient, assessment = _pair(service, auth)
    _finish(service, assessment, error=("no_face", "the follow-up photo: no face found"))
    page = service.client.get(f"/assessments/{assessment}").text
    assert "The assessment failed" in page and "no face found" in page and "Retake the follow-up" in page
    photo_id = re.search(r'action="/photos/(\d+)/delete"', page).group(1)
    assert f'<img src="/photos/{photo_id}/preview" alt="The follow-up as uploaded">' in page  # what went wrong, seen
    assert service.client.get(f"/photos/{photo_id}/preview").headers["content-type"] == "image/jpeg"
    answer = service.client.post(f"/photos/{photo_id}/delete", data={"csrf_token": _csrf(page), "then": "retake"},
                                 follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/patients/{patient}/upload?visit=day90&visit_day=90&retake=1"
    assert service.client.get(f"/assessments/{assessment}").status_code == 404
    assert len(list(service.settings.photos_dir.iterdir())) == 1
    upload = service.client.get(answer.headers["location"]).text
    assert 'value="day90"' in upload and 'value="90"' in upload and "Take the day90 photo again" in upload
    assert "day90" not in service.client.get(f"/patients/{patient}").text  # the emptied visit is gone


def test_deleting_needs_the_csrf_token(clinic):
    service, auth = clinic
    _, assessment = _pair(service, auth)
    answer = service.client.post("/photos/2/delete", data={"csrf_token": "forged"}, follow_redirects=False)
    assert answer.status_code == 403
    assert len(list(service.settings.photos_dir.iterdir())) == 2


def test_a_pending_result_waits_for_the_worker(clinic):
    service, auth = clinic
    _, assessment = _pair(service, auth)
    page = service.client.get(f"/assessments/{assessment}").text
    assert 'id="pending"' in page and f'data-status-url="/assessments/{assessment}/status"' in page
    assert service.client.get(f"/assessments/{assessment}/status").json() == {"status": "queued"}


def test_pages_upload_needs_the_csrf_token(clinic):
    service, auth = clinic
    patient = service.client.post("/api/v1/patients", json={"external_id": "P"}, headers=auth).json()["id"]
    answer = service.client.post(f"/patients/{patient}/photos", files={"file": ("p.jpg", face_jpeg(0), "image/jpeg")},
                                 data={"visit": "v", "visit_day": "0", "csrf_token": "forged"}, follow_redirects=False)
    assert answer.status_code == 403 and list(service.settings.photos_dir.iterdir()) == []
    token = _csrf(service.client.get(f"/patients/{patient}/upload").text)
    answer = service.client.post(f"/patients/{patient}/photos", files={"file": ("p.jpg", face_jpeg(0), "image/jpeg")},
                                 data={"visit": "v", "visit_day": "0", "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303 and "uploaded=baseline" in answer.headers["location"]


def test_a_refused_upload_is_explained_on_the_page(clinic):
    service, auth = clinic
    patient = service.client.post("/api/v1/patients", json={"external_id": "P"}, headers=auth).json()["id"]
    token = _csrf(service.client.get(f"/patients/{patient}/upload").text)
    answer = service.client.post(f"/patients/{patient}/photos", files={"file": ("p.jpg", b"<html>", "image/jpeg")},
                                 data={"visit": "day90", "visit_day": "91", "csrf_token": token})
    assert answer.status_code == 415 and "not a JPEG, PNG, TIFF or WebP" in answer.text and 'id="upload-form"' in answer.text
    # the visit as typed is filled in again, so only the photo needs choosing again
    assert 'name="visit" required maxlength="200" list="visit-names" value="day90"' in answer.text
    assert 'name="visit_day" type="number" required value="91"' in answer.text


def test_the_framing_check_needs_the_csrf_header(tmp_path, database_url):
    calls = []
    service = make_service(tmp_path, database_url)
    service.app.state.outcomes.check_framing = lambda data, baseline: calls.append(baseline) or {"face": True,
                                                                                                  "warnings": []}
    auth = service.auth(service.add_user("dr.lee"))
    _log_in(service, "dr.lee")
    patient = service.client.post("/api/v1/patients", json={"external_id": "P"}, headers=auth).json()["id"]
    token = _csrf(service.client.get(f"/patients/{patient}/upload").text)
    body = face_jpeg(0)
    assert service.client.post(f"/patients/{patient}/check", content=body).status_code == 403
    answer = service.client.post(f"/patients/{patient}/check", content=body, headers={"X-CSRF-Token": token})
    assert answer.status_code == 200 and answer.json()["checked"] is True and answer.json()["baseline"] is False
    assert calls == [None]
    answer = service.client.post(f"/patients/{patient}/check", content=b"<svg/>", headers={"X-CSRF-Token": token})
    assert answer.status_code == 415
    service.client.post(f"/api/v1/patients/{patient}/photos", headers=auth, files={"file": ("p.jpg", body, "image/jpeg")},
                        data={"visit": "baseline", "visit_day": "0"})
    answer = service.client.post(f"/patients/{patient}/check", content=body, headers={"X-CSRF-Token": token})
    assert "already this patient's photo of the visit 'baseline'" in answer.json()["warnings"][0]


def test_admin_pages_are_for_admins(service):
    service.add_user("dr.lee")
    _log_in(service, "dr.lee")
    assert service.client.get("/admin/users").status_code == 403
    assert service.client.get("/admin/audit").status_code == 403


def test_who_looked_at_a_patient(service):
    from fastapi.testclient import TestClient

    service.add_user("boss", role="admin")
    auth = service.auth(service.add_user("dr.lee"))
    patient = service.client.post("/api/v1/patients", json={"external_id": "P-42"}, headers=auth).json()["id"]
    service.client.get(f"/api/v1/patients/{patient}", headers=auth)
    admin = TestClient(service.app, base_url="https://testserver")
    page = admin.get("/login")
    admin.post("/login", data={"username": "boss", "password": PASSWORD, "csrf_token": _csrf(page.text)})
    audit = admin.get("/admin/audit", params={"patient": "P-42"}).text
    viewers = audit.split('id="viewers"')[1].split("</section>")[0]
    assert "dr.lee" in viewers and "boss" not in viewers


def test_admins_add_users_and_change_roles(service):
    service.add_user("boss", role="admin")
    _log_in(service, "boss")
    page = service.client.get("/admin/users").text
    answer = service.client.post("/admin/users", data={"username": "nurse", "role": "viewer",
                                                        "password": "long-enough-pw", "csrf_token": _csrf(page)},
                                 follow_redirects=False)
    assert answer.status_code == 303
    page = service.client.get("/admin/users").text
    assert "nurse" in page
    nurse_id = re.search(r'action="/admin/users/(\d+)"[^>]*>\s*<input[^>]*>\s*<select name="role" aria-label="Role of '
                         r'nurse"', page).group(1)
    service.client.post(f"/admin/users/{nurse_id}", data={"role": "clinician", "csrf_token": _csrf(page)})
    assert "Harbour Clinic" in service.client.get("/patients").text
    from sqlalchemy import select

    from outcomes.service.db import User

    with service.sessions().begin() as session:
        nurse = session.scalar(select(User).where(User.username == "nurse"))
        assert nurse.role == "clinician" and nurse.active is False  # "can log in" was not ticked
