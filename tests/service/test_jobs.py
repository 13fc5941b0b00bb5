"""The assessment queue's bookkeeping, on SQLite and PostgreSQL: claims, crash recovery, the attempt cap."""

from __future__ import annotations

from sqlalchemy import select, update

from tests.service.conftest import face_jpeg


def _queued_assessment(service) -> int:
    auth = service.auth(service.add_user("dr.lee"))
    patient = service.client.post("/api/v1/patients", json={"external_id": "P"}, headers=auth).json()["id"]
    for i, (visit, day) in enumerate((("baseline", 0), ("day90", 90))):
        answer = service.client.post(f"/api/v1/patients/{patient}/photos", headers=auth,
                                     files={"file": ("p.jpg", face_jpeg(i), "image/jpeg")},
                                     data={"visit": visit, "visit_day": str(day)})
    return answer.json()["assessment_id"]


def _row(service, assessment_id: int):  # noqa: ANN202
    from outcomes.service.db import Assessment

    with service.sessions().begin() as session:
        return session.get(Assessment, assessment_id)


def test_a_job_is_claimed_once(service):
    from outcomes.service.jobs import claim

    assessment_id = _queued_assessment(service)
    first = claim(service.sessions(), assessment_id)
    assert first is not None and first.attempt == 1
    assert claim(service.sessions(), assessment_id) is None
    assert _row(service, assessment_id).status == "running"


def test_a_stale_claim_cannot_overwrite_a_later_attempt(service):
    from outcomes.service.jobs import claim, finish, recover

    assessment_id = _queued_assessment(service)
    sessions = service.sessions()
    stale = claim(sessions, assessment_id)
    assert recover(sessions) == [assessment_id]  # as after a crash
    current = claim(sessions, assessment_id)
    assert not finish(sessions, stale, result={"from": "the stale worker"})
    assert finish(sessions, current, result={"from": "the current worker"})
    assert _row(service, assessment_id).result == '{"from": "the current worker"}'


def test_a_dead_workers_job_is_requeued_then_failed_after_three_attempts(service):
    import socket

    from outcomes.service.db import Assessment
    from outcomes.service.jobs import MAX_ATTEMPTS, claim, requeue_orphans

    assessment_id = _queued_assessment(service)
    sessions = service.sessions()
    dead = f"{socket.gethostname()}:999999999"  # no such process
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert claim(sessions, assessment_id).attempt == attempt
        with sessions.begin() as session:
            session.execute(update(Assessment).values(claimed_by=dead))
        requeued = requeue_orphans(sessions)
        assert requeued == ([assessment_id] if attempt < MAX_ATTEMPTS else [])
    row = _row(service, assessment_id)
    assert row.status == "failed" and row.error_code == "worker_died" and "3 times" in row.error


def test_a_live_workers_job_is_left_alone(service):
    from outcomes.service.jobs import claim, requeue_orphans

    assessment_id = _queued_assessment(service)
    claim(service.sessions(), assessment_id)  # claimed by this (living) process
    assert requeue_orphans(service.sessions()) == []
    assert _row(service, assessment_id).status == "running"


def test_jobs_waiting_too_long_are_found(service):
    from outcomes.service.db import Assessment, utc_in
    from outcomes.service.jobs import waiting_too_long

    assessment_id = _queued_assessment(service)
    assert waiting_too_long(service.sessions(), 60) == []
    with service.sessions().begin() as session:
        session.execute(update(Assessment).values(created_at=utc_in(-120)))
        assert session.scalar(select(Assessment.status)) == "queued"
    assert waiting_too_long(service.sessions(), 60) == [assessment_id]


def test_a_queue_that_cannot_be_reached_does_not_fail_the_upload(tmp_path, database_url):
    from tests.service.conftest import make_service

    service = make_service(tmp_path, database_url)

    def broken(_assessment_id: int) -> None:
        raise ConnectionError("queue down")

    service.app.state.outcomes.enqueue = broken
    assessment_id = _queued_assessment(service)
    assert assessment_id is not None and _row(service, assessment_id).status == "queued"


def test_a_cached_analysis_comes_back_with_its_lab_image(tmp_path):
    from dataclasses import dataclass

    import numpy as np

    from outcomes.color import srgb_to_lab
    from outcomes.service.jobs import load_analysis, store_analysis
    from outcomes.types import Photo

    @dataclass(frozen=True)
    class Analysis:  # the fields of FaceAnalysis the cache touches
        photo: Photo
        lab: np.ndarray | None

    pixels = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    analysis = Analysis(Photo(pixels=pixels, source="x", sha256="y"), srgb_to_lab(pixels))
    globals()["Analysis"] = Analysis  # picklable by name
    Analysis.__qualname__ = "Analysis"
    path = tmp_path / "a.pkl.z"
    store_analysis(path, analysis, cap_mib=1)
    back = load_analysis(path)
    assert np.array_equal(back.photo.pixels, pixels) and np.array_equal(back.lab, analysis.lab)
    path.write_bytes(b"damaged")
    assert load_analysis(path) is None and not path.exists()
    assert load_analysis(tmp_path / "missing.pkl.z") is None


def test_deleting_a_photo_deletes_what_was_made_from_it(service):
    assessment_id = _queued_assessment(service)
    auth = {"Authorization": f"Bearer {service.token('dr.lee')}"}
    settings = service.settings
    stems = [p.name.removesuffix(".png") for p in settings.photos_dir.iterdir()]
    for stem in stems:
        for folder, name in ((settings.data_dir / "scaled", f"{stem}.thumb.jpg"),
                             (settings.analyses_dir, f"{stem}.0123456789abcdef.pkl.z")):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(b"x")
    (settings.results_dir / str(assessment_id)).mkdir(parents=True)
    (settings.results_dir / str(assessment_id) / "after.jpg").write_bytes(b"x")
    photo_id = _row(service, assessment_id).photo_id
    assert service.client.delete(f"/api/v1/photos/{photo_id}", headers=auth).status_code == 204
    assert not (settings.results_dir / str(assessment_id)).exists()
    (kept,) = [p.name.removesuffix(".png") for p in settings.photos_dir.iterdir()]  # the baseline
    left = [p.name for folder in (settings.data_dir / "scaled", settings.analyses_dir) for p in folder.iterdir()]
    assert len(left) == 2 and all(name.startswith(kept + ".") for name in left)
