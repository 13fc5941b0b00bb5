"""`assess` end to end on the bundled samples (no ../shared needed) and on real faces."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from outcomes.errors import SamePhotoError
from outcomes.face_analysis import analyse_face
from outcomes.io import photo_from_array, read_photo
from outcomes.pipeline import assess_pair

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
REGIONS = {
    "forehead", "glabella", "crows_feet_right", "crows_feet_left", "under_eye_right", "under_eye_left",
    "cheek_right", "cheek_left", "nasolabial_right", "nasolabial_left", "perioral",
    "marionette_right", "marionette_left", "jawline_right", "jawline_left", "chin",
}


@pytest.fixture(scope="module")
def sample_assessments(models):
    out = {}
    for subject in ("S01", "S02", "S03", "S04"):
        out[subject] = assess_pair(SAMPLES / f"{subject}_baseline.jpg", SAMPLES / f"{subject}_day90.jpg", models)
    return out


def test_same_pixels_as_a_new_photo_is_no_change(models):
    photo = read_photo(SAMPLES / "S02_baseline.jpg")
    copy = photo_from_array(photo.pixels, "a copy")  # another sha256: a re-encoded copy of the photo
    a = assess_pair(photo, copy, models)
    assert a.gais.grade == 4 and abs(a.gais.improvement_score) < 0.02
    assert not a.pih.flag and a.usable
    qc = a.to_dict()["qc"]
    assert qc["identity"]["distance"] < 1e-6 and qc["identity"]["same_person"]
    assert qc["expression"]["distance"] < 1e-6 and not qc["expression"]["changed"]


def test_the_same_file_twice_is_an_error(models):
    photo = read_photo(SAMPLES / "S02_baseline.jpg")
    with pytest.raises(SamePhotoError, match="same photograph as the baseline"):
        assess_pair(photo, photo, models)
    with pytest.raises(SamePhotoError):
        assess_pair(analyse_face(photo, models), SAMPLES / "S02_baseline.jpg", models)


def test_cli_refuses_the_same_file_twice_in_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "outcomes.cli", "assess", str(SAMPLES / "S03_baseline.jpg"),
         str(SAMPLES / "S03_baseline.jpg"), "--json", str(tmp_path / "a.json")],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert "same photograph" in done.stderr and "S03_baseline.jpg" in done.stderr
    assert not (tmp_path / "a.json").exists()


def test_smiling_follow_up_is_refused_without_pih(shared_data, models):
    a = assess_pair(shared_data / "london" / "neutral" / "007_03.jpg",
                    shared_data / "london" / "smiling" / "007_08.jpg", models)
    flags = [f for f in a.qc_flags if f.startswith("expression_change:")]
    assert not a.usable and len(flags) == 1 and "mouth wider" in flags[0] and "retake" in flags[0]
    assert not a.pih.flag
    d = a.to_dict()
    assert {"cheek_right", "cheek_left", "perioral"} <= set(d["pih"]["not_assessable"])
    assert d["qc"]["identity"]["same_person"]


def test_another_person_is_refused(shared_data, models):
    a = assess_pair(shared_data / "london" / "neutral" / "007_03.jpg",
                    shared_data / "london" / "neutral" / "017_03.jpg", models)
    assert not a.usable and any(f.startswith("different_person:") for f in a.qc_flags)
    assert not a.pih.flag and len(a.to_dict()["pih"]["not_assessable"]) == len(a.region_masks)


def test_with_two_people_the_patient_is_assessed(shared_data, models):
    """The follow-up shows the patient small and another person larger: the patient is found."""
    import cv2

    patient = read_photo(shared_data / "london" / "neutral" / "007_03.jpg")
    other = read_photo(shared_data / "london" / "neutral" / "017_03.jpg").pixels
    canvas = np.full_like(patient.pixels, 200)
    big = cv2.resize(other, None, fx=0.62, fy=0.62, interpolation=cv2.INTER_AREA)
    small = cv2.resize(patient.pixels, None, fx=0.42, fy=0.42, interpolation=cv2.INTER_AREA)
    canvas[-big.shape[0]:, :big.shape[1]] = big
    canvas[-small.shape[0] - 120:-120, -small.shape[1]:] = small
    a = assess_pair(patient, photo_from_array(canvas, "two people"), models)
    assert not any(f.startswith("different_person") for f in a.qc_flags)
    assert "multiple_faces" in a.pair.after_landmarks.qc_flags
    assert a.to_dict()["qc"]["identity"]["distance"] < 0.4
    assert a.pair.after_landmarks.anchors["right_pupil"][0] > canvas.shape[1] / 2  # the face on the right


def test_samples_follow_their_simulated_truth(sample_assessments):
    """Each sample grades as its truth says: S01 (90 % of the rendered lines gone)
    "Improved" or better, S02 (no change) "No change", S03 (new macules) PIH and
    "Worse", S04 (lines 80 % deeper, redness) "Worse" without PIH.

    Grace Hopper's own marionette and nasolabial folds, softened but present, are
    part of the wrinkle total, so the rendered lines' change is a share of it
    (S01 scores about +0.14); the order and direction must be right.
    """
    truth = {s: json.loads((SAMPLES / f"{s}_truth.json").read_text()) for s in sample_assessments}
    a = sample_assessments
    assert truth["S01"]["wrinkle_reduction"] > 0.5 and a["S01"].gais.improvement_score > 0.05
    assert a["S01"].gais.grade <= 3
    assert a["S02"].gais.grade == 4 and not a["S02"].pih.flag
    assert abs(a["S02"].gais.improvement_score) < 0.03
    assert truth["S03"]["macule_area_px"] > 0 and a["S03"].pih.flag and a["S03"].gais.grade == 5
    assert truth["S04"]["wrinkle_reduction"] < 0 and not a["S04"].pih.flag
    assert a["S04"].gais.improvement_score < -0.03 and a["S04"].gais.grade == 5
    assert a["S04"].gais.probabilities["5"] > 0.2 > a["S02"].gais.probabilities["5"]
    scores = [a[s].gais.improvement_score for s in ("S04", "S02", "S01")]
    assert scores == sorted(scores)


def test_assessment_json_follows_the_contract(sample_assessments):
    d = sample_assessments["S01"].to_dict()
    assert d["schema_version"] == "1"
    assert set(d["gais"]) >= {"grade", "label", "probabilities", "improvement_score"}
    assert set(d["gais"]["probabilities"]) == {"1", "2", "3", "4", "5"}
    assert sum(d["gais"]["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert set(d["skin"]) >= {"ita_deg_before", "ita_deg_after", "fitzpatrick", "fitzpatrick_source"}
    assert set(d["pih"]) >= {"flag", "severity", "area_fraction", "delta_e", "regions"}
    assert set(d["regions"]) <= REGIONS and len(d["regions"]) >= 10
    for values in d["regions"].values():
        assert set(values) >= {"wrinkle_before", "wrinkle_after", "wrinkle_change",
                               "laxity_before", "laxity_after", "laxity_change"}
    assert d["regions"]["glabella"]["laxity_before"] is None  # laxity only where it applies
    assert set(d["alignment"]) >= {"ok", "residual_rel_ipd", "after_to_before"}
    assert set(d["qc"]) == {"usable", "flags", "flag_codes", "identity", "expression"} and set(d["provenance"]) >= {"package_version", "models", "config_sha256"}

    json.dumps(d, allow_nan=False)


def test_reported_fitzpatrick_wins(models):
    a = assess_pair(SAMPLES / "S02_baseline.jpg", SAMPLES / "S02_day90.jpg", models, fitzpatrick="V")
    assert a.skin_before.fitzpatrick == "V" and a.skin_before.fitzpatrick_source == "reported"


def test_cli_assess_writes_json_and_report(tmp_path):
    out, report = tmp_path / "a.json", tmp_path / "r.html"
    done = subprocess.run(
        [sys.executable, "-m", "outcomes.cli", "assess", str(SAMPLES / "S03_baseline.jpg"),
         str(SAMPLES / "S03_day90.jpg"), "--json", str(out), "--report", str(report), "--fitzpatrick", "II"],
        capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    d = json.loads(out.read_text())
    assert d["skin"]["fitzpatrick"] == "II" and d["pih"]["flag"] is True
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>") and "S03_baseline" not in html


def test_cli_rejects_a_bad_fitzpatrick_type(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "outcomes.cli", "assess", str(SAMPLES / "S03_baseline.jpg"),
         str(SAMPLES / "S03_day90.jpg"), "--json", str(tmp_path / "a.json"), "--fitzpatrick", "VII"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1 and "VII" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "a.json").exists()


def test_extreme_pose_is_not_usable(shared_data, models):
    """lisa1 vs lisa3: 12° pitch and 19° roll apart — never a confident grade."""
    a = assess_pair(shared_data / "lisa" / "lisa1.jpg", shared_data / "lisa" / "lisa3.jpg", models)
    assert not a.usable and any(f.startswith("pose_change") for f in a.qc_flags)


def test_wrinkle_cli_mask(tmp_path):
    mask, js = tmp_path / "m.png", tmp_path / "w.json"
    done = subprocess.run(
        [sys.executable, "-m", "outcomes.cli", "wrinkles", str(SAMPLES / "S01_baseline.jpg"),
         "--mask", str(mask), "--json", str(js)], capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    from PIL import Image

    m = np.asarray(Image.open(mask))
    assert m.shape == (1050, 1050) and set(np.unique(m)) <= {0, 255} and (m == 255).any()
    d = json.loads(js.read_text())
    assert d["detector"]["name"] == "cnn+classical" and len(d["regions"]) >= 10
    assert all(set(v) >= {"area_fraction", "length_per_cm2", "depth", "severity"} for v in d["regions"].values())


@pytest.mark.parametrize("config_file", ["default.yaml", "classical.yaml", "visible.yaml"])
def test_a_reused_baseline_analysis_gives_the_same_assessment(config_file, models):
    """A batch job analyses each baseline once for all its follow-ups: that must change nothing."""
    from outcomes.config import load_config
    from outcomes.face_analysis import analyse_face
    from outcomes.runtime import load_models

    repo_config = Path(__file__).resolve().parents[2] / "configs" / config_file
    config = load_config(repo_config if repo_config.is_file() else config_file)  # else the bundled one
    loaded = models if config == load_config(None) else load_models(config)
    before = SAMPLES / "S01_baseline.jpg"
    baseline = analyse_face(before, loaded, config)
    for after in (SAMPLES / "S01_day90.jpg", SAMPLES / "S02_day90.jpg"):
        direct, reused = assess_pair(before, after, loaded, config), assess_pair(baseline, after, loaded, config)
        a, b = direct.to_dict(), reused.to_dict()
        assert "baseline.wrinkles_ms" in a.pop("stage_ms") and "baseline.wrinkles_ms" not in b.pop("stage_ms")
        assert a == b
        assert np.array_equal(direct.wrinkle_mask_before, reused.wrinkle_mask_before)
        assert np.array_equal(direct.wrinkle_mask_after, reused.wrinkle_mask_after)


def test_a_baseline_analysed_with_another_configuration_is_refused(models):
    from outcomes.config import load_config
    from outcomes.face_analysis import analyse_face

    baseline = analyse_face(SAMPLES / "S01_baseline.jpg", models)
    classical = load_config(Path(__file__).resolve().parents[2] / "outcomes" / "configs" / "classical.yaml")
    with pytest.raises(ValueError, match="S01_baseline.jpg was analysed with another configuration"):
        assess_pair(baseline, SAMPLES / "S01_day90.jpg", models, classical)


def test_a_baseline_group_gives_each_pair_its_own_record(models, tmp_path):
    """assess_group (what batch workers run) = assess_task per pair; a faceless baseline fails every pair."""
    from outcomes.batch.jobs import PairTask, assess_group, assess_task, group_by_baseline
    from outcomes.config import Config
    from outcomes.io import write_png

    def task(before: Path, after: Path, visit: str) -> PairTask:
        return PairTask("S01", visit, "frontal", "baseline", None, None, 2, str(before), str(after), before.name,
                        after.name, None, None, None)

    grey = tmp_path / "grey.png"
    write_png(grey, np.full((300, 300, 3), (128, 120, 110), np.uint8))
    tasks = [task(SAMPLES / "S01_baseline.jpg", SAMPLES / f"{s}_day90.jpg", f"v{s}") for s in ("S01", "S03")]
    tasks.append(task(grey, SAMPLES / "S01_day90.jpg", "grey"))
    groups = group_by_baseline(tasks)
    assert [len(g) for g in groups] == [2, 1]
    outcomes = [o for g in groups for o in assess_group(g, models, Config())]
    assert [o.task for o in outcomes] == tasks
    for outcome, t in zip(outcomes[:2], tasks):
        alone = assess_task(t, models, Config())
        got, want = dict(outcome.record), dict(alone.record)
        for r in (got, want):
            r.pop("stage_ms")
            r["batch"] = {k: v for k, v in r["batch"].items() if k not in ("seconds", "worker")}
        assert got == want and outcome.thumbnail_jpeg == alone.thumbnail_jpeg
    assert "no face" in outcomes[2].record["batch"]["error"] and "gais" not in outcomes[2].record
    with pytest.raises(ValueError, match="different baseline"):
        list(assess_group(tasks, models, Config()))
