"""GAIS calibration on simulated trials of the London faces: held-out agreement with the ratings.

A trial is simulated once (outcomes.simulate.simulate_trial): every London
face is a subject with a baseline and two follow-ups (day 30, day 90), new
lighting and geometry at each visit, PIH in ~8 % of follow-ups. Three
sites grade the same photos with different conventions (true wrinkle
reduction at the grade borders 1|2, 2|3, 3|4, 4|5), each with three raters
who have a personal bias (sd 0.04, ``--bias``) and per-rating noise (sd
0.08, ``--noise``):

- site A (the simulator's default): 0.70, 0.45, 0.20, −0.20
- site B (strict):                  0.85, 0.65, 0.40, −0.10
- site C (lenient):                 0.55, 0.30, 0.10, −0.30

For several random splits of the subjects (two thirds calibrate, one third
held out), the scorer is fitted on the calibration subjects' ratings and
graded on the held-out subjects' pairs. As ``outcomes calibrate`` does, the
default scorer is kept instead when it agreed better in the cross-validation
on the calibration subjects. Printed per site and feature set:
quadratic and linear weighted κ against every held-out rating and against
the raters' consensus, for the calibrated and the default scorer, the
rater-vs-rater ceiling, and the cross-validated κ that ``outcomes calibrate``
would print on the calibration subjects.

    python benchmarks/calibration.py [--faces 61] [--splits 5] [--work DIR] [--seed 0] [--config YAML]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from _common import london_trial

from outcomes.agreement import rater_agreement
from outcomes.calibration import AssessmentCache, assess_rated_pairs, choose_scorer, cross_validate_scorer
from outcomes.calibration.fit import score_agreement
from outcomes.config import load_config
from outcomes.pipeline import load_models
from outcomes.ratings import read_ratings
from outcomes.simulate import RaterPanel, rate_trial, true_grade

SITES = {
    "A (default)": (0.70, 0.45, 0.20, -0.20),
    "B (strict)": (0.85, 0.65, 0.40, -0.10),
    "C (lenient)": (0.55, 0.30, 0.10, -0.30),
}
FEATURE_SETS = {
    "wrinkle": ("wrinkle_reduction",),
    "wrinkle+fold": ("wrinkle_reduction", "fold_reduction"),
    "all three": ("wrinkle_reduction", "fold_reduction", "wrinkle_removed"),
}


def split_subjects(subjects: list[str], groups: dict[str, str], rng: np.random.Generator) -> set[str]:
    """One third of each group held out."""
    held = set()
    for g in sorted(set(groups.values())):
        members = [s for s in subjects if groups[s] == g]
        rng.shuffle(members)
        held.update(members[: round(len(members) / 3)])
    return held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=61)
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--work", default="/tmp/outcomes-calibration-benchmark",
                        help="trial photos, ratings and the assessment cache (reused when present)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", help="settings YAML (e.g. wrinkles: {detector: fused})")
    parser.add_argument("--noise", type=float, default=RaterPanel.noise_sd, help="per-rating noise sd")
    parser.add_argument("--bias", type=float, default=RaterPanel.bias_sd, help="sd of the raters' leniency")
    parser.add_argument("--min-gain", type=float, default=0.0,
                        help="cross-validated κ the calibrated scorer must gain over the default to replace it")
    args = parser.parse_args()
    work = Path(args.work)
    if not (work / "truth.csv").is_file():
        london_trial(work, args.faces, args.seed)
    config = load_config(args.config)
    print(f"wrinkle detector: {config.wrinkles.detector}")
    truth = {(r["subject_id"], r["visit"]): r for r in csv.DictReader(open(work / "truth.csv"))}
    groups = {s: r["group"] for (s, _), r in truth.items()}
    models = load_models(config)
    start = time.perf_counter()
    pairs_by_site = {}
    for site, cutpoints in SITES.items():
        panel = RaterPanel(cutpoints=cutpoints, noise_sd=args.noise, bias_sd=args.bias)
        path = rate_trial(work, panel, args.seed, name=f"ratings_{site[0]}.csv")
        pairs_by_site[site] = assess_rated_pairs(read_ratings(path), models, config, AssessmentCache(work / "cache"),
                                                 progress=lambda d, n, c: print(f"  assessed {d}/{n}", end="\r"))
    models.close()
    print(f"\nassessment: {time.perf_counter() - start:.0f} s for {len(pairs_by_site[site])} pairs (cached after)")
    pairs = pairs_by_site[site]
    print(f"pairs: {len(pairs)}, not usable: {sum(not p.usable for p in pairs)}, "
          f"PIH flagged: {sum(p.features.pih for p in pairs)}, PIH simulated: "
          f"{sum(r['pih'] == '1' for r in truth.values())}")
    subjects = sorted(groups)
    for site, pairs in pairs_by_site.items():
        by_rater: dict = {}
        for p in pairs:
            for rater, g in p.ratings:
                by_rater.setdefault(rater, {})[p.after] = g
        ceiling = rater_agreement(by_rater)
        true = {p.after: true_grade(float(truth[(p.subject_id, p.after.stem.split("_", 1)[1])]["true_reduction"]),
                                    truth[(p.subject_id, p.after.stem.split("_", 1)[1])]["pih"] == "1",
                                    SITES[site]) for p in pairs}
        oracle = score_agreement(pairs, lambda p: true[p.after])
        simulated_pih = {p.after: truth[(p.subject_id, p.after.stem.split("_", 1)[1])]["pih"] == "1" for p in pairs}
        print(f"\nsite {site}: cutpoints {SITES[site]}; rater vs rater κ quad {ceiling.mean_kappa_quadratic:.3f}, "
              f"κ lin {ceiling.mean_kappa_linear:.3f}; true grade vs ratings κ quad "
              f"{oracle.ratings.kappa_quadratic:.3f} (a perfect measurement)")
        print(f"  {'scorer':<24}{'held-out κq ratings':>22}{'κq consensus':>14}{'κ lin':>8}{'exact':>8}"
              f"{'CV κq (calib. set)':>20}{'≥ default (worst)':>19}")
        rows: dict[str, list] = {}
        kept_default: dict[str, int] = {}
        for s in range(args.splits):
            held = split_subjects(subjects, groups, np.random.default_rng(1000 + s))
            train = [p for p in pairs if p.subject_id not in held]
            test = [p for p in pairs if p.subject_id in held]
            default = score_agreement(test, lambda p: p.default_grade)
            rows.setdefault("default", []).append((default, None))
            for label, features in FEATURE_SETS.items():
                cv = cross_validate_scorer(train, folds=5, seed=s, features=features, config=config)
                scorer, kept = choose_scorer(train, cv, label, features, config, args.min_gain)  # as outcomes calibrate does
                kept_default[label] = kept_default.get(label, 0) + kept
                rows.setdefault(f"calibrated, {label}", []).append(
                    (score_agreement(test, lambda p: scorer.estimate(p.features).grade), cv))
                if label == "wrinkle":  # what the false PIH flags cost
                    clean = [p for p in test if not (p.features.pih and not simulated_pih[p.after])]
                    rows.setdefault("  same, no false PIH", []).append(
                        (score_agreement(clean, lambda p: scorer.estimate(p.features).grade), None))
        for label, results in rows.items():
            kq = [a.ratings.kappa_quadratic for a, _ in results]
            kc = [a.consensus.kappa_quadratic for a, _ in results]
            kl = [a.ratings.kappa_linear for a, _ in results]
            ex = [a.ratings.exact for a, _ in results]
            cv = [c.calibrated.ratings.kappa_quadratic for _, c in results if c is not None]
            cv_text = f"{np.mean(cv):.3f}" if cv else "-"
            base = [a.ratings.kappa_quadratic for a, _ in rows["default"]]
            worst = min(k - b for k, b in zip(kq, base))
            wins = (f"{sum(k >= b - 1e-12 for k, b in zip(kq, base))}/{len(kq)}"
                    + (f" ({worst:+.3f})" if worst < -1e-12 else "")) if label.startswith("calib") else ""
            kept = kept_default.get(label.removeprefix("calibrated, "))
            print(f"  {label:<24}{np.mean(kq):>11.3f} (min {min(kq):.3f}){np.mean(kc):>10.3f}{np.mean(kl):>12.3f}"
                  f"{np.mean(ex):>8.3f}{cv_text:>14}{wins:>19}" + (f"   default kept {kept}x" if kept else ""))
    print(f"\n{args.splits} splits: two thirds of the subjects of each ethnicity calibrate, one third is held out; "
          "means over splits")


if __name__ == "__main__":
    main()
