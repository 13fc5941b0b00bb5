"""Simulated trials: shared baselines, visit-specific captures, ratings that follow the truth."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest
from test_simulate import fake_anchors, skin_image

from outcomes.ratings import read_ratings
from outcomes.simulate import (
    RaterPanel,
    TreatmentSpec,
    TrialSubject,
    rate_trial,
    simulate_pair,
    simulate_trial,
    true_grade,
)


def _face(seed: int = 0) -> np.ndarray:
    return skin_image(seed=seed)


def test_capture_seed_keeps_the_baseline_and_changes_the_capture():
    img, anchors = _face(), fake_anchors()
    a = simulate_pair(img, anchors, TreatmentSpec(wrinkle_reduction=0.2, seed=3, capture_seed=1))
    b = simulate_pair(img, anchors, TreatmentSpec(wrinkle_reduction=0.6, seed=3, capture_seed=2))
    assert np.array_equal(a.before, b.before)
    assert a.ground_truth["lighting"] != b.ground_truth["lighting"]
    c = simulate_pair(img, anchors, TreatmentSpec(wrinkle_reduction=0.2, seed=3))
    d = simulate_pair(img, anchors, TreatmentSpec(wrinkle_reduction=0.2, seed=3, capture_seed=None))
    assert np.array_equal(c.after, d.after)  # None keeps the old behaviour


@pytest.mark.parametrize("reduction,pih,grade", [(0.8, False, 1), (0.5, False, 2), (0.3, False, 3), (0.0, False, 4),
                                                 (-0.3, False, 5), (0.9, True, 5)])
def test_true_grade(reduction, pih, grade):
    assert true_grade(reduction, pih, RaterPanel().cutpoints) == grade


def test_trial_files_are_consistent(tmp_path):
    subjects = [TrialSubject(f"S{i}", _face(i), fake_anchors(), group="g") for i in range(3)]
    paths = simulate_trial(subjects, tmp_path, seed=4, pih_rate=0.5)
    manifest = list(csv.DictReader(open(paths["manifest"])))
    truth = list(csv.DictReader(open(paths["truth"])))
    assert len(manifest) == 9 and len(truth) == 6
    for row in manifest:
        assert cv2.imread(str(tmp_path / row["image"])) is not None
    ratings = read_ratings(paths["ratings"])  # valid for outcomes calibrate
    assert len(ratings.rows) == 6 * 3 and ratings.raters == ["R1", "R2", "R3"]
    text = open(paths["ratings"]).read()
    assert "No change" in text or "Improved" in text or "Worse" in text  # the last rater writes labels
    for t in truth:
        if t["pih"] == "1":
            assert t["true_grade"] == "5"
            after = f"images/{t['subject_id']}_{t['visit']}.jpg"
            assert all(r.grade == 5 for r in ratings.rows if r.after.name == after.split("/")[1])


def test_raters_follow_the_truth_and_a_panel_only_changes_ratings(tmp_path):
    rows = [{"subject_id": f"S{i}", "visit": "day90", "group": "", "wrinkle_severity": 0.5,
             "true_reduction": x, "pih": 0, "true_grade": 0} for i, x in enumerate(np.linspace(-0.5, 0.95, 200))]
    with open(tmp_path / "truth.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    quiet = rate_trial(tmp_path, RaterPanel(noise_sd=1e-9, bias_sd=0.0), name="quiet.csv")
    grades = [row["gais"] for row in csv.DictReader(open(quiet)) if row["rater_id"] == "R1"]
    expected = [str(true_grade(float(r["true_reduction"]), False, RaterPanel().cutpoints)) for r in rows]
    assert grades == expected
    noisy = rate_trial(tmp_path, RaterPanel(noise_sd=0.1), name="noisy.csv")
    noisy_grades = [int(row["gais"]) for row in csv.DictReader(open(noisy)) if row["rater_id"] == "R1"]
    assert 0.5 < np.mean(np.array(noisy_grades) == np.array(expected, dtype=int)) < 1.0


def test_panel_validation():
    with pytest.raises(ValueError, match="cutpoints"):
        RaterPanel(cutpoints=(0.1, 0.2, 0.3, 0.4))
