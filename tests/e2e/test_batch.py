"""`outcomes batch` end to end: outputs, an error row, kill -9 and --resume, Ray, bad manifests.

The trial is simulated from the bundled astronaut photo (three subjects, a
baseline and two follow-ups each) plus one subject whose photos have no
face, so it runs without ../shared/data, as in CI. The 60-subject study on
real faces is ``benchmarks/batch.py``.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fastparquet
import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
PAIRS = 7  # 3 subjects x 2 follow-ups + the faceless subject's one


def _cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "outcomes.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


@pytest.fixture(scope="module")
def trial(tmp_path_factory) -> Path:
    """manifest.csv of the simulated trial, with reported skin types and a faceless subject."""
    spec = importlib.util.spec_from_file_location("recalibrate_gais", REPO / "examples" / "recalibrate_gais.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    folder = tmp_path_factory.mktemp("trial")
    example.demo_trial(folder, subjects=3)
    with open(folder / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["fitzpatrick"] = {"D00": "II", "D01": "V", "D02": ""}[row["subject_id"]]
    grey = np.full((400, 400, 3), (128, 120, 110), np.uint8)
    for visit, day in (("baseline", 0), ("day90", 90)):
        from outcomes.io import write_png

        write_png(folder / "images" / f"NF_{visit}.png", grey)
        rows.append({"subject_id": "NF", "visit": visit, "visit_day": day, "view": "frontal",
                     "image": f"images/NF_{visit}.png", "fitzpatrick": "VI"})
    with open(folder / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder / "manifest.csv"


@pytest.fixture(scope="module")
def local_run(trial, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "out"
    done = _cli("batch", str(trial), "--out", str(out), "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert f"{PAIRS} pairs: {PAIRS} assessed now" in done.stdout and "1 errors" in done.stdout
    return out


def test_outputs_and_the_failed_pair_is_a_row(local_run):
    table = pd.read_csv(local_run / "assessments.csv", keep_default_na=False)
    assert len(table) == PAIRS
    assert list(table[["subject_id", "visit"]].itertuples(index=False, name=None)) == [
        ("D00", "day30"), ("D00", "day90"), ("D01", "day30"), ("D01", "day90"), ("D02", "day30"), ("D02", "day90"),
        ("NF", "day90")]
    failed = table[table.subject_id == "NF"].iloc[0]
    assert "no face" in failed.error and failed.gais_grade == "" and failed.fitzpatrick == "VI"
    ok = table[table.subject_id != "NF"]
    assert (ok.error == "").all() and ok.gais_grade.astype(int).between(1, 5).all()
    assert list(ok.fitzpatrick_source[:4]) == ["reported"] * 4 and list(ok.fitzpatrick[:4]) == ["II", "II", "V", "V"]
    assert set(ok.fitzpatrick_source[4:]) <= {"estimated", "not measured"}

    assert len(list((local_run / "pairs").glob("*.json"))) == PAIRS
    assert len(list((local_run / "thumbnails").glob("*.jpg"))) == PAIRS - 1
    record = json.loads((local_run / "pairs" / "D00__day90__frontal.json").read_text())
    assert record["batch"]["baseline_visit"] == "baseline" and record["gais"]["grade"] in range(1, 6)
    regions = fastparquet.ParquetFile(local_run / "regions.parquet").to_pandas()
    assert {"wrinkle", "wrinkle_depth"} <= set(regions.feature) and set(regions.subject_id) == {"D00", "D01", "D02"}

    summary = json.loads((local_run / "summary.json").read_text())
    assert summary["counts"]["errors"] == 1 and summary["counts"]["subjects_in_statistics"] == 3
    for block in ("responder_rate", "pih_incidence"):
        overall = summary[block]["overall"]
        assert overall["n"] == 3 and overall["ci_low"] <= overall["rate"] <= overall["ci_high"]
        assert set(summary[block]["by_fitzpatrick_group"]) <= {"I-II", "III-IV", "V-VI", "unknown"}
    assert any("too few to conclude" in w for w in summary["warnings"])

    html = (local_run / "report.html").read_text()
    for section in ("Responders", "Post-inflammatory hyperpigmentation", "GAIS estimate by visit", "Wilcoxon",
                    "QC failures and errors (1)", "no face", "Read with care"):
        assert section in html
    assert html.count("data:image/png;base64,") >= 3
    log = (local_run / "batch.log").read_text()
    assert "NF day90 frontal: error" in log and "finished: 7 pairs" in log


def test_every_table_header_sits_over_its_column(local_run):
    """Numbers are right-aligned: a header over a numeric column is too (else it reads as the next column's)."""
    from html.parser import HTMLParser

    class Tables(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tables, self.cell = [], None

        def handle_starttag(self, tag, attrs):
            if tag == "table":
                self.tables.append([])
            elif tag == "tr" and self.tables:
                self.tables[-1].append([])
            elif tag in ("td", "th") and self.tables and self.tables[-1]:
                self.tables[-1][-1].append((tag, dict(attrs).get("class") or ""))

    parser = Tables()
    parser.feed((local_run / "report.html").read_text())
    checked = 0
    for table in parser.tables:
        header, rows = table[0], [r for r in table[1:] if r]
        for row in rows:
            assert len(row) == len(header), (header, row)
        for i, (_, header_class) in enumerate(header):
            if rows and all(row[i][1] == "n" for row in rows):
                assert header_class == "n", (i, header)
                checked += 1
    assert checked >= 10


def _records(out: Path) -> list[Path]:
    return sorted((out / "pairs").glob("*.json")) if (out / "pairs").is_dir() else []


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_kill_9_then_resume_gives_the_same_outputs(trial, local_run, tmp_path):
    out = tmp_path / "out"
    job = subprocess.Popen([sys.executable, "-m", "outcomes.cli", "batch", str(trial), "--out", str(out),
                            "--workers", "2"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while len(_records(out)) < 2 and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(job.pid, signal.SIGKILL)
    job.wait()
    before = {p.name: p.stat().st_mtime_ns for p in _records(out)}
    assert 2 <= len(before) < PAIRS, "the job should have been killed halfway"
    assert not (out / "assessments.csv").exists()
    # The orphaned pool workers notice and exit instead of idling with their models.
    workers = {json.loads(p.read_text())["batch"]["worker"].split(":")[1] for p in _records(out)}
    assert all(_gone(int(pid), 10) for pid in workers)

    done = _cli("batch", str(trial), "--out", str(out), "--workers", "2", "--resume")
    assert done.returncode == 0, done.stderr
    assert f"{PAIRS - len(before)} assessed now" in done.stdout and f"{len(before)} kept from before" in done.stdout
    after = {p.name: p.stat().st_mtime_ns for p in _records(out)}
    assert len(after) == PAIRS and all(after[n] == t for n, t in before.items())  # finished pairs not redone
    for name in ("assessments.csv", "summary.json", "report.html"):
        assert (out / name).read_bytes() == (local_run / name).read_bytes(), name
    pd.testing.assert_frame_equal(fastparquet.ParquetFile(out / "regions.parquet").to_pandas(),
                                  fastparquet.ParquetFile(local_run / "regions.parquet").to_pandas())
    assert f"resuming {trial}: {PAIRS} pairs, {len(before)} finished before" in (out / "batch.log").read_text()


def _as_in_a_terminal() -> None:
    """The job as a terminal's foreground command gets it: Ctrl-C not ignored. (A shell without job
    control starts background commands with SIGINT ignored, and a child inherits that.)"""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt_after(trial: Path, out: Path, records: int, signum: int) -> tuple[float, str]:
    """Start a 2-worker job in its own process group, signal the group once ``records`` pairs are
    saved, and return (seconds from the signal to the job's exit, its stderr)."""
    job = subprocess.Popen([sys.executable, "-m", "outcomes.cli", "batch", str(trial), "--out", str(out),
                            "--workers", "2"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, start_new_session=True,
                           preexec_fn=_as_in_a_terminal)
    deadline = time.monotonic() + 300
    # running: the job has opened its folder (records=0: while the workers start and load their models)
    while (not (out / "batch.log").is_file() or len(_records(out)) < records) and job.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(job.pid, signum)  # as a terminal's Ctrl-C: the whole group, workers included
    t0 = time.monotonic()
    try:
        _, err = job.communicate(timeout=30)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    return time.monotonic() - t0, err


@pytest.mark.parametrize(("signum", "records"), [(signal.SIGINT, 0), (signal.SIGINT, 2), (signal.SIGTERM, 1)])
def test_an_interrupted_job_stops_within_5_s_and_resumes_to_the_same_outputs(trial, local_run, tmp_path, signum,
                                                                             records):
    """Ctrl-C (or SIGTERM) to the job's process group, while workers load or mid-job: exit 130 within 5 s,
    one message with the --resume command, no traceback, no worker left; the command finishes the job."""
    out = tmp_path / "out"
    seconds, err = _interrupt_after(trial, out, records, signum)
    assert seconds < 5, f"took {seconds:.1f} s to stop"
    assert "Traceback" not in err, err
    assert "interrupted" in err and "--resume" in err, err
    command = err.strip().splitlines()[-1].strip()
    assert command.startswith("outcomes batch ") and command.endswith(" --resume")
    args = command.split()[1:]
    done = _cli(*args)
    assert done.returncode == 0, done.stderr
    for name in ("assessments.csv", "summary.json", "report.html"):
        assert (out / name).read_bytes() == (local_run / name).read_bytes(), name


def test_resuming_a_finished_job_assesses_nothing(local_run):
    manifest = json.loads((local_run / "job.json").read_text())["manifest"]
    done = _cli("batch", manifest, "--out", str(local_run), "--resume")
    assert done.returncode == 0, done.stderr
    assert f"0 assessed now, {PAIRS} kept from before" in done.stdout


def test_an_existing_job_folder_is_not_overwritten(trial, local_run):
    csv_before = (local_run / "assessments.csv").read_bytes()
    done = _cli("batch", str(trial), "--out", str(local_run))
    assert done.returncode == 1
    assert "holds a batch job already" in done.stderr and "--resume" in done.stderr
    assert (local_run / "assessments.csv").read_bytes() == csv_before


def test_ray_gives_the_same_assessments(trial, local_run, tmp_path):
    pytest.importorskip("ray", reason="Ray is in the [distributed] extra")
    done = _cli("batch", str(trial), "--out", str(tmp_path / "ray"), "--workers", "2", "--executor", "ray")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ray" / "assessments.csv").read_bytes() == (local_run / "assessments.csv").read_bytes()
    workers = {json.loads(p.read_text())["batch"]["worker"] for p in _records(tmp_path / "ray")}
    assert len(workers) == 2  # two actors shared the work


def test_a_manifest_with_five_problems_reports_all_and_writes_nothing(trial, tmp_path):
    folder = trial.parent
    bad = folder / "bad_manifest.csv"
    bad.write_text(
        "subject_id,visit,visit_day,view,image,fitzpatrick,site\n"  # unknown column "site"
        "D00,baseline,0,frontal,images/D00_baseline.jpg,II,x\n"
        "D00,day30,30,frontal,images/missing.jpg,II,x\n"  # missing image
        "D00,day30,30,frontal,images/D00_day30.jpg,II,x\n"  # repeated subject/visit/view
        "D01,baseline,zero,frontal,images/D01_baseline.jpg,V,x\n"  # bad visit_day (and so no baseline)
        "D01,day30,30,frontal,images/D01_day30.jpg,VII,x\n"  # bad Fitzpatrick type
    )
    out = tmp_path / "never"
    done = _cli("batch", str(bad), "--out", str(out))
    assert done.returncode == 1 and not out.exists()
    message = done.stderr.strip()
    assert "\n" not in message and message.startswith("outcomes: error:")
    for expected in ("unknown column", "line 3: image 'images/missing.jpg' not found", "line 4: subject 'D00' "
                     "visit 'day30' view 'frontal' repeats line 3", "line 5: visit_day 'zero'", "line 6: fitzpatrick "
                     "'VII'"):
        assert expected in message


def test_a_calibrated_scorer_grades_the_batch(trial, local_run, tmp_path):
    """--scorer: the default written as a calibrated scorer gives the same grades, and says which scorer."""
    from outcomes.config import Config
    from outcomes.scorer_file import default_as_calibrated, save_scorer

    config = Config()
    save_scorer(default_as_calibrated(config.gais, "site X", config.wrinkles.detector, config.sha256()),
                tmp_path / "s.json")
    rows = trial.read_text().splitlines()
    one_manifest = trial.parent / "one.csv"  # beside the images: paths are relative to the manifest
    one_manifest.write_text("\n".join([rows[0]] + [r for r in rows[1:] if r.startswith("D00,")]) + "\n")
    done = _cli("batch", str(one_manifest), "--out", str(tmp_path / "out"), "--workers", "1",
                "--scorer", str(tmp_path / "s.json"))
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "out" / "assessments.csv")
    assert set(table.gais_scorer) == {"calibrated:site X"}
    reference = pd.read_csv(local_run / "assessments.csv")
    assert list(table.gais_grade) == list(reference[reference.subject_id == "D00"].gais_grade)
    job = json.loads((tmp_path / "out" / "job.json").read_text())
    assert job["gais_scorer_sha256"] and job["gais_scorer"].endswith("s.json")


def test_a_bad_scorer_stops_the_job_before_anything_is_written(trial, tmp_path):
    (tmp_path / "s.json").write_text("{}")
    done = _cli("batch", str(trial), "--out", str(tmp_path / "out"), "--scorer", str(tmp_path / "s.json"))
    assert done.returncode == 1 and "s.json" in done.stderr and not (tmp_path / "out").exists()


def test_a_worker_killed_mid_job_stops_it_with_a_resume_hint(tmp_path):
    """A pool worker that dies (as when the kernel kills it for memory) ends the job with a
    BatchError saying what to do, after the pairs that finished were handed over."""
    import multiprocessing

    from outcomes.batch.executors import run_local
    from outcomes.batch.jobs import PairTask
    from outcomes.config import Config
    from outcomes.errors import BatchError

    samples = REPO / "data_samples"
    tasks = [PairTask(s, "day90", "frontal", "baseline", 90.0, 0.0, 2, str(samples / f"{s}_baseline.jpg"),
                      str(samples / f"{s}_day90.jpg"), f"{s}_baseline.jpg", f"{s}_day90.jpg", None, None, None)
             for s in ("S01", "S02", "S03", "S04")]
    received = []
    with pytest.raises(BatchError, match="a worker process died.*--resume"):
        for outcome in run_local(tasks, Config(), None, workers=1, threads=1):
            received.append(outcome)
            if len(received) == 1:
                for child in multiprocessing.active_children():
                    os.kill(child.pid, signal.SIGKILL)
    assert len(received) == 1 and received[0].task == tasks[0] and received[0].record["batch"]["error"] is None
