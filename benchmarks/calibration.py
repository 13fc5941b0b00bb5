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

Held-out agreement (the acceptance figure) comes from repeated 3-fold
cross-validation by subject, stratified by ethnicity: in each repetition
every subject is held out once, graded by a scorer calibrated, as
``outcomes calibrate`` does, on the other two thirds of the subjects; κ is
computed over all the held-out grades together and compared with the
default scorer's on the same pairs. ``--repeats`` repetitions use different
fold assignments. Printed per site and feature set: quadratic and linear
weighted κ against every rating and against the raters' consensus, the
rater-vs-rater ceiling, and in how many repetitions the calibrated scorer
was at least as good as the default.

For the default features the same comparison on a single held-out third
(20 subjects, 40 pairs) is printed too, with a scorer fitted on all the
subjects for reference: that one has seen every rating, so where it also
falls below the default on a third, the difference is the third's sampling
noise, not a calibration error.

    python benchmarks/calibration.py [--faces 61] [--repeats 20] [--work DIR] [--seed 0] [--config YAML]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
from _common import london_trial

from outcomes.agreement import rater_agreement
from outcomes.calibration import AssessmentCache, assess_rated_pairs, choose_scorer, cross_validate_scorer
from outcomes.calibration.fit import fit_scorer, score_agreement
from outcomes.config import load_config
from outcomes.ratings import read_ratings
from outcomes.runtime import load_models
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


def assign_folds(subjects: list[str], groups: dict[str, str], rng: np.random.Generator, k: int = 3) -> dict[str, int]:
    """Subject → fold 0..k−1, each ethnicity spread evenly over the folds."""
    fold = {}
    for g in sorted(set(groups.values())):
        members = [s for s in subjects if groups[s] == g]
        rng.shuffle(members)
        offset = int(rng.integers(k))
        fold.update({s: (i + offset) % k for i, s in enumerate(members)})
    return fold


def calibrated_grades(pairs: list, fold: dict[str, int], features: tuple[str, ...], config, seed: int,  # noqa: ANN001
                      ) -> tuple[dict, int]:
    """Each pair's grade by a scorer calibrated without its subject; and how often the default was kept."""
    grades, kept_default = {}, 0
    for f in sorted(set(fold.values())):
        train = [p for p in pairs if fold[p.subject_id] != f]
        cv = cross_validate_scorer(train, folds=5, seed=seed, features=features, config=config)
        scorer, kept = choose_scorer(train, cv, "site", features, config)  # as outcomes calibrate does
        kept_default += kept
        grades.update({p.after: scorer.estimate(p.features).grade for p in pairs if fold[p.subject_id] == f})
    return grades, kept_default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=61)
    parser.add_argument("--repeats", type=int, default=20, help="repetitions of the 3-fold cross-validation")
    parser.add_argument("--work", default="/tmp/outcomes-calibration-benchmark",
                        help="trial photos, ratings and the assessment cache (reused when present)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", help="settings YAML (e.g. wrinkles: {detector: fused})")
    parser.add_argument("--noise", type=float, default=RaterPanel.noise_sd, help="per-rating noise sd")
    parser.add_argument("--bias", type=float, default=RaterPanel.bias_sd, help="sd of the raters' leniency")
    args = parser.parse_args()
    work = Path(args.work)
    seed_file = work / "trial_seed.txt"
    if not (work / "truth.csv").is_file():
        london_trial(work, args.faces, args.seed)
        seed_file.write_text(f"{args.seed}\n")
    elif seed_file.is_file() and int(seed_file.read_text()) != args.seed:
        sys.exit(f"{work} holds the trial of seed {seed_file.read_text().strip()}; give seed {args.seed} "
                 "another --work folder")
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
    # The same fold assignments for every site and feature set: comparisons are paired.
    folds = [assign_folds(subjects, groups, np.random.default_rng(2000 + r)) for r in range(args.repeats)]
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
        print(f"\nsite {site}: cutpoints {SITES[site]}; rater vs rater κ quad {ceiling.mean_kappa_quadratic:.3f}, "
              f"κ lin {ceiling.mean_kappa_linear:.3f}; true grade vs ratings κ quad "
              f"{oracle.ratings.kappa_quadratic:.3f} (a perfect measurement)")
        default = score_agreement(pairs, lambda p: p.default_grade)
        kd = default.ratings.kappa_quadratic
        print(f"  {'scorer':<24}{'held-out κq ratings':>22}{'κq consensus':>14}{'κ lin':>8}{'exact':>8}"
              f"{'≥ default (worst Δ)':>22}")
        print(f"  {'default':<24}{kd:>11.3f}{'':11}{default.consensus.kappa_quadratic:>10.3f}"
              f"{default.ratings.kappa_linear:>12.3f}{default.ratings.exact:>8.3f}")
        grades_by_repetition = []  # with the default features
        for label, features in FEATURE_SETS.items():
            results, kept = [], 0
            for r, fold in enumerate(folds):
                grades, k = calibrated_grades(pairs, fold, features, config, seed=r)
                results.append(score_agreement(pairs, lambda p: grades[p.after]))
                kept += k
                if label == "wrinkle":
                    grades_by_repetition.append(grades)
            kq = np.array([a.ratings.kappa_quadratic for a in results])
            worst = float((kq - kd).min())
            wins = f"{int(np.sum(kq >= kd - 1e-12))}/{len(kq)}" + (f" ({worst:+.3f})" if worst < 0 else "")
            print(f"  {'calibrated, ' + label:<24}{kq.mean():>11.3f} (min {kq.min():.3f})"
                  f"{np.mean([a.consensus.kappa_quadratic for a in results]):>10.3f}"
                  f"{np.mean([a.ratings.kappa_linear for a in results]):>12.3f}"
                  f"{np.mean([a.ratings.exact for a in results]):>8.3f}{wins:>22}"
                  + (f"   default kept in {kept} of {3 * args.repeats} folds" if kept else ""))
        # One held-out third at a time: the comparison as noisy as 40 pairs make it.
        everyone = fit_scorer(pairs, "all subjects", config=config)
        below, below_all, worst = 0, 0, 0.0
        for fold, grades in zip(folds, grades_by_repetition):
            for f in range(3):
                third = [p for p in pairs if fold[p.subject_id] == f]
                k_default = score_agreement(third, lambda p: p.default_grade).ratings.kappa_quadratic
                delta = score_agreement(third, lambda p: grades[p.after]).ratings.kappa_quadratic - k_default
                below += delta < -1e-12
                worst = min(worst, delta)
                below_all += score_agreement(third, lambda p: everyone.estimate(p.features).grade
                                             ).ratings.kappa_quadratic < k_default - 1e-12
        print(f"  single held-out thirds ({3 * args.repeats}): calibrated below the default in {below} "
              f"(worst {worst:+.3f}); a scorer fitted on all subjects is below in {below_all}")
    print(f"\n{args.repeats} repetitions of 3-fold cross-validation by subject (stratified by ethnicity): every "
          "subject's pairs graded by a scorer calibrated on the other two thirds; κ over all pairs, "
          "mean (min) over repetitions")


if __name__ == "__main__":
    main()
