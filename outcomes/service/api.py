"""The JSON API under ``/api/v1`` (see ``../shared/CONTRACT.md``): bearer tokens, patients,
photo uploads, assessments, stored photos.

Every route but ``POST /tokens`` needs ``Authorization: Bearer TOKEN``; page-session
cookies are not accepted here, so a forged cross-site request carries no credentials.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from outcomes.service import audit, records
from outcomes.service.app import IMAGE_HEADERS, client_ip, state_of
from outcomes.service.db import Assessment, Patient
from outcomes.service.errors import Unauthorized, Unprocessable
from outcomes.service.security import Caller, caller_from_token, issue_token, log_in, revoke_token
from outcomes.service.storage import remove_photo_files

router = APIRouter(prefix="/api/v1")
@contextmanager
def authorised(request: Request) -> Iterator[tuple[Session, Caller]]:
    """A transaction and the bearer token's user (401 without a valid token)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("this route needs an 'Authorization: Bearer TOKEN' header (POST /api/v1/tokens gives one)",
                           code="token_missing")
    with state_of(request).transaction() as session:
        yield session, caller_from_token(session, token.strip(), client_ip(request))


def _audit(session: Session, caller: Caller, action: str, object_type: str, object_id: int,
           patient_id: int | None, **detail) -> None:  # noqa: ANN003
    audit.record(session, action, username=caller.username, user_id=caller.user_id, clinic_id=caller.clinic_id,
                 object_type=object_type, object_id=object_id, patient_id=patient_id, ip=caller.ip,
                 detail=detail or None)


async def _json_body(request: Request) -> dict:
    try:
        body = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise Unprocessable("the request body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise Unprocessable("the request body must be a JSON object", code="invalid_json")
    return body


@router.post("/tokens", status_code=201)
async def create_token(request: Request) -> JSONResponse:
    body = await _json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise Unprocessable("give {\"username\": …, \"password\": …}", code="invalid_request")
    state = state_of(request)

    def attempt() -> str:
        with state.transaction() as session:
            outcome = log_in(session, state.settings, username, password, client_ip(request), via="api")
            if not isinstance(outcome, Exception):
                return issue_token(session, state.settings, outcome)
        raise outcome  # after the audit row of the failure is committed

    token = await run_in_threadpool(attempt)
    return JSONResponse({"token": token}, status_code=201)


@router.delete("/tokens/current", status_code=204)
def delete_token(request: Request) -> Response:
    with authorised(request) as (session, caller):
        revoke_token(session, caller.token_id)
        audit.record(session, "logout", username=caller.username, user_id=caller.user_id,
                     clinic_id=caller.clinic_id, ip=caller.ip, detail={"via": "api"})
    return Response(status_code=204)


@router.post("/patients", status_code=201)
async def create_patient(request: Request) -> JSONResponse:
    body = await _json_body(request)

    def create() -> int:
        with authorised(request) as (session, caller):
            return records.create_patient(session, caller, body.get("external_id"), body.get("fitzpatrick"),
                                          body.get("consent")).id

    return JSONResponse({"id": await run_in_threadpool(create)}, status_code=201)


@router.get("/patients")
def list_patients(request: Request, q: str = "", limit: int = 100) -> dict:
    with authorised(request) as (session, caller):
        query = select(Patient).where(Patient.clinic_id == caller.clinic_id)
        if q:
            query = query.where(Patient.external_id.contains(q, autoescape=True))
        rows = session.scalars(query.order_by(Patient.external_id).limit(max(1, min(limit, 1000)))).all()
        _audit(session, caller, "view", "patient_list", 0, None, query=q)
        return {"patients": [{"id": p.id, "external_id": p.external_id, "fitzpatrick": p.fitzpatrick} for p in rows]}


@router.get("/patients/{patient_id}")
def get_patient(request: Request, patient_id: int) -> dict:
    with authorised(request) as (session, caller):
        patient = records.get_patient(session, caller, patient_id)
        _audit(session, caller, "view", "patient", patient.id, patient.id)
        return records.patient_json(session, patient)


@router.get("/patients/{patient_id}/export")
def export_patient(request: Request, patient_id: int) -> JSONResponse:
    """The patient's whole record with every finished assessment's result."""
    with authorised(request) as (session, caller):
        patient = records.get_patient(session, caller, patient_id)
        out = records.patient_json(session, patient)
        out["assessments"] = [records.assessment_json(a) for a in session.scalars(
            select(Assessment).where(Assessment.patient_id == patient.id).order_by(Assessment.id))]
        _audit(session, caller, "export", "patient", patient.id, patient.id)
    return JSONResponse(out, headers={"Content-Disposition": f'attachment; filename="patient-{patient_id}.json"'})


@router.post("/patients/{patient_id}/photos", status_code=201)
async def upload_photo(request: Request, patient_id: int) -> JSONResponse:
    """multipart: ``file``, ``visit``, ``visit_day``, optional ``view``."""
    from outcomes.service.intake import receive_photo

    added = await receive_photo(request, patient_id, lambda: authorised(request))
    return JSONResponse({"id": added.photo.id, "sha256": added.photo.sha256, "assessment_id": added.assessment_id,
                         "queued": list(added.queued)}, status_code=201)


@router.get("/assessments/{assessment_id}")
def get_assessment(request: Request, assessment_id: int) -> dict:
    with authorised(request) as (session, caller):
        row, patient = records.get_assessment(session, caller, assessment_id)
        _audit(session, caller, "view", "assessment", row.id, patient.id)
        return records.assessment_json(row)


@router.get("/photos/{photo_id}/image")
def get_photo_image(request: Request, photo_id: int) -> FileResponse:
    with authorised(request) as (session, caller):
        photo, patient = records.get_photo(session, caller, photo_id)
        _audit(session, caller, "view", "photo", photo.id, patient.id)
        path = state_of(request).settings.photos_dir / photo.stored_name
    return FileResponse(path, media_type="image/png", headers=IMAGE_HEADERS,
                        content_disposition_type="inline", filename=f"photo-{photo_id}.png")


@router.delete("/photos/{photo_id}", status_code=204)
def delete_photo(request: Request, photo_id: int) -> Response:
    state = state_of(request)
    with authorised(request) as (session, caller):
        deleted = records.delete_callers_photo(session, caller, photo_id)
    remove_photo_files(state.settings, deleted.stored_name, deleted.assessment_ids)
    state.queue(deleted.queued)
    return Response(status_code=204)

