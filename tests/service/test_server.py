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

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data_samples"
OUTCOMES = [sys.executable, "-m", "outcomes.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningServer:
    def __init__(self, data: Path, database_url: str | None, workers: int = 1):
        self.data, self.database_url, self.workers = data, database_url, workers
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    @property
    def options(self) -> list[str]:
        return ["--data", str(self.data)] + (["--database", self.database_url] if self.database_url else [])

    def add_user(self, username: str, clinic: str = "Harbour Clinic") -> None:
        run = subprocess.run([*OUTCOMES, "users", "add", username, "--clinic", clinic, *self.options],
                             env={**os.environ, "OUTCOMES_PASSWORD": PASSWORD}, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr

    def start(self) -> None:
        self.log = open(self.data.parent / f"serve-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [*OUTCOMES, "serve", *self.options, "--port", str(self.port), "--workers", str(self.workers)],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert self.process.poll() is None, self.read_log()
                time.sleep(0.1)
        raise AssertionError("outcomes serve did not start within 60 s:\n" + self.read_log())

    def read_log(self) -> str:
        return (self.data.parent / f"serve-{self.port}.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def leftover_processes(self) -> list[str]:
        listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
        return [line for line in listing.splitlines() if str(self.data) in line and "ps -eo" not in line]


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
