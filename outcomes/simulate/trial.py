"""Simulated trials: several subjects, a baseline and follow-up visits, and investigator ratings.

Each subject is a real face. Its baseline gets wrinkles of a random
severity; each follow-up visit removes a fraction of their depth (the
subject's response, growing with time, plus visit-to-visit variation), is
photographed under new lighting and geometry, and sometimes shows new
PIH-like macules. The true GAIS grade follows from the true wrinkle
reduction through a site's grading convention (:class:`RaterPanel`); each
simulated investigator grades with a personal bias and per-rating noise,
and a new macule makes every rater say "Worse".

Written files (paths inside the CSVs are relative to ``out_dir``):

- ``images/{subject}_{visit}.jpg``
- ``manifest.csv``: subject_id, visit, visit_day, view, image (for ``outcomes batch``)
- ``ratings.csv``: subject_id, before, after, gais, rater_id (for ``outcomes calibrate``);
  the last rater writes label text instead of numbers, as some sites do
- ``truth.csv``: subject_id, visit, group, wrinkle_severity, true_reduction, pih, true_grade
  (``true_grade`` under the panel the trial was simulated with)

:func:`rate_trial` has another panel (another site's convention) grade the same photos.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .scenario import TreatmentSpec, simulate_pair

# GAIS labels, repeated here because the simulator imports nothing from the pipeline.
_LABELS = {1: "Very much improved", 2: "Much improved", 3: "Improved", 4: "No change", 5: "Worse"}


@dataclass(frozen=True)
class RaterPanel:
    """How a site's investigators grade the simulated change.

    Attributes
    ----------
    cutpoints : tuple of float
        True wrinkle reduction (fraction of depth × width × length removed)
        at the borders between grades 1|2, 2|3, 3|4 and 4|5, decreasing.
    raters : int
        Number of investigators; each grades every follow-up.
    noise_sd : float
        Per-rating noise on the perceived reduction.
    bias_sd : float
        Spread of the raters' personal leniency (constant per rater).
    """

    cutpoints: tuple[float, ...] = (0.7, 0.45, 0.2, -0.2)
    raters: int = 3
    noise_sd: float = 0.08
    bias_sd: float = 0.04

    def __post_init__(self) -> None:
        c = self.cutpoints
        if len(c) != 4 or any(a <= b for a, b in zip(c, c[1:])):
            raise ValueError(f"cutpoints: need 4 decreasing values, got {list(c)}")
        if self.raters < 1:
            raise ValueError(f"raters: need at least 1, got {self.raters}")


@dataclass(frozen=True)
class TrialSubject:
    """A face to enrol: RGB uint8 (H, W, 3), its contract anchors (px) and a group label."""

    subject_id: str
    image: np.ndarray
    anchors: dict
    group: str = ""


def true_grade(reduction: float, new_pih: bool, cutpoints: Sequence[float]) -> int:
    """GAIS grade 1–5 of a true reduction under ``cutpoints``; new PIH is "Worse"."""
    if new_pih:
        return 5
    return next((g for g, c in zip(range(1, 5), cutpoints) if reduction >= c), 5)


def simulate_trial(
    subjects: Sequence[TrialSubject], out_dir: str | Path,
    visits: Sequence[tuple[str, int, float]] = (("day30", 30, 0.6), ("day90", 90, 1.0)),
    panel: RaterPanel = RaterPanel(), seed: int = 0, pih_rate: float = 0.08,
    response: tuple[float, float] = (-0.4, 1.0), severity: tuple[float, float] = (0.4, 1.0),
) -> dict[str, Path]:
    """Render a trial and write its manifest, truth and ratings (see the module docstring).

    Parameters
    ----------
    subjects : sequence of TrialSubject
    out_dir : str or Path
    visits : sequence of (name, day, fraction of the full response reached)
    panel : RaterPanel
    seed : int
        Everything drawn (severities, responses, captures, macules, ratings)
        follows from it; the photos do not depend on ``panel``.
    pih_rate : float
        Probability that a follow-up shows new macules.
    response : (low, high)
        Range of a subject's full true wrinkle reduction (uniform).
    severity : (low, high)
        Range of baseline wrinkle severity (uniform).

    Returns
    -------
    paths : dict
        ``manifest``, ``ratings``, ``truth`` CSV paths.
    """
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 0])
    manifest, truth = [], []
    for index, subject in enumerate(subjects):
        sid = subject.subject_id
        sev, full = float(rng.uniform(*severity)), float(rng.uniform(*response))
        skin_seed = seed * 1_000_003 + index * 101
        baseline = _image_name(sid, "baseline")
        manifest.append({"subject_id": sid, "visit": "baseline", "visit_day": 0, "view": "frontal",
                         "image": baseline})
        for v, (visit, day, fraction) in enumerate(visits, start=1):
            reduction = float(np.clip(full * fraction + rng.normal(0.0, 0.07), -0.7, 0.95))
            pih = bool(rng.random() < pih_rate)
            pair = simulate_pair(subject.image, subject.anchors, TreatmentSpec(
                wrinkle_severity=sev, wrinkle_reduction=reduction, macules=3 if pih else 0,
                seed=skin_seed, capture_seed=skin_seed + v))
            if v == 1:
                _write_jpeg(out / baseline, pair.before)
            _write_jpeg(out / _image_name(sid, visit), pair.after)
            manifest.append({"subject_id": sid, "visit": visit, "visit_day": day, "view": "frontal",
                             "image": _image_name(sid, visit)})
            achieved = pair.ground_truth["wrinkle_reduction"]
            truth.append({"subject_id": sid, "visit": visit, "group": subject.group, "wrinkle_severity": round(sev, 4),
                          "true_reduction": round(achieved, 6), "pih": int(pih),
                          "true_grade": true_grade(achieved, pih, panel.cutpoints)})
    paths = {"manifest": out / "manifest.csv", "truth": out / "truth.csv"}
    _write_csv(paths["manifest"], manifest)
    _write_csv(paths["truth"], truth)
    paths["ratings"] = rate_trial(out, panel, seed)
    return paths


def rate_trial(trial_dir: str | Path, panel: RaterPanel = RaterPanel(), seed: int = 0,
               name: str = "ratings.csv") -> Path:
    """Have a panel grade a simulated trial's follow-ups (from its ``truth.csv``); returns the ratings CSV.

    A panel with other cutpoints is another site's convention on the same photos.
    """
    out = Path(trial_dir)
    with open(out / "truth.csv", newline="") as f:
        truth = list(csv.DictReader(f))
    rng = np.random.default_rng([seed, 1])
    bias = rng.normal(0.0, panel.bias_sd, panel.raters)
    rows = []
    for t in truth:
        pih, achieved = t["pih"] == "1", float(t["true_reduction"])
        for r in range(panel.raters):
            grade = true_grade(achieved + bias[r] + rng.normal(0.0, panel.noise_sd), pih, panel.cutpoints)
            text = _LABELS[grade] if r == panel.raters - 1 and panel.raters > 1 else str(grade)
            rows.append({"subject_id": t["subject_id"], "before": _image_name(t["subject_id"], "baseline"),
                         "after": _image_name(t["subject_id"], t["visit"]), "gais": text, "rater_id": f"R{r + 1}"})
    _write_csv(out / name, rows)
    return out / name


def _image_name(subject_id: str, visit: str) -> str:
    return f"images/{subject_id}_{visit}.jpg"


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _write_jpeg(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]):
        raise OSError(f"could not write {path}")
