"""What the routes do with the records: patients, visits, photos and their assessments.

Every lookup is scoped to the caller's clinic: an object of another clinic is answered
exactly as a missing one (404), so ids reveal nothing. Functions run inside the caller's
transaction; the routes commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from outcomes.service import audit
from outcomes.service.db import Assessment, Patient, Photo, Visit
from outcomes.service.errors import Conflict, Forbidden, NotFound, Unprocessable
from outcomes.service.security import Caller
from outcomes.service.settings import CONSENT_SCOPES, FITZPATRICK_TYPES
from outcomes.service.uploads import StoredPhoto


def require_writer(caller: Caller) -> None:
    if not caller.can_write:
        raise Forbidden(f"user {caller.username!r} has the {caller.role} role, which can only read",
                        code="read_only_role")


def normalise_fitzpatrick(value: object) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().upper()
    numerals = {str(i + 1): t for i, t in enumerate(FITZPATRICK_TYPES)}
    text = numerals.get(text, text)
    if text not in FITZPATRICK_TYPES:
        raise Unprocessable(f"fitzpatrick: expected I-VI or null, got {value!r}", code="fitzpatrick_invalid")
    return text


def normalise_consent(value: object) -> str:
    scopes = ["care"] if value is None else value
    if isinstance(scopes, str):
        scopes = [s for s in scopes.split(",") if s.strip()]
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise Unprocessable("consent: expected a list of scopes", code="consent_invalid")
    scopes = [s.strip().lower() for s in scopes]
    unknown = sorted(set(scopes) - set(CONSENT_SCOPES))
    if unknown:
        raise Unprocessable(f"consent: unknown scope(s) {unknown}; use {list(CONSENT_SCOPES)}", code="consent_invalid")
    return ",".join(s for s in CONSENT_SCOPES if s in scopes)


def create_patient(session: Session, caller: Caller, external_id: object, fitzpatrick: object,
                   consent: object = None) -> Patient:
    require_writer(caller)
    if not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 200:
        raise Unprocessable("external_id: expected a non-empty text of at most 200 characters",
                            code="external_id_invalid")
    external_id = external_id.strip()
    if session.scalar(select(Patient.id).where(Patient.clinic_id == caller.clinic_id,
                                               Patient.external_id == external_id)) is not None:
        raise Conflict(f"a patient with external id {external_id!r} already exists in this clinic",
                       code="patient_exists")
    patient = Patient(clinic_id=caller.clinic_id, external_id=external_id,
                      fitzpatrick=normalise_fitzpatrick(fitzpatrick), consent=normalise_consent(consent))
    session.add(patient)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"a patient with external id {external_id!r} already exists in this clinic",
                       code="patient_exists") from None
    audit.record(session, "create", username=caller.username, user_id=caller.user_id, clinic_id=caller.clinic_id,
                 object_type="patient", object_id=patient.id, patient_id=patient.id, ip=caller.ip)
    return patient


MAX_ID = 2**31 - 1  # ids are 32-bit integers in both databases


def get_patient(session: Session, caller: Caller, patient_id: int, *, lock: bool = False) -> Patient:
    """The caller's clinic's patient; ``lock`` holds its row until the transaction ends (PostgreSQL: other
    uploads to the same patient wait; SQLite's write transactions are serial anyway)."""
    if not 1 <= patient_id <= MAX_ID:
        raise NotFound(f"no patient {patient_id}", code="patient_not_found")
    patient = session.get(Patient, patient_id, with_for_update=lock)
    if patient is None or patient.clinic_id != caller.clinic_id:
        raise NotFound(f"no patient {patient_id}", code="patient_not_found")
    return patient


def _patients_object(session: Session, caller: Caller, model, object_id: int, what: str):  # noqa: ANN001, ANN202
    """A photo or assessment of the caller's clinic, with its patient; anything else is "no such"."""
    missing = NotFound(f"no {what} {object_id}", code=f"{what}_not_found")
    if not 1 <= object_id <= MAX_ID:
        raise missing
    row = session.get(model, object_id)
    patient = session.get(Patient, row.patient_id) if row is not None else None
    if patient is None or patient.clinic_id != caller.clinic_id:
        raise missing
    return row, patient


def get_photo(session: Session, caller: Caller, photo_id: int) -> tuple[Photo, Patient]:
    return _patients_object(session, caller, Photo, photo_id, "photo")


def get_assessment(session: Session, caller: Caller, assessment_id: int) -> tuple[Assessment, Patient]:
    return _patients_object(session, caller, Assessment, assessment_id, "assessment")


def parse_visit(name: object, day: object, view: object) -> tuple[str, int, str]:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise Unprocessable("visit: expected the visit's name (at most 200 characters)", code="visit_invalid")
    try:
        day_number = int(str(day).strip())
    except (TypeError, ValueError):
        raise Unprocessable(f"visit_day: expected an integer (days since the first visit), got {day!r}",
                            code="visit_day_invalid") from None
    if not -36500 <= day_number <= 36500:
        raise Unprocessable(f"visit_day: {day_number} is outside ±36500 days", code="visit_day_invalid")
    view_name = "frontal" if view in (None, "") else str(view).strip().lower()
    if not view_name.replace("_", "").replace("-", "").isalnum() or len(view_name) > 40:
        raise Unprocessable(f"view: expected a short name such as 'frontal', got {view!r}", code="view_invalid")
    return name.strip(), day_number, view_name


@dataclass(frozen=True)
class AddedPhoto:
    photo: Photo
    assessment_id: int | None  # the new photo's own assessment against the baseline
    queued: tuple[int, ...]  # every assessment this upload queued (a new, earlier baseline queues several)
    is_baseline: bool = False  # the photo is now its view's baseline


def add_photo(session: Session, caller: Caller, patient: Patient, stored: StoredPhoto, visit_name: str,
              visit_day: int, view: str) -> AddedPhoto:
    """Record an uploaded photo and queue what it makes assessable.

    The photo with the smallest visit day of the patient and view is the baseline; a
    later photo is assessed against it; a photo earlier than the baseline becomes the
    baseline and every later photo is assessed against it too. ``patient`` must have been
    read with ``lock=True``, so that two uploads at once cannot both become the baseline.
    """
    require_writer(caller)
    visit = session.scalar(select(Visit).where(Visit.patient_id == patient.id, Visit.name == visit_name))
    if visit is None:
        visit = Visit(patient_id=patient.id, name=visit_name, day=visit_day)
        session.add(visit)
        session.flush()
    elif visit.day != visit_day:
        raise Conflict(f"visit {visit_name!r} of this patient is on day {visit.day}, not {visit_day}",
                       code="visit_day_conflict")
    same_view = session.execute(select(Photo, Visit.day).join(Visit, Photo.visit_id == Visit.id).where(
        Photo.patient_id == patient.id, Photo.view == view).order_by(Visit.day, Photo.id)).all()
    for other, _ in same_view:
        if other.sha256 == stored.sha256:
            raise Conflict(f"this exact file (sha256 {stored.sha256[:12]}…) is already photo {other.id} of this "
                           "patient; a follow-up must be a new photograph", code="same_photo")
    photo = Photo(visit_id=visit.id, patient_id=patient.id, view=view, sha256=stored.sha256,
                  stored_name=stored.stored_name, width=stored.width, height=stored.height,
                  captured_at=stored.captured_at, uploaded_by=caller.user_id)
    session.add(photo)
    session.flush()
    queued: list[int] = []
    own: int | None = None
    if same_view:
        baseline, baseline_day = same_view[0]
        if visit_day > baseline_day:
            own = _queue(session, patient.id, photo.id, baseline.id)
            queued.append(own)
        elif visit_day < baseline_day:
            queued.extend(_queue(session, patient.id, other.id, photo.id) for other, _ in same_view)
    audit.record(session, "upload", username=caller.username, user_id=caller.user_id, clinic_id=caller.clinic_id,
                 object_type="photo", object_id=photo.id, patient_id=patient.id, ip=caller.ip,
                 detail={"visit": visit_name, "visit_day": visit_day, "view": view, "sha256": stored.sha256,
                         "queued": queued})
    is_baseline = not same_view or visit_day < same_view[0][1]
    return AddedPhoto(photo, own, tuple(queued), is_baseline)


def _queue(session: Session, patient_id: int, photo_id: int, baseline_photo_id: int) -> int:
    row = Assessment(patient_id=patient_id, photo_id=photo_id, baseline_photo_id=baseline_photo_id,
                     status="queued", attempts=0)
    session.add(row)
    session.flush()
    return row.id


def assessment_json(row: Assessment) -> dict:
    return {"id": row.id, "status": row.status, "error": row.error, "error_code": row.error_code,
            "result": json.loads(row.result) if row.result else None, "patient_id": row.patient_id,
            "photo_id": row.photo_id, "baseline_photo_id": row.baseline_photo_id, "attempts": row.attempts,
            "created_at": row.created_at, "finished_at": row.finished_at}


def patient_json(session: Session, patient: Patient) -> dict:
    """The patient with its visits (earliest first), each with its photos and assessments."""
    visits = session.scalars(select(Visit).where(Visit.patient_id == patient.id).order_by(Visit.day, Visit.id)).all()
    photos = session.scalars(select(Photo).where(Photo.patient_id == patient.id).order_by(Photo.id)).all()
    assessments = session.scalars(select(Assessment).where(Assessment.patient_id == patient.id)
                                  .order_by(Assessment.id)).all()
    visit_of_photo = {p.id: p.visit_id for p in photos}
    out = []
    for visit in visits:
        out.append({
            "id": visit.id, "name": visit.name, "day": visit.day,
            "photos": [{"id": p.id, "sha256": p.sha256, "view": p.view, "width": p.width, "height": p.height,
                        "captured_at": p.captured_at, "uploaded_at": p.uploaded_at}
                       for p in photos if p.visit_id == visit.id],
            "assessments": [{"id": a.id, "status": a.status, "photo_id": a.photo_id,
                             "baseline_photo_id": a.baseline_photo_id, **_headline(a)}
                            for a in assessments if visit_of_photo.get(a.photo_id) == visit.id],
        })
    return {"id": patient.id, "external_id": patient.external_id, "fitzpatrick": patient.fitzpatrick,
            "consent": patient.consent.split(",") if patient.consent else [], "created_at": patient.created_at,
            "visits": out}


def _headline(row: Assessment) -> dict:
    """GAIS, improvement score, PIH and usability of a finished assessment, for timelines."""
    if row.status != "done" or not row.result:
        return {}
    result = json.loads(row.result)
    gais = result.get("gais", {})
    return {"gais_grade": gais.get("grade"), "improvement_score": gais.get("improvement_score"),
            "pih_flag": result.get("pih", {}).get("flag"), "usable": result.get("qc", {}).get("usable")}


def delete_callers_photo(session: Session, caller: Caller, photo_id: int) -> DeletedPhoto:
    """:func:`delete_photo` for a caller who may write, on their clinic's photo, audited."""
    require_writer(caller)
    photo, patient = get_photo(session, caller, photo_id)
    get_patient(session, caller, patient.id, lock=True)
    deleted = delete_photo(session, photo)
    audit.record(session, "delete", username=caller.username, user_id=caller.user_id, clinic_id=caller.clinic_id,
                 object_type="photo", object_id=photo_id, patient_id=patient.id, ip=caller.ip,
                 detail={"sha256": photo.sha256, "assessments": list(deleted.assessment_ids),
                         "queued": list(deleted.queued)})
    return deleted


@dataclass(frozen=True)
class DeletedPhoto:
    patient_id: int
    visit: str
    visit_day: int
    stored_name: str
    assessment_ids: tuple[int, ...]  # deleted with it (their result folders go too)
    queued: tuple[int, ...]  # queued against the new baseline


def delete_photo(session: Session, photo: Photo) -> DeletedPhoto:
    """Delete a photo and every assessment it takes part in; when it was the baseline, the next
    earliest photo becomes the baseline and the later ones are queued against it. The caller
    removes the files (:func:`outcomes.service.storage.remove_photo_files`) once committed."""
    from sqlalchemy import delete, or_

    involved = or_(Assessment.photo_id == photo.id, Assessment.baseline_photo_id == photo.id)
    deleted = tuple(session.scalars(select(Assessment.id).where(involved)))
    session.execute(delete(Assessment).where(involved))
    visit = session.get(Visit, photo.visit_id)
    session.delete(photo)
    session.flush()
    if session.scalar(select(Photo.id).where(Photo.visit_id == visit.id).limit(1)) is None:
        session.delete(visit)  # a visit is its photos; an emptied one would linger in the timeline
        session.flush()
    rest = session.execute(select(Photo, Visit.day).join(Visit, Photo.visit_id == Visit.id).where(
        Photo.patient_id == photo.patient_id, Photo.view == photo.view).order_by(Visit.day, Photo.id)).all()
    queued: list[int] = []
    if rest:
        baseline, baseline_day = rest[0]
        have = set(session.scalars(select(Assessment.photo_id).where(Assessment.baseline_photo_id == baseline.id)))
        queued = [_queue(session, photo.patient_id, other.id, baseline.id)
                  for other, day in rest[1:] if day > baseline_day and other.id not in have]
    return DeletedPhoto(photo.patient_id, visit.name, visit.day, photo.stored_name, deleted, tuple(queued))
