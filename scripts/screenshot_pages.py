"""The README's screenshots of the clinic pages (docs/pages/*.jpg), from a fresh server.

Starts ``outcomes serve`` on 127.0.0.1 with a temporary data folder, makes an admin and a
clinician, and in Debian's Chromium (Playwright, fake camera) creates patients and uploads
London faces from ../shared/data with simulated treatments: a course of three visits, a
smile (not usable) and the camera upload with the baseline as a ghost.

    python scripts/screenshot_pages.py [--out docs/pages]
"""

from __future__ import annotations

import argparse
import io
import signal
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from _common import shared_data  # noqa: E402
from service import PASSWORD, client, simulated_visits, start_server, upload  # noqa: E402


def save(page, path: Path, full: bool = False) -> None:  # noqa: ANN001
    from PIL import Image

    png = page.screenshot(full_page=full)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if full and image.height > 2200:
        image = image.crop((0, 0, image.width, 2200))
    image.save(path, "JPEG", quality=80, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "pages")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    london = shared_data() / "london"
    face = london / "neutral" / "012_03.jpg"
    baseline, follow_ups = simulated_visits(face, 2, 7)
    with tempfile.TemporaryDirectory() as folder:
        process, url = start_server(Path(folder) / "data", None, 2)  # users user0…user5, clinic "Bench"
        try:
            subprocess_admin(folder)
            api = client(url, "user0")
            for external_id, fitz in (("HC-1041", "V"), ("HC-1042", "II"), ("HC-1043", None)):
                api.post("/api/v1/patients", json={"external_id": external_id, "fitzpatrick": fitz})
            course = api.post("/api/v1/patients", json={"external_id": "HC-1044", "fitzpatrick": "IV"}).json()["id"]
            upload(api, course, baseline, "baseline", 0)
            upload(api, course, follow_ups[0], "day30", 30)
            last = upload(api, course, follow_ups[1], "day90", 90)["assessment_id"]
            smile = api.post("/api/v1/patients", json={"external_id": "HC-1045"}).json()["id"]
            upload(api, smile, (london / "neutral" / "005_03.jpg").read_bytes(), "baseline", 0)
            smiled = upload(api, smile, (london / "smiling" / "005_08.jpg").read_bytes(), "day30", 30)["assessment_id"]
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                    "--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
                context = browser.new_context(viewport={"width": 1100, "height": 860})
                context.grant_permissions(["camera"], origin=url)
                page = context.new_page()
                page.goto(url + "/login")
                save(page, args.out / "login.jpg")
                page.fill("input[name=username]", "boss")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(url + "/patients")
                save(page, args.out / "patients.jpg")
                for assessment in (last, smiled):
                    page.goto(f"{url}/assessments/{assessment}")
                    page.wait_for_selector("#gais", timeout=120_000)
                page.goto(f"{url}/assessments/{last}")
                page.locator("#slider").fill("45")
                save(page, args.out / "result.jpg", full=True)
                page.goto(f"{url}/assessments/{smiled}")
                save(page, args.out / "not_usable.jpg")
                page.goto(f"{url}/patients/{course}")
                save(page, args.out / "timeline.jpg", full=True)
                page.goto(f"{url}/patients/{course}/upload")
                page.fill("input[name=visit]", "day180")
                page.fill("input[name=visit_day]", "180")
                page.click("#camera-start")
                page.wait_for_timeout(1500)
                page.locator("#ghost-opacity").fill("55")
                page.click("#camera-capture")
                page.wait_for_selector("#framing.warn-box, #framing.ok-box", timeout=30_000)
                save(page, args.out / "upload.jpg", full=True)
                page.goto(f"{url}/admin/audit?patient=HC-1044")
                save(page, args.out / "audit.jpg")
                page.goto(f"{url}/admin/users")
                save(page, args.out / "users.jpg")
                browser.close()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def subprocess_admin(folder: str) -> None:
    import os
    import subprocess

    subprocess.run([sys.executable, "-m", "outcomes.cli", "users", "add", "boss", "--clinic", "Bench", "--role",
                    "admin", "--data", str(Path(folder) / "data")], env={**os.environ, "OUTCOMES_PASSWORD": PASSWORD},
                   check=True, capture_output=True)


if __name__ == "__main__":
    main()
