"""Receiving one photo upload, shared by the API and the upload page.

Who may upload is checked before the body is read; the multipart body is parsed with
limits, the photo checked and stored re-encoded, then recorded and its assessments queued.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from outcomes.service import records
from outcomes.service.errors import Unprocessable
from outcomes.service.security import Caller


async def receive_photo(request: Request, patient_id: int,
                        authorised: Callable[[], object],
                        check_form: Callable[[Caller, object], None] | None = None) -> records.AddedPhoto:
    """Store and record the photo of a multipart upload to ``patient_id``.

    Parameters
    ----------
    authorised : callable
        Returns a context manager yielding ``(session, caller)`` in a transaction.
    check_form : callable, optional
        Called with the caller and the parsed form before the photo is decoded (the
        pages' CSRF check).
    """
    from starlette.datastructures import UploadFile

    from outcomes.service.uploads import store_upload

    state = request.app.state.outcomes

    def check_caller() -> Caller:
        with authorised() as (session, caller):
            records.require_writer(caller)
            records.get_patient(session, caller, patient_id)
            return caller

    caller = await run_in_threadpool(check_caller)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise Unprocessable("send the photo as multipart/form-data with the fields file, visit, visit_day "
                            "and optionally view", code="invalid_request")
    async with request.form(max_files=1, max_fields=10) as form:
        if check_form is not None:
            check_form(caller, form)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Unprocessable("the multipart field 'file' (the photo) is missing", code="file_missing")
        visit_name, day, view_name = records.parse_visit(form.get("visit"), form.get("visit_day"), form.get("view"))
        data = await upload.read()
    stored = await run_in_threadpool(store_upload, data, state.settings.photos_dir, state.settings.max_upload_pixels)

    def record() -> records.AddedPhoto:
        try:
            with authorised() as (session, caller):
                patient = records.get_patient(session, caller, patient_id, lock=True)
                return records.add_photo(session, caller, patient, stored, visit_name, day, view_name)
        except BaseException:
            (state.settings.photos_dir / stored.stored_name).unlink(missing_ok=True)
            raise

    added = await run_in_threadpool(record)
    state.queue(added.queued)
    if added.is_baseline and state.prepare_baseline is not None:
        try:
            state.prepare_baseline(stored.stored_name, stored.sha256)
        except Exception:  # noqa: BLE001 - only a head start
            pass
    return added



