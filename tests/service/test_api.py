"""The JSON API as the contract describes it, on SQLite and PostgreSQL, through the ASGI client."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select, text

from tests.service.conftest import PASSWORD, face_jpeg


def _patient(service, auth, external_id="P-001", fitzpatrick="IV") -> int:
    answer = service.client.post("/api/v1/patients", json={"external_id": external_id, "fitzpatrick": fitzpatrick},
                                 headers=auth)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def _upload(service, auth, patient_id, data: bytes, visit="baseline", day=0, name="photo.jpg", **fields):  # noqa: ANN003
    return service.client.post(f"/api/v1/patients/{patient_id}/photos", headers=auth,
                               files={"file": (name, data, "image/jpeg")},
                               data={"visit": visit, "visit_day": str(day), **fields})


def test_contract_flow(service):
    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)
    first = _upload(service, auth, patient_id, face_jpeg(0))
    assert first.status_code == 201, first.text
    assert first.json()["assessment_id"] is None  # the baseline
    second = _upload(service, auth, patient_id, face_jpeg(1), visit="day90", day=90)
    assert second.status_code == 201, second.text
    body = second.json()
    assert len(body["sha256"]) == 64 and body["assessment_id"] is not None
    assert service.queued == [body["assessment_id"]]
    patient = service.client.get(f"/api/v1/patients/{patient_id}", headers=auth).json()
    assert [v["name"] for v in patient["visits"]] == ["baseline", "day90"]
    assert patient["visits"][1]["photos"][0] == {**patient["visits"][1]["photos"][0], "id": body["id"],
                                                 "sha256": body["sha256"], "view": "frontal"}
    assert patient["visits"][1]["assessments"][0]["status"] == "queued"
    assessment = service.client.get(f"/api/v1/assessments/{body['assessment_id']}", headers=auth).json()
    assert assessment["status"] == "queued" and assessment["result"] is None and assessment["error"] is None


def test_an_earlier_photo_becomes_the_baseline(service):
    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)
    assert _upload(service, auth, patient_id, face_jpeg(1), visit="day30", day=30).json()["assessment_id"] is None
    later = _upload(service, auth, patient_id, face_jpeg(2), visit="day90", day=90).json()
    earliest = _upload(service, auth, patient_id, face_jpeg(3), visit="baseline", day=0).json()
    assert earliest["assessment_id"] is None and len(earliest["queued"]) == 2
    assert service.queued == [later["assessment_id"], *earliest["queued"]]


def test_errors_have_the_contract_shape(service):
    answer = service.client.get("/api/v1/patients/1")
    assert answer.status_code == 401 and set(answer.json()) == {"error", "code"}
    assert answer.headers["www-authenticate"] == "Bearer"
    answer = service.client.get("/api/v1/patients/1", headers={"Authorization": "Bearer oc_not-a-token"})
    assert answer.status_code == 401 and answer.json()["code"] == "token_invalid"
    auth = service.auth(service.add_user("dr.lee"))
    assert service.client.get("/api/v1/patients/999", headers=auth).status_code == 404
    answer = service.client.post("/api/v1/patients", json={"external_id": "P", "fitzpatrick": "VII"}, headers=auth)
    assert answer.status_code == 422 and answer.json()["code"] == "fitzpatrick_invalid"
    _patient(service, auth, "P-dup")
    answer = service.client.post("/api/v1/patients", json={"external_id": "P-dup"}, headers=auth)
    assert answer.status_code == 409 and answer.json()["code"] == "patient_exists"
    answer = service.client.post("/api/v1/patients", content=b"{not json", headers=auth)
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_json"


def test_the_same_file_twice_is_refused(service):
    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)
    assert _upload(service, auth, patient_id, face_jpeg(0)).status_code == 201
    answer = _upload(service, auth, patient_id, face_jpeg(0), visit="day90", day=90)
    assert answer.status_code == 409 and answer.json()["code"] == "same_photo"
    assert "same" in answer.json()["error"] or "already" in answer.json()["error"]


def test_a_visit_keeps_its_day(service):
    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)
    assert _upload(service, auth, patient_id, face_jpeg(0)).status_code == 201
    answer = _upload(service, auth, patient_id, face_jpeg(1), visit="baseline", day=3)
    assert answer.status_code == 409 and answer.json()["code"] == "visit_day_conflict"


def test_another_clinics_objects_are_not_found(service):
    own = service.auth(service.add_user("dr.lee", clinic="Harbour Clinic"))
    other = service.auth(service.add_user("dr.other", clinic="Hill Clinic"))
    patient_id = _patient(service, own)
    photo = _upload(service, own, patient_id, face_jpeg(0)).json()
    assessment = _upload(service, own, patient_id, face_jpeg(1), visit="day90", day=90).json()["assessment_id"]
    for path in (f"/api/v1/patients/{patient_id}", f"/api/v1/photos/{photo['id']}/image",
                 f"/api/v1/assessments/{assessment}", f"/api/v1/patients/{patient_id}/export"):
        answer = service.client.get(path, headers=other)
        assert answer.status_code == 404, path
        assert str(patient_id) not in answer.json()["code"]
    assert _upload(service, other, patient_id, face_jpeg(2), visit="x", day=5).status_code == 404
    assert service.client.delete(f"/api/v1/photos/{photo['id']}", headers=other).status_code == 404
    listed = service.client.get("/api/v1/patients", headers=other).json()["patients"]
    assert listed == []


def test_read_only_users_cannot_write(service):
    writer = service.auth(service.add_user("dr.lee"))
    viewer = service.auth(service.add_user("assistant", role="viewer"))
    patient_id = _patient(service, writer)
    photo = _upload(service, writer, patient_id, face_jpeg(0)).json()
    answer = _upload(service, viewer, patient_id, face_jpeg(1), visit="day90", day=90)
    assert answer.status_code == 403 and answer.json()["code"] == "read_only_role"
    assert service.client.post("/api/v1/patients", json={"external_id": "X"}, headers=viewer).status_code == 403
    assert service.client.delete(f"/api/v1/photos/{photo['id']}", headers=viewer).status_code == 403
    assert service.client.get(f"/api/v1/patients/{patient_id}", headers=viewer).status_code == 200


@pytest.mark.parametrize("name, data", [
    ("page.jpg", b"<!doctype html><html><script>alert(1)</script></html>"),
    ("face.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ("doc.png", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
    ("empty.jpg", b""),
])
def test_uploads_are_typed_by_their_bytes(service, name, data):
    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)
    answer = _upload(service, auth, patient_id, data, name=name)
    assert answer.status_code == 415, answer.text
    assert answer.json()["code"] == "unsupported_image_type"
    assert list(service.settings.photos_dir.iterdir()) == []


def test_png_tiff_and_webp_are_accepted(service):
    from PIL import Image

    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)
    with Image.open(io.BytesIO(face_jpeg(0))) as im:
        for day, kind in enumerate(("PNG", "TIFF", "WEBP")):
            out = io.BytesIO()
            im.save(out, kind)
            answer = _upload(service, auth, patient_id, out.getvalue(), visit=kind, day=day, name="x.bin")
            assert answer.status_code == 201, (kind, answer.text)


def test_a_corrupt_image_is_unprocessable(service):
    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)
    answer = _upload(service, auth, patient_id, face_jpeg(0)[:400])
    assert answer.status_code == 422, answer.text


def test_too_many_pixels_is_refused(tmp_path, database_url):
    from tests.service.conftest import make_service

    service = make_service(tmp_path, database_url, max_upload_pixels=100_000)
    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)
    answer = _upload(service, auth, patient_id, face_jpeg(0))
    assert answer.status_code == 413 and answer.json()["code"] == "image_too_large"
    assert "100000" in answer.json()["error"]


def test_body_over_the_cap_is_refused_before_it_is_read(tmp_path, database_url):
    from tests.service.conftest import make_service

    service = make_service(tmp_path, database_url, max_upload_bytes=50_000)
    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)
    answer = _upload(service, auth, patient_id, face_jpeg(0) + b"\0" * 60_000)
    assert answer.status_code == 413 and answer.json()["code"] == "upload_too_large"
    assert list(service.settings.photos_dir.iterdir()) == []


def test_stored_photos_are_reencoded_without_metadata(service):
    from PIL import Image

    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)
    with Image.open(io.BytesIO(face_jpeg(0))) as im:
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90° clockwise to display
        exif[0x010F] = "CameraMaker"
        exif[0x0132] = "2026:11:30 10:20:30"
        exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPS
        out = io.BytesIO()
        im.save(out, "JPEG", exif=exif.tobytes(), quality=92)
        width, height = im.size
    original = out.getvalue()
    assert b"Exif" in original and b"CameraMaker" in original
    answer = _upload(service, auth, patient_id, original)
    assert answer.status_code == 201, answer.text
    photo_id = answer.json()["id"]
    image = service.client.get(f"/api/v1/photos/{photo_id}/image", headers=auth)
    assert image.status_code == 200
    assert image.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in image.headers["cache-control"]
    assert image.headers["content-type"] == "image/png"
    stored = [p.read_bytes() for p in service.settings.photos_dir.iterdir()]
    assert stored == [image.content]
    for marker in (b"Exif", b"eXIf", b"GPS", b"CameraMaker", b"tEXt", b"iTXt", b"zTXt"):
        assert marker not in image.content, marker
    with Image.open(io.BytesIO(image.content)) as back:
        assert back.size == (height, width)  # orientation applied
        assert not back.getexif()
    visits = service.client.get(f"/api/v1/patients/{patient_id}", headers=auth).json()["visits"]
    assert visits[0]["photos"][0]["captured_at"] == "2026-11-30T10:20:30"
    names = [p.name for p in service.settings.photos_dir.iterdir()]
    assert names[0].endswith(".png") and "photo" not in names[0]


def test_photos_are_kept_outside_served_folders(service):
    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)
    _upload(service, auth, patient_id, face_jpeg(0))
    name = next(service.settings.photos_dir.iterdir()).name
    for path in (f"/static/{name}", f"/photos/{name}", f"/static/../photos/{name}", f"/{name}"):
        assert service.client.get(path, headers=auth).status_code == 404, path


def test_ids_are_never_reused_after_a_delete(service):
    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)
    _upload(service, auth, patient_id, face_jpeg(0))
    follow_up = _upload(service, auth, patient_id, face_jpeg(1), visit="day90", day=90).json()
    assert service.client.delete(f"/api/v1/photos/{follow_up['id']}", headers=auth).status_code == 204
    again = _upload(service, auth, patient_id, face_jpeg(2), visit="day90", day=90).json()
    assert again["id"] > follow_up["id"] and again["assessment_id"] > follow_up["assessment_id"]


def test_deleting_a_baseline_requeues_the_rest(service):
    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)
    base = _upload(service, auth, patient_id, face_jpeg(0)).json()
    _upload(service, auth, patient_id, face_jpeg(1), visit="day30", day=30)
    day90 = _upload(service, auth, patient_id, face_jpeg(2), visit="day90", day=90).json()
    assert service.client.delete(f"/api/v1/photos/{base['id']}", headers=auth).status_code == 204
    assert len(list(service.settings.photos_dir.iterdir())) == 2
    patient = service.client.get(f"/api/v1/patients/{patient_id}", headers=auth).json()
    assessments = [a for v in patient["visits"] for a in v["assessments"]]
    assert [a["photo_id"] for a in assessments] == [day90["id"]]
    assert service.queued[-1] == assessments[0]["id"]
    assert service.client.get(f"/api/v1/photos/{base['id']}/image", headers=auth).status_code == 404


def test_security_headers_on_every_answer(service):
    for answer in (service.client.get("/login"), service.client.get("/api/v1/patients"),
                   service.client.get("/static/app.css"), service.client.get("/nowhere")):
        assert "default-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"


def test_passwords_and_tokens_are_stored_hashed(service):
    from outcomes.service.db import ApiToken, User

    service.add_user("dr.lee")
    token = service.token("dr.lee")
    with service.sessions().begin() as session:
        user = session.scalar(select(User))
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        stored = session.scalar(select(ApiToken))
        assert token not in stored.token_hash and len(stored.token_hash) == 64
        dumped = " ".join(str(v) for row in session.execute(text("SELECT * FROM api_tokens")) for v in row)
        assert token not in dumped


def test_a_revoked_token_stops_working(service):
    service.add_user("dr.lee")
    auth = {"Authorization": f"Bearer {service.token('dr.lee')}"}
    assert service.client.get("/api/v1/patients", headers=auth).status_code == 200
    assert service.client.delete("/api/v1/tokens/current", headers=auth).status_code == 204
    answer = service.client.get("/api/v1/patients", headers=auth)
    assert answer.status_code == 401 and answer.json()["code"] == "token_invalid"


def test_an_expired_token_stops_working(service):
    from sqlalchemy import update

    from outcomes.service.db import ApiToken

    service.add_user("dr.lee")
    auth = {"Authorization": f"Bearer {service.token('dr.lee')}"}
    with service.sessions().begin() as session:
        session.execute(update(ApiToken).values(expires_at="2000-01-01T00:00:00.000000Z"))
    assert service.client.get("/api/v1/patients", headers=auth).status_code == 401


@pytest.mark.parametrize("known", [True, False])
def test_login_is_throttled_after_ten_failures(service, known):
    username = service.add_user("dr.lee") if known else "nobody"
    messages = set()
    for _ in range(10):
        answer = service.client.post("/api/v1/tokens", json={"username": username, "password": "wrong-password"})
        assert answer.status_code == 401
        messages.add(answer.json()["error"])
    assert messages == {"wrong user name or password"}
    answer = service.client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 429 and answer.json()["code"] == "too_many_attempts"
    other = service.add_user("dr.other")
    assert service.client.post("/api/v1/tokens", json={"username": other, "password": PASSWORD}).status_code == 201


def test_migrations_match_the_models(service):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from outcomes.service.db import Base, make_engine

    engine = make_engine(service.settings.database)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_who_may_upload_is_checked_before_the_body(service):
    writer = service.auth(service.add_user("dr.lee"))
    viewer = service.auth(service.add_user("assistant", role="viewer"))
    patient_id = _patient(service, writer)
    # not an image: a check made after reading the body would answer 415
    answer = _upload(service, viewer, patient_id, b"<html></html>", name="x.jpg")
    assert answer.status_code == 403 and answer.json()["code"] == "read_only_role"


def test_a_body_of_unstated_length_over_the_cap_is_refused(tmp_path, database_url):
    from tests.service.conftest import make_service

    service = make_service(tmp_path, database_url, max_upload_bytes=50_000)
    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)

    def chunks():
        for _ in range(20):
            yield b"\0" * 10_000

    answer = service.client.post(f"/api/v1/patients/{patient_id}/photos", content=chunks(),
                                 headers={**auth, "Content-Type": "multipart/form-data; boundary=x"})
    assert answer.status_code == 413 and answer.json()["code"] == "upload_too_large"


def test_a_16_bit_greyscale_image_is_refused_before_decoding(service):
    import numpy as np
    from PIL import Image

    auth = service.auth(service.add_user("dr.lee"))
    patient_id = _patient(service, auth)
    out = io.BytesIO()
    Image.fromarray(np.zeros((3000, 3000), np.uint16)).save(out, "PNG")
    answer = _upload(service, auth, patient_id, out.getvalue(), name="grey.png")
    assert answer.status_code == 422 and answer.json()["code"] == "image_greyscale"


def test_ids_out_of_range_are_not_found(service):
    auth = service.auth(service.add_user("dr.lee"))
    for path in ("/api/v1/patients/2147483648", "/api/v1/patients/99999999999999999999",
                 "/api/v1/photos/2147483648/image", "/api/v1/assessments/2147483648", "/api/v1/patients/0"):
        answer = service.client.get(path, headers=auth)
        assert answer.status_code == 404, path


def test_an_internal_error_is_one_line_with_the_security_headers(service):
    from fastapi.testclient import TestClient

    def broken():  # noqa: ANN202
        raise RuntimeError("/secret/path/inside")

    service.app.add_api_route("/api/v1/broken", broken)
    client = TestClient(service.app, base_url="https://testserver", raise_server_exceptions=False)
    answer = client.get("/api/v1/broken")
    assert answer.status_code == 500 and answer.json()["code"] == "internal_error"
    assert "/secret" not in answer.text
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_unknown_users_cost_a_password_check_too(service, monkeypatch):
    from argon2 import PasswordHasher

    calls = []
    real = PasswordHasher.verify
    monkeypatch.setattr(PasswordHasher, "verify", lambda self, h, p: calls.append(h) or real(self, h, p))
    service.add_user("dr.lee")
    calls.clear()
    service.client.post("/api/v1/tokens", json={"username": "nobody", "password": "whatever-it-is"})
    assert len(calls) == 1  # against a dummy hash, as long as a real check takes


def test_login_is_throttled_per_address(service):
    for i in range(50):  # one failure each for 50 names, all from the test client's address
        answer = service.client.post("/api/v1/tokens", json={"username": f"name{i}", "password": "wrong-password"})
        assert answer.status_code == 401
    service.add_user("dr.lee")
    answer = service.client.post("/api/v1/tokens", json={"username": "dr.lee", "password": PASSWORD})
    assert answer.status_code == 429
