"""The clinic pages in a real browser (Debian's Chromium driven by Playwright) against a real
``outcomes serve``, on SQLite and PostgreSQL: log in, create a patient, upload a baseline
and a follow-up (file and fake camera), read GAIS and the PIH warning, move the slider,
open the timeline, log out; another clinic's user sees none of it. Every page loads only
from the app, and every form carries its CSRF token."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.service.conftest import PASSWORD
from tests.service.running import RunningServer

CHROMIUM = os.environ.get("OUTCOMES_CHROMIUM", "/usr/bin/chromium")
SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


def _require_browser() -> None:
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the playwright package (pip install -e '.[dev]')"
    if missing is None and not shutil.which(CHROMIUM):
        missing = f"Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    if missing:
        if os.environ.get("OUTCOMES_REQUIRE_BROWSER"):
            pytest.fail(f"OUTCOMES_REQUIRE_BROWSER is set but {missing} is missing")
        pytest.skip(f"browser tests need {missing}")


@pytest.fixture
def server(tmp_path, database_url):
    _require_browser()
    running = RunningServer(tmp_path / "data", database_url, workers=2)
    running.add_user("dr.lee")
    running.add_user("dr.hill", clinic="Hill Clinic")
    running.start()
    running.wait_for_workers()  # the framing check answers only once they have their models
    yield running
    running.stop()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
        yield chromium
        chromium.close()


class Visit:
    """One browser session; records every request it makes and checks each page's forms."""

    def __init__(self, browser, server: RunningServer):
        self.base = server.url
        self.context = browser.new_context(viewport={"width": 1100, "height": 900})
        self.context.grant_permissions(["camera"], origin=self.base)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.forms_without_token: list[str] = []
        self.pages_checked = 0
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("load", lambda page: self.check_forms())

    def check_forms(self) -> None:
        """Every POST form of the page carries a CSRF token (recorded; asserted by :meth:`done`)."""
        from playwright.sync_api import Error

        try:
            missing = self.page.evaluate("""() => [...document.querySelectorAll('form')]
                .filter(f => (f.getAttribute('method') || 'get').toLowerCase() === 'post')
                .filter(f => !(f.querySelector('input[name=csrf_token]') || {}).value)
                .map(f => f.action)""")
        except Error:  # the page navigated on before it could be read; the next one is checked
            return
        self.pages_checked += 1
        self.forms_without_token += [f"{self.page.url}: {action}" for action in missing]

    def done(self) -> None:
        assert self.forms_without_token == []
        assert self.pages_checked >= 3
        outside = [u for u in self.requests if not (u.startswith(self.base + "/") or u.startswith(("data:", "blob:")))]
        assert outside == [], f"requests outside the app: {outside}"

    def go(self, path: str):  # noqa: ANN201
        return self.page.goto(self.base + path)

    def log_in(self, username: str) -> None:
        self.go("/login")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.base + "/patients")

    def new_patient(self, external_id: str) -> None:
        """Create a patient from the patients page (where :meth:`log_in` lands)."""
        self.page.fill("input[name=external_id]", external_id)
        self.page.click("text=Create patient")


def _wait_until(condition, timeout_s: float = 20.0) -> None:  # noqa: ANN001
    """Poll ``condition`` (Playwright's wait_for_function evaluates a string, which the app's CSP forbids)."""
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def _upload(page, path: Path, visit: str, day: int) -> None:
    page.click("text=Upload a photo")
    page.fill("input[name=visit]", visit)
    page.fill("input[name=visit_day]", str(day))
    page.set_input_files("#file", str(path))
    page.click("#upload-submit")


def test_a_clinicians_visit(server, browser):
    visit = Visit(browser, server)
    page = visit.page
    visit.go("/")
    assert page.url == server.url + "/login"
    visit.log_in("dr.lee")
    page.fill("input[name=external_id]", "P-001")
    page.select_option("select[name=fitzpatrick]", "V")
    page.click("text=Create patient")
    assert re.search(r"/patients/\d+$", page.url)
    patient_url = page.url
    _upload(page, SAMPLES / "S03_baseline.jpg", "baseline", 0)
    page.wait_for_url(re.compile(r"/patients/\d+\?uploaded=baseline#photo-\d+$"))
    assert "as the baseline" in page.inner_text(".flash")
    _upload(page, SAMPLES / "S03_day90.jpg", "day90", 90)
    page.wait_for_url(re.compile(r"/assessments/\d+$"))
    page.wait_for_selector("#gais", timeout=60_000)  # appears by itself when the worker is done
    assert "Worse" in page.inner_text("#gais") and "Most likely" in page.inner_text("#gais")
    assert "PIH warning" in page.inner_text("#pih-warning")
    after = page.locator("#after-layer")
    page.locator("#slider").fill("20")
    assert "inset(0px 0px 0px 20%)" in after.evaluate("e => getComputedStyle(e).clipPath")
    page.keyboard.press("f")
    assert page.locator("#compare").get_attribute("class").find("flicker") >= 0
    page.click("#flicker")
    wrinkles = page.locator('[data-layer="wrinkles"]')
    assert wrinkles.is_visible()
    page.uncheck('input[data-toggle="wrinkles"]')
    assert not wrinkles.is_visible()
    labels = page.locator(".region-label")
    assert labels.count() >= 10 and not labels.first.is_visible()
    page.check('input[data-toggle="regions"]')  # outlines with their names, placed on the picture
    chin = page.locator(".region-label", has_text="Chin").first
    assert chin.is_visible()
    box, picture = chin.bounding_box(), page.locator("#compare").bounding_box()
    assert picture["y"] + 0.5 * picture["height"] < box["y"] < picture["y"] + picture["height"]  # low on the face
    for name in ("before.jpg", "after.jpg", "after_original.jpg"):
        assert page.locator(f'img[src$="{name}"]').evaluate("img => img.naturalWidth") > 0, name
    for _ in range(50):  # the report is written just after the result
        if page.locator("text=Download the HTML report").count():
            break
        page.wait_for_timeout(200)
        page.reload()
    with page.expect_download() as download:
        page.click("text=Download the HTML report")
    assert download.value.suggested_filename.endswith(".html")
    assert "Patient P-001: day90 (day 90) against baseline (day 0)" in Path(download.value.path()).read_text()
    page.goto(patient_url)
    assert page.locator("svg.chart").count() == 1
    row = page.inner_text("#course")
    assert "day90" in row and "PIH" in row and "5 Worse" in row
    assert page.locator(".thumbs img").count() == 2
    page.click("text=Log out")
    page.wait_for_url(server.url + "/login")
    visit.go("/patients")
    assert page.url == server.url + "/login"
    visit.done()


def test_camera_upload_warns_at_once_and_records_the_failure(server, browser):
    visit = Visit(browser, server)
    page = visit.page
    visit.log_in("dr.lee")
    visit.new_patient("P-cam")
    _upload(page, SAMPLES / "S01_baseline.jpg", "baseline", 0)
    page.wait_for_url(re.compile(r"#photo-\d+$"))
    page.click("text=Upload a photo")
    page.fill("input[name=visit]", "day30")
    page.fill("input[name=visit_day]", "30")
    page.click("#camera-start")
    _wait_until(lambda: page.locator("#ghost").evaluate("img => img.naturalWidth") > 0)  # the baseline as a ghost
    page.locator("#ghost-opacity").fill("70")
    assert page.locator("#ghost").evaluate("img => getComputedStyle(img).opacity") == "0.7"
    _wait_until(lambda: page.locator("#camera-video").evaluate("v => v.videoWidth") > 0)
    page.click("#camera-capture")
    warning = page.wait_for_selector("#framing.warn-box", timeout=30_000)  # Chromium's fake camera shows no face
    assert "No face" in warning.inner_text()
    page.click("#upload-submit")
    page.wait_for_url(re.compile(r"/assessments/\d+$"))
    failed = page.wait_for_selector(".banner", timeout=60_000)
    assert "failed" in failed.inner_text() and "face" in failed.inner_text()
    visit.done()


def test_another_clinic_sees_nothing(server, browser):
    own = Visit(browser, server)
    own.log_in("dr.lee")
    own.new_patient("P-private")
    patient_path = own.page.url.removeprefix(server.url)
    _upload(own.page, SAMPLES / "S02_baseline.jpg", "baseline", 0)
    _upload(own.page, SAMPLES / "S02_day90.jpg", "day90", 90)
    own.page.wait_for_url(re.compile(r"/assessments/\d+$"))
    assessment_path = own.page.url.removeprefix(server.url)
    other = Visit(browser, server)
    other.log_in("dr.hill")
    assert "P-private" not in other.page.content()
    for path in (patient_path, assessment_path, f"{patient_path}/upload", "/photos/1/thumb", "/photos/1/preview",
                 f"{assessment_path}/files/before.jpg"):
        answer = other.go(path)
        assert answer.status == 404, path
        assert "P-private" not in other.page.content()


def test_a_photo_dropped_on_the_page_is_checked_and_uploaded(server, browser):
    import base64

    visit = Visit(browser, server)
    page = visit.page
    visit.log_in("dr.lee")
    visit.new_patient("P-drop")
    page.click("text=Upload a photo")
    data = base64.b64encode((SAMPLES / "S02_baseline.jpg").read_bytes()).decode()
    page.locator("#dropzone").evaluate("""(zone, data) => {
        const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
        const list = new DataTransfer();
        list.items.add(new File([bytes], "dropped.jpg", { type: "image/jpeg" }));
        zone.dispatchEvent(new DragEvent("drop", { dataTransfer: list, bubbles: true, cancelable: true }));
    }""", data)
    assert "dropped.jpg" in page.inner_text("#chosen")
    ok = page.wait_for_selector("#framing.ok-box", timeout=30_000)
    assert "first photo becomes the baseline" in ok.inner_text()
    page.click("#upload-submit")
    page.wait_for_url(re.compile(r"\?uploaded=baseline#photo-\d+$"))
    visit.done()
