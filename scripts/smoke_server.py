"""The contract's API flow against a running ``outcomes serve``, with the standard library only.

    python scripts/smoke_server.py http://127.0.0.1:8000 USERNAME PASSWORD BEFORE.jpg AFTER.jpg

Gets a token, creates a patient, uploads BEFORE (day 0) and AFTER (day 90), waits for the
assessment and prints its grade; exits 1 if any step fails. Used by ``.ci/run`` on a
wheel installed with only the ``service`` extra.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def call(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None) -> dict:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def multipart(fields: dict[str, str], file_field: str, path: Path) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append((f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{path.name}"\r\n'
                  "Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def main(base: str, username: str, password: str, before: str, after: str) -> int:
    with urllib.request.urlopen(f"{base}/login", timeout=30) as answer:  # the pages' templates are installed
        assert b'name="csrf_token"' in answer.read(), "the login page has no CSRF token"
    for asset in ("app.css", "upload.js", "result.js"):
        with urllib.request.urlopen(f"{base}/static/{asset}", timeout=30) as answer:
            assert answer.status == 200
    token = call(f"{base}/api/v1/tokens", "POST", json.dumps({"username": username, "password": password}).encode(),
                 {"Content-Type": "application/json"})["token"]
    auth = {"Authorization": f"Bearer {token}"}
    patient = call(f"{base}/api/v1/patients", "POST", json.dumps({"external_id": "smoke", "fitzpatrick": None}).encode(),
                   {**auth, "Content-Type": "application/json"})["id"]
    for path, visit, day in ((Path(before), "baseline", 0), (Path(after), "day90", 90)):
        body, content_type = multipart({"visit": visit, "visit_day": str(day)}, "file", path)
        upload = call(f"{base}/api/v1/patients/{patient}/photos", "POST", body, {**auth, "Content-Type": content_type})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assessment = call(f"{base}/api/v1/assessments/{upload['assessment_id']}", headers=auth)
        if assessment["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    if assessment["status"] != "done":
        print(f"assessment {assessment['status']}: {assessment['error']}", file=sys.stderr)
        return 1
    gais = assessment["result"]["gais"]
    print(f"served assessment: GAIS {gais['grade']} {gais['label']} (score {gais['improvement_score']:+.2f})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(*sys.argv[1:6]))
    except urllib.error.HTTPError as exc:
        sys.exit(f"{exc.code} {exc.read().decode(errors='replace')}")
