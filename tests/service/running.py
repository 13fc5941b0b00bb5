"""A real ``outcomes serve`` in a child process, for tests that drive it over HTTP or in a browser."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.service.conftest import PASSWORD

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

    def add_user(self, username: str, clinic: str = "Harbour Clinic", role: str = "clinician") -> None:
        run = subprocess.run([*OUTCOMES, "users", "add", username, "--clinic", clinic, "--role", role, *self.options],
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

    def wait_for_workers(self, timeout_s: float = 120.0) -> None:
        """Until every worker process has loaded its models (each leaves ``run/worker-PID.ready``)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ready = [p for p in (self.data / "run").glob("worker-*.ready")
                     if Path(f"/proc/{p.stem.split('-')[1].split('.')[0]}").exists()]
            if len(ready) >= self.workers:
                return
            time.sleep(0.2)
        raise AssertionError("the workers did not load their models within the time:\n" + self.read_log())

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
