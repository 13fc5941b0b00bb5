"""The clinic server under load: upload → result latency and 50 concurrent uploads.

Starts ``outcomes serve`` on 127.0.0.1 (a free port, a temporary data folder, SQLite unless
``--database`` names another) with ``--workers`` warm worker processes, then

1. latency: for each of ``--pairs`` London faces (1350×1350), uploads a baseline, then
   times its simulated follow-up from the start of the upload to the result (polled every
   20 ms): p50 and p95;
2. concurrency: ``--users`` users each upload ``--uploads`` follow-ups of their own patient
   at once (one thread per user); every upload must end in exactly one finished
   assessment: results, lost and duplicated are counted;
3. peak memory (VmHWM) of the server, the queue's consumer and each worker process.

    python benchmarks/service.py [--pairs 20] [--users 5] [--uploads 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _common import shared_data

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark-password"


def simulated_visits(face: Path, follow_ups: int, seed: int) -> tuple[bytes, list[bytes]]:
    """A face's baseline and ``follow_ups`` simulated treated follow-ups, as JPEG bytes."""
    from PIL import Image

    from outcomes.io import read_photo
    from outcomes.simulate import TreatmentSpec, simulate_pair
    from outcomes.simulate.templates import london_anchors, read_tem

    rgb = read_photo(face).pixels
    anchors = london_anchors(read_tem(face.with_suffix(".tem")))
    rng = np.random.default_rng(seed)
    baseline, after = None, []
    for j in range(follow_ups):
        spec = TreatmentSpec(wrinkle_severity=0.6, wrinkle_reduction=float(rng.uniform(0, 0.9)), geometric=True,
                             lighting=True, seed=seed * 100 + j)
        pair = simulate_pair(rgb, anchors, spec)
        baseline = pair.before if baseline is None else baseline
        after.append(pair.after)

    def jpeg(pixels: np.ndarray) -> bytes:
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, "JPEG", quality=95)
        return out.getvalue()

    return jpeg(baseline), [jpeg(a) for a in after]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, database: str | None, workers: int) -> tuple[subprocess.Popen, str]:
    options = ["--data", str(data)] + (["--database", database] if database else [])
    for i in range(6):
        subprocess.run([sys.executable, "-m", "outcomes.cli", "users", "add", f"user{i}", "--clinic", "Bench",
                        *options], env={**os.environ, "OUTCOMES_PASSWORD": PASSWORD}, check=True,
                       capture_output=True)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "outcomes.cli", "serve", *options, "--port", str(port),
                                "--workers", str(workers)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            if process.poll() is not None:
                raise SystemExit("outcomes serve did not start") from None
            time.sleep(0.1)


def client(url: str, user: str):  # noqa: ANN201
    import httpx

    c = httpx.Client(base_url=url, timeout=60)
    c.headers["Authorization"] = "Bearer " + c.post("/api/v1/tokens", json={"username": user,
                                                                              "password": PASSWORD}).json()["token"]
    return c


def upload(c, patient_id: int, data: bytes, visit: str, day: int) -> dict:  # noqa: ANN001
    answer = c.post(f"/api/v1/patients/{patient_id}/photos", files={"file": ("p.jpg", data, "image/jpeg")},
                    data={"visit": visit, "visit_day": str(day)})
    answer.raise_for_status()
    return answer.json()


def wait_done(c, assessment_id: int, timeout: float = 600) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = c.get(f"/api/v1/assessments/{assessment_id}").json()
        if answer["status"] in ("done", "failed"):
            return answer
        time.sleep(0.02)
    raise TimeoutError(assessment_id)


def peak_memory(root_pid: int) -> list[tuple[str, int, float]]:
    """(role, pid, VmHWM MiB) of the server and its descendants."""
    listing = subprocess.run(["ps", "-eo", "pid,ppid"], capture_output=True, text=True).stdout.split("\n")[1:]
    children: dict[int, list[int]] = {}
    for line in listing:
        if line.strip():
            pid, ppid = map(int, line.split())
            children.setdefault(ppid, []).append(pid)
    out, stack = [], [(root_pid, "server")]
    while stack:
        pid, role = stack.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
        out.append((role, pid, hwm / 1024))
        for child in children.get(pid, []):
            stack.append((child, "queue consumer" if role == "server" else "worker / scheduler"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", help="a PostgreSQL URL instead of SQLite in the data folder")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL server and use it")
    with_database(parser.parse_args(), measure)


def with_database(args: argparse.Namespace, run) -> None:  # noqa: ANN001 - callable(args)
    """``run(args)``, on a throwaway PostgreSQL server's database when ``args.postgres``."""
    if args.postgres:
        sys.path.insert(0, str(REPO))
        from tests.service.postgres import create_database, postgres_server

        with postgres_server() as admin:
            args.database = create_database(admin, "outcomes_bench")
            return run(args)
    return run(args)


def measure(args: argparse.Namespace) -> None:
    faces = sorted((shared_data() / "london" / "neutral").glob("*.jpg"))
    print("rendering follow-ups …", flush=True)
    latency_faces = [simulated_visits(f, 1, i) for i, f in enumerate(faces[:args.pairs + 2])]
    crowd = [simulated_visits(f, args.uploads, 500 + i) for i, f in enumerate(faces[-args.users:])]
    with tempfile.TemporaryDirectory() as folder:
        process, url = start_server(Path(folder) / "data", args.database, args.workers)
        try:
            run(url, args, latency_faces, crowd)
            print("\npeak memory (VmHWM) per process:")
            for role, pid, mib in peak_memory(process.pid):
                print(f"  {role:20s} pid {pid:7d}  {mib:7.0f} MiB")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def run(url: str, args: argparse.Namespace, latency_faces: list, crowd: list) -> None:
    c = client(url, "user5")
    seconds = []
    for i, (baseline, (follow_up,)) in enumerate(latency_faces):
        patient_id = c.post("/api/v1/patients", json={"external_id": f"L{i}"}).json()["id"]
        upload(c, patient_id, baseline, "baseline", 0)
        start = time.perf_counter()
        answer = wait_done(c, upload(c, patient_id, follow_up, "day90", 90)["assessment_id"])
        if i >= 2:  # the first two warm the workers
            seconds.append(time.perf_counter() - start)
        assert answer["status"] == "done", answer["error"]
    s = np.array(seconds)
    print(f"upload → result, 1350×1350 pair, {args.workers} warm workers, n={s.size}: "
          f"p50 {np.median(s):.2f} s, p95 {np.percentile(s, 95):.2f} s, max {s.max():.2f} s")

    uploaded: dict[str, list[dict]] = {}
    clients = [client(url, f"user{u}") for u in range(args.users)]
    patients = []
    for u, (baseline, _) in enumerate(crowd):
        patient_id = clients[u].post("/api/v1/patients", json={"external_id": f"C{u}"}).json()["id"]
        upload(clients[u], patient_id, baseline, "baseline", 0)
        patients.append(patient_id)
    barrier = threading.Barrier(args.users)

    def user(u: int) -> None:
        barrier.wait()
        uploaded[f"user{u}"] = [upload(clients[u], patients[u], data, f"day{10 * (j + 1)}", 10 * (j + 1))
                                for j, data in enumerate(crowd[u][1])]

    start = time.perf_counter()
    threads = [threading.Thread(target=user, args=(u,)) for u in range(args.users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    upload_s = time.perf_counter() - start
    ids = [a["assessment_id"] for answers in uploaded.values() for a in answers]
    results = [wait_done(clients[int(name.removeprefix("user"))], a["assessment_id"])
               for name, answers in uploaded.items() for a in answers]
    total_s = time.perf_counter() - start
    done = sum(r["status"] == "done" for r in results)
    per_photo: dict[int, int] = {}
    for u, patient_id in enumerate(patients):
        record = clients[u].get(f"/api/v1/patients/{patient_id}").json()
        for visit in record["visits"]:
            for a in visit["assessments"]:
                per_photo[a["photo_id"]] = per_photo.get(a["photo_id"], 0) + 1
    expected = args.users * args.uploads
    lost = expected - len(set(ids)) + sum(r["status"] != "done" for r in results)
    duplicated = sum(n - 1 for n in per_photo.values() if n > 1) + sum(r["attempts"] > 1 for r in results)
    print(f"{args.users} users × {args.uploads} uploads at once: {len(ids)} uploads in {upload_s:.1f} s, "
          f"{done} results after {total_s:.1f} s, lost {lost}, duplicated {duplicated}")


if __name__ == "__main__":
    main()
