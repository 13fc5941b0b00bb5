"""The clinic's pages: patients, a patient's timeline, uploading a photo, an assessment's result.

Server-rendered (Jinja2) with a little plain JavaScript from ``/static``; nothing is loaded
from elsewhere and nothing inline, so the CSP can stay ``'self'``.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select

from outcomes.service import audit, records, wording
from outcomes.service.app import IMAGE_HEADERS, state_of
from outcomes.service.db import Patient, Photo, Visit
from outcomes.service.errors import NotFound, ServiceError
from outcomes.service.pages import check_csrf, page_transaction, render
from outcomes.service.pictures import RESULT_FILES
from outcomes.service.settings import CONSENT_SCOPES, FITZPATRICK_TYPES
from outcomes.service.storage import remove_photo_files
from outcomes.service.timeline import timeline_points, timeline_svg

router = APIRouter()
def _audit(session, caller, action: str, object_type: str, object_id: int, patient_id: int | None,  # noqa: ANN001
           **detail) -> None:  # noqa: ANN003
    audit.record(session, action, username=caller.username, user_id=caller.user_id, clinic_id=caller.clinic_id,
                 object_type=object_type, object_id=object_id, patient_id=patient_id, ip=caller.ip,
                 detail=detail or None)


# --- patients ----------------------------------------------------------------------------

def _patients_page(request: Request, q: str = "", error: str = "", status_code: int = 200,
                   form: dict | None = None) -> Response:
    with page_transaction(request) as (session, caller):
        query = select(Patient).where(Patient.clinic_id == caller.clinic_id)
        if q:
            query = query.where(Patient.external_id.contains(q, autoescape=True))
        patients = session.scalars(query.order_by(Patient.external_id).limit(500)).all()
        _audit(session, caller, "view", "patient_list", 0, None, **({"query": q} if q else {}))
    return render("patients.html", status_code, caller=caller, patients=patients, q=q, error=error,
                  form=form or {}, fitzpatrick_types=FITZPATRICK_TYPES, consent_scopes=CONSENT_SCOPES)


@router.get("/patients")
def patients(request: Request, q: str = "") -> Response:
    return _patients_page(request, q.strip())


@router.post("/patients")
async def create_patient(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=20)
    values = {"external_id": str(form.get("external_id", "")), "fitzpatrick": str(form.get("fitzpatrick", "")),
              "consent": [str(v) for v in form.getlist("consent")]}

    def create() -> int:
        with page_transaction(request) as (session, caller):
            check_csrf(caller, form.get("csrf_token"))
            return records.create_patient(session, caller, values["external_id"], values["fitzpatrick"] or None,
                                          values["consent"]).id

    try:
        patient_id = await run_in_threadpool(create)
    except ServiceError as exc:
        if exc.code in ("csrf_failed", "login_required"):
            raise
        return await run_in_threadpool(_patients_page, request, "", str(exc), exc.status, values)
    return RedirectResponse(f"/patients/{patient_id}", status_code=303)


@router.get("/patients/{patient_id}")
def timeline(request: Request, patient_id: int, uploaded: str = "", deleted: str = "") -> Response:
    with page_transaction(request) as (session, caller):
        patient = records.get_patient(session, caller, patient_id)
        record = records.patient_json(session, patient)
        points = timeline_points(session, patient.id)
        _audit(session, caller, "view", "patient", patient.id, patient.id)
    return render("timeline.html", caller=caller, patient=record, points=points, chart=timeline_svg(points),
                  uploaded=uploaded, deleted=deleted)


# --- upload ------------------------------------------------------------------------------

def _upload_page(request: Request, patient_id: int, error: str = "", status_code: int = 200,
                 form: dict | None = None) -> Response:
    with page_transaction(request) as (session, caller):
        records.require_writer(caller)
        patient = records.get_patient(session, caller, patient_id)
        visits = session.scalars(select(Visit).where(Visit.patient_id == patient.id).order_by(Visit.day)).all()
        baseline = session.execute(select(Photo.id).join(Visit, Photo.visit_id == Visit.id).where(
            Photo.patient_id == patient.id, Photo.view == "frontal").order_by(Visit.day, Photo.id)).scalar()
    return render("upload.html", status_code, caller=caller, patient=patient, visits=visits, baseline_id=baseline,
                  error=error, form=form or {})


@router.get("/patients/{patient_id}/upload")
def upload_page(request: Request, patient_id: int, visit: str = "", visit_day: str = "", retake: str = "") -> Response:
    form = {"visit": visit, "visit_day": visit_day, "retake": bool(retake)} if visit else None
    return _upload_page(request, patient_id, form=form)


@router.post("/patients/{patient_id}/photos")
async def upload(request: Request, patient_id: int) -> Response:
    from outcomes.errors import OutcomesError
    from outcomes.service.errors import status_of
    from outcomes.service.intake import receive_photo

    entered: dict = {}  # the visit fields as typed, to fill in again when the photo is refused

    def check_form(caller, form) -> None:  # noqa: ANN001
        check_csrf(caller, form.get("csrf_token"))
        entered.update({k: str(form.get(k) or "") for k in ("visit", "visit_day")})

    try:
        added = await receive_photo(request, patient_id, lambda: page_transaction(request), check_form=check_form)
    except OutcomesError as exc:
        if exc.code in ("csrf_failed", "login_required", "read_only_role", "patient_not_found"):
            raise
        return await run_in_threadpool(_upload_page, request, patient_id, str(exc), status_of(exc), entered or None)
    if added.assessment_id is not None:
        return RedirectResponse(f"/assessments/{added.assessment_id}", status_code=303)
    kind = "baseline" if added.is_baseline else "photo"
    return RedirectResponse(f"/patients/{patient_id}?uploaded={kind}#photo-{added.photo.id}", status_code=303)


@router.post("/photos/{photo_id}/delete")
async def delete_photo(request: Request, photo_id: int) -> Response:
    """Delete a photo (a follow-up to retake, usually) with its assessments and files."""
    form = await request.form(max_files=0, max_fields=5)
    settings = state_of(request).settings

    def delete() -> records.DeletedPhoto:
        with page_transaction(request) as (session, caller):
            check_csrf(caller, form.get("csrf_token"))
            return records.delete_callers_photo(session, caller, photo_id)

    deleted = await run_in_threadpool(delete)
    remove_photo_files(settings, deleted.stored_name, deleted.assessment_ids)
    state_of(request).queue(deleted.queued)
    if form.get("then") == "retake":
        query = urlencode({"visit": deleted.visit, "visit_day": deleted.visit_day, "retake": 1})
        return RedirectResponse(f"/patients/{deleted.patient_id}/upload?{query}", status_code=303)
    return RedirectResponse(f"/patients/{deleted.patient_id}?deleted=1", status_code=303)


@router.post("/patients/{patient_id}/check")
async def check_photo(request: Request, patient_id: int, view: str = "frontal") -> JSONResponse:
    """The framing check of a photo not yet uploaded (body: the image; header ``X-CSRF-Token``):
    no face, pose, expression, another person, face size against the baseline."""
    from outcomes.service.uploads import sniff_image_type

    state = state_of(request)

    def baseline_name() -> str | None:
        with page_transaction(request) as (session, caller):
            check_csrf(caller, request.headers.get("x-csrf-token"))
            records.require_writer(caller)
            patient = records.get_patient(session, caller, patient_id)
            return session.execute(select(Photo.stored_name).join(Visit, Photo.visit_id == Visit.id).where(
                Photo.patient_id == patient.id, Photo.view == view).order_by(Visit.day, Photo.id)).scalar()

    baseline = await run_in_threadpool(baseline_name)
    data = await request.body()
    sniff_image_type(data[:16])

    def already_uploaded() -> str | None:
        digest = hashlib.sha256(data).hexdigest()
        with page_transaction(request) as (session, caller):
            row = session.execute(select(Visit.name).join(Photo, Photo.visit_id == Visit.id).where(
                Photo.patient_id == patient_id, Photo.sha256 == digest)).scalar()
        return row

    same = await run_in_threadpool(already_uploaded)
    if same is not None:
        return JSONResponse({"warnings": [f"This very file is already this patient's photo of the visit {same!r}: "
                                          "a follow-up must be a new photograph."], "checked": True,
                             "baseline": baseline is not None})
    if state.check_framing is None:
        return JSONResponse({"warnings": [], "checked": False, "note": "no workers to check the framing"})
    try:
        answer = await run_in_threadpool(state.check_framing, data, baseline)
    except Exception:  # noqa: BLE001 - a check that times out or fails must not block the upload
        return JSONResponse({"warnings": [], "checked": False, "note": "the framing check did not answer in time"})
    return JSONResponse({**answer, "checked": True, "baseline": baseline is not None})


# --- photos ------------------------------------------------------------------------------

def _scaled_copy(request: Request, photo_id: int, kind: str, longest: int, audited: bool) -> Response:
    """A JPEG of the stored photo no longer than ``longest`` px, made once and kept beside the photos."""
    settings = state_of(request).settings
    with page_transaction(request) as (session, caller):
        photo, patient = records.get_photo(session, caller, photo_id)
        if audited:
            _audit(session, caller, "view", "photo", photo.id, patient.id, size=kind)
        stored_name = photo.stored_name
    path = settings.data_dir / "scaled" / f"{stored_name.removesuffix('.png')}.{kind}.jpg"
    if not path.exists():
        import cv2

        bgr = cv2.imread(str(settings.photos_dir / stored_name), cv2.IMREAD_COLOR)
        if bgr is None:
            raise NotFound(f"photo {photo_id}'s file is missing", code="photo_file_missing")
        scale = min(1.0, longest / max(bgr.shape[:2]))
        if scale < 1:
            bgr = cv2.resize(bgr, (round(bgr.shape[1] * scale), round(bgr.shape[0] * scale)),
                             interpolation=cv2.INTER_AREA)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 88])[1].tobytes())
        tmp.replace(path)
    return FileResponse(path, media_type="image/jpeg", headers=IMAGE_HEADERS)


@router.get("/photos/{photo_id}/preview")
def photo_preview(request: Request, photo_id: int) -> Response:
    return _scaled_copy(request, photo_id, "preview", 1280, audited=True)


@router.get("/photos/{photo_id}/thumb")
def photo_thumb(request: Request, photo_id: int) -> Response:
    return _scaled_copy(request, photo_id, "thumb", 240, audited=False)


# --- results -----------------------------------------------------------------------------

@router.get("/assessments/{assessment_id}")
def result(request: Request, assessment_id: int) -> Response:
    settings = state_of(request).settings
    with page_transaction(request) as (session, caller):
        row, patient = records.get_assessment(session, caller, assessment_id)
        follow_up, baseline = session.get(Photo, row.photo_id), session.get(Photo, row.baseline_photo_id)
        visits = {v.id: v for v in session.scalars(select(Visit).where(Visit.patient_id == patient.id))}
        _audit(session, caller, "view", "assessment", row.id, patient.id)
    data = json.loads(row.result) if row.result else None
    view = {}
    view_file = settings.results_dir / str(row.id) / "view.json"
    if data is not None and view_file.exists():
        view = json.loads(view_file.read_text())
    report_ready = (settings.results_dir / str(row.id) / "report.html").exists()
    context = {"caller": caller, "row": row, "patient": patient, "result": data, "view": view,
               "report_ready": report_ready,
               "follow_up_visit": visits[follow_up.visit_id], "baseline_visit": visits[baseline.visit_id],
               "wording": wording}
    return render("result.html", **context)


@router.get("/assessments/{assessment_id}/status")
def result_status(request: Request, assessment_id: int) -> JSONResponse:
    with page_transaction(request) as (session, caller):
        row, _ = records.get_assessment(session, caller, assessment_id)
        return JSONResponse({"status": row.status})


@router.get("/assessments/{assessment_id}/files/{name}")
def result_file(request: Request, assessment_id: int, name: str) -> Response:
    if name not in RESULT_FILES:
        raise NotFound("no such file", code="not_found")
    with page_transaction(request) as (session, caller):
        row, patient = records.get_assessment(session, caller, assessment_id)
        if name == "report.html":
            _audit(session, caller, "export", "assessment", row.id, patient.id, file=name)
    path = state_of(request).settings.results_dir / str(row.id) / name
    if row.status != "done" or not path.exists():
        raise NotFound(f"assessment {assessment_id} has no {name} (yet)", code="not_found")
    if name == "report.html":
        return FileResponse(path, media_type="text/html", headers=IMAGE_HEADERS,
                            filename=f"assessment-{assessment_id}.html")  # an attachment, never shown in the app
    return FileResponse(path, media_type=RESULT_FILES[name], headers=IMAGE_HEADERS)



