"""The clinic pages in a browser: from the click on "Upload and assess" to the result on screen.

Starts ``outcomes serve`` on 127.0.0.1 (2 warm workers, SQLite in a temporary folder, or
``--postgres``), then for each of ``--pairs`` London faces (1350×1350) creates a patient and
uploads its baseline through the API, and in Debian's Chromium (Playwright) uploads its
simulated follow-up on the upload page and times the click until the GAIS card is on screen
(the result page polls and shows it by itself): p50 and p95, after two warm-up pairs.

    python benchmarks/pages.py [--pairs 20] [--workers 2] [--postgres]
"""

from __future__ import annotations

import argparse
import signal
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import shared_data
from service import PASSWORD, client, simulated_visits, start_server, upload, with_database


def measure(args: argparse.Namespace) -> None:
    from playwright.sync_api import sync_playwright

    faces = sorted((shared_data() / "london" / "neutral").glob("*.jpg"))[:args.pairs + 2]
    print("rendering follow-ups …", flush=True)
    visits = [simulated_visits(f, 1, 900 + i) for i, f in enumerate(faces)]
    with tempfile.TemporaryDirectory() as folder:
        process, url = start_server(Path(folder) / "data", args.database, args.workers)
        try:
            api = client(url, "user0")
            seconds, failed = [], []
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1100, "height": 900})
                page.goto(url + "/login")
                page.fill("input[name=username]", "user0")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url(url + "/patients")
                for i, (baseline, (follow_up,)) in enumerate(visits):
                    patient_id = api.post("/api/v1/patients", json={"external_id": f"B{i}"}).json()["id"]
                    upload(api, patient_id, baseline, "baseline", 0)
                    path = Path(folder) / f"follow_up_{i}.jpg"
                    path.write_bytes(follow_up)
                    page.goto(f"{url}/patients/{patient_id}/upload")
                    page.fill("input[name=visit]", "day90")
                    page.fill("input[name=visit_day]", "90")
                    page.set_input_files("#file", str(path))
                    page.wait_for_selector("#framing.ok-box, #framing.warn-box", timeout=30_000)
                    start = time.perf_counter()
                    page.click("#upload-submit")
                    try:
                        page.wait_for_selector("#gais, .banner", timeout=120_000)
                    except Exception:
                        print(f"B{i}: no result on {page.url}:", page.inner_text("main")[:600])
                        raise
                    if page.locator("#gais").count() == 0:
                        failed.append(f"B{i}: {page.inner_text('.banner')[:120]}")
                    elif i >= 2:
                        seconds.append(time.perf_counter() - start)
                browser.close()
            s = np.array(seconds)
            print(f"click → result on screen, 1350×1350 pair, {args.workers} warm workers, n={s.size}: "
                  f"p50 {np.median(s):.2f} s, p95 {np.percentile(s, 95):.2f} s, max {s.max():.2f} s")
            for line in failed:
                print(f"  assessment failed: {line}")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database", help="a PostgreSQL URL instead of SQLite in the data folder")
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL server and use it")
    with_database(parser.parse_args(), measure)


if __name__ == "__main__":
    main()
