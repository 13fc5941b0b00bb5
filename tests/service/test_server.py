"""A real ``outcomes serve`` (uvicorn, huey workers with their models) driven over HTTP, on
SQLite and PostgreSQL: the contract's flow end to end, its answer equal to ``outcomes assess``
on the same files, a SIGKILL mid-assessment, and the body cap before the body is read."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.service.conftest import PASSWORD
from tests.service.running import RunningServer

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data_samples"
OUTCOMES = [sys.executable, "-m", "outcomes.cli"]


@pytest.fixture
def server(tmp_path, database_url):
    running = RunningServer(tmp_path / "data", database_url)
    running.add_user("dr.lee")
    running.start()
    yield running
    running.stop()


def _client(server: RunningServer):
    import httpx

    client = httpx.Client(base_url=server.url, timeout=30)
    token = client.post("/api/v1/tokens", json={"username": "dr.lee", "password": PASSWORD})
    assert token.status_code == 201, token.text
    client.headers["Authorization"] = f"Bearer {token.json()['token']}"
    return client


def _upload_pair(client, before: Path, after: Path, fitzpatrick: str | None = None) -> int:
    patient = client.post("/api/v1/patients", json={"external_id": f"P-{before.stem}", "fitzpatrick": fitzpatrick})
    assert patient.status_code == 201, patient.text
    patient_id = patient.json()["id"]
    for path, visit, day in ((before, "baseline", 0), (after, "day90", 90)):
        with open(path, "rb") as fh:
            answer = client.post(f"/api/v1/patients/{patient_id}/photos", files={"file": (path.name, fh, "image/jpeg")},
                                 data={"visit": visit, "visit_day": str(day)})
        assert answer.status_code == 201, answer.text
    return answer.json()["assessment_id"]


def _wait(client, assessment_id: int, until=("done", "failed"), timeout: float = 180.0, every: float = 0.05) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.get(f"/api/v1/assessments/{assessment_id}").json()
        if answer["status"] in until:
            return answer
        time.sleep(every)
    raise AssertionError(f"assessment {assessment_id} still {answer['status']} after {timeout} s")


def test_served_assessment_equals_the_command_line(server, tmp_path):
    client = _client(server)
    before, after = SAMPLES / "S03_baseline.jpg", SAMPLES / "S03_day90.jpg"  # a pair with PIH
    served = _wait(client, _upload_pair(client, before, after, fitzpatrick="V"))
    assert served["status"] == "done", served["error"]
    run = subprocess.run([*OUTCOMES, "assess", str(before), str(after), "--json", str(tmp_path / "cli.json"),
                          "--fitzpatrick", "V"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    cli = json.loads((tmp_path / "cli.json").read_text())
    result = served["result"]
    assert result["gais"]["grade"] == cli["gais"]["grade"]
    assert result["gais"]["probabilities"] == cli["gais"]["probabilities"]
    assert result["gais"]["improvement_score"] == cli["gais"]["improvement_score"]
    assert result["pih"] == cli["pih"] and result["pih"]["flag"] is True
    assert result["qc"] == cli["qc"] and result["skin"] == cli["skin"]
    assert result["provenance"]["models"] == cli["provenance"]["models"]


def test_a_failed_assessment_keeps_its_error(server):
    client = _client(server)
    patient_id = client.post("/api/v1/patients", json={"external_id": "no-face"}).json()["id"]
    import io

    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (400, 400), (200, 170, 150)).save(blank, "PNG")
    with open(SAMPLES / "S01_baseline.jpg", "rb") as fh:
        client.post(f"/api/v1/patients/{patient_id}/photos", files={"file": ("a.jpg", fh, "image/jpeg")},
                    data={"visit": "baseline", "visit_day": "0"})
    answer = client.post(f"/api/v1/patients/{patient_id}/photos", files={"file": ("b.png", blank.getvalue(),
                                                                                  "image/png")},
                         data={"visit": "day30", "visit_day": "30"}).json()
    failed = _wait(client, answer["assessment_id"])
    assert failed["status"] == "failed" and failed["error_code"] == "no_face", failed
    assert "face" in failed["error"] and failed["result"] is None


def test_sigkill_of_the_server_mid_assessment_loses_nothing(server):
    client = _client(server)
    assessment_id = _upload_pair(client, SAMPLES / "S01_baseline.jpg", SAMPLES / "S01_day90.jpg")
    _wait(client, assessment_id, until=("running",), every=0.01)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    deadline = time.monotonic() + 10
    while server.leftover_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.leftover_processes() == [], "worker processes outlived the killed server"
    server.start()
    client = _client(server)
    done = _wait(client, assessment_id)
    assert done["status"] == "done" and done["attempts"] == 2, done
    assert done["result"]["gais"]["grade"] in (1, 2, 3, 4, 5)
    patient = client.get(f"/api/v1/patients/{done['patient_id']}").json()
    assessments = [a for v in patient["visits"] for a in v["assessments"]]
    assert [a["id"] for a in assessments] == [assessment_id]
    assert sum(len(v["photos"]) for v in patient["visits"]) == 2


def test_the_body_cap_answers_before_the_body_is_sent(server):
    if server.database_url:
        pytest.skip("the cap does not depend on the database")
    client = _client(server)
    patient_id = client.post("/api/v1/patients", json={"external_id": "big"}).json()["id"]
    token = client.headers["Authorization"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall((f"POST /api/v1/patients/{patient_id}/photos HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Authorization: {token}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                      "Content-Length: 10000000000\r\n\r\n").encode())
        started, reply = time.monotonic(), b""
        while b"}" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        reply = reply.decode(errors="replace")
    assert reply.startswith("HTTP/1.1 413"), reply
    assert time.monotonic() - started < 2 and "upload_too_large" in reply


def test_users_add_needs_a_password(tmp_path):
    run = subprocess.run([*OUTCOMES, "users", "add", "dr.x", "--clinic", "C", "--data", str(tmp_path / "d")],
                         env={k: v for k, v in os.environ.items() if k != "OUTCOMES_PASSWORD"},
                         stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert run.returncode == 1 and "OUTCOMES_PASSWORD" in run.stderr and "Traceback" not in run.stderr
    run = subprocess.run([*OUTCOMES, "users", "add", "dr.x", "--clinic", "C", "--data", str(tmp_path / "d")],
                         env={**os.environ, "OUTCOMES_PASSWORD": "short"}, capture_output=True, text=True)
    assert run.returncode == 1 and "at least 10" in run.stderr


def test_sigkill_of_a_worker_mid_assessment_requeues_its_job(server):
    from sqlalchemy import select

    from outcomes.service.db import Assessment, make_engine, make_sessionmaker
    from outcomes.service.settings import ServiceSettings

    client = _client(server)
    assessment_id = _upload_pair(client, SAMPLES / "S02_baseline.jpg", SAMPLES / "S02_day90.jpg")
    _wait(client, assessment_id, until=("running",), every=0.01)
    settings = ServiceSettings(data_dir=server.data, database_url=server.database_url)
    with make_sessionmaker(make_engine(settings.database)).begin() as session:
        claimed_by = session.scalar(select(Assessment.claimed_by).where(Assessment.id == assessment_id))
    os.kill(int(claimed_by.rpartition(":")[2]), signal.SIGKILL)
    done = _wait(client, assessment_id, timeout=120)
    assert done["status"] == "done" and done["attempts"] == 2, done
    assert server.process.poll() is None


def test_uploads_at_the_same_moment_keep_one_baseline(server):
    from concurrent.futures import ThreadPoolExecutor

    client = _client(server)
    token = client.headers["Authorization"]
    patients = [client.post("/api/v1/patients", json={"external_id": f"race-{i}"}).json()["id"] for i in range(6)]

    def upload(args):  # noqa: ANN001, ANN202
        import httpx

        patient_id, sample, visit, day = args
        with httpx.Client(base_url=server.url, timeout=60, headers={"Authorization": token}) as c, \
                open(SAMPLES / sample, "rb") as fh:
            return c.post(f"/api/v1/patients/{patient_id}/photos", files={"file": (sample, fh, "image/jpeg")},
                          data={"visit": visit, "visit_day": str(day)}).status_code

    jobs = [(p, "S04_baseline.jpg", "baseline", 0) for p in patients] + \
           [(p, "S04_day90.jpg", "day90", 90) for p in patients]
    with ThreadPoolExecutor(len(jobs)) as pool:
        codes = list(pool.map(upload, jobs))
    assert codes == [201] * len(jobs)
    for patient_id in patients:
        record = client.get(f"/api/v1/patients/{patient_id}").json()
        assessments = [a for v in record["visits"] for a in v["assessments"]]
        assert len(assessments) == 1, record  # the day-90 photo against the day-0 baseline, whatever came first
        baseline = next(v for v in record["visits"] if v["day"] == 0)["photos"][0]["id"]
        assert assessments[0]["baseline_photo_id"] == baseline


def test_parallel_guesses_are_throttled_too(server):
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    def guess(password: str) -> int:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            return c.post("/api/v1/tokens", json={"username": "dr.lee", "password": password}).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(guess, ["wrong-password"] * 24))
    assert codes.count(401) == 10 and codes.count(429) == 14, codes
    assert guess(PASSWORD) == 429


def test_the_workers_are_restarted_when_they_die(server):
    import subprocess as sp

    children = sp.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True).stdout.split()
    consumer = next(int(pid) for pid in children
                    if "outcomes.service.worker" in open(f"/proc/{pid}/cmdline").read())  # noqa: SIM115
    os.kill(consumer, signal.SIGKILL)
    client = _client(server)
    assessment_id = _upload_pair(client, SAMPLES / "S01_baseline.jpg", SAMPLES / "S01_day90.jpg")
    done = _wait(client, assessment_id, timeout=120)
    assert done["status"] == "done", done


def test_dev_mode_is_for_localhost_only(tmp_path):
    run = subprocess.run([*OUTCOMES, "serve", "--data", str(tmp_path / "d"), "--dev", "--host", "0.0.0.0"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "localhost only" in run.stderr
