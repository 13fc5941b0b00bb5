"""When should a site's fitted GAIS scorer replace the default? Selection rules compared on the same fits.

``outcomes calibrate`` writes the fitted ordinal model unless the default
scorer led it by more than ``fit.DEFAULT_MARGIN`` quadratic κ in one 5-fold
cross-validation on the site's ratings. This script asks whether another
rule would keep calibrated ≥ default more reliably: on the trial that
``benchmarks/calibration.py`` simulated (same folds: 3-fold by subject,
stratified by ethnicity, ``--repeats`` repetitions), every outer fold's
training subjects get ``--inner`` 5-fold cross-validations (the first with
the seed ``calibrate`` would use) and one fit. Each rule "keep the default
unless the fitted model's mean cross-validated κq lead is at least L" is then
applied with 1 and with ``--inner`` cross-validations, for several L; the
current rule is L = −DEFAULT_MARGIN with one cross-validation. Printed per
site: held-out κq over all pairs (mean, min over repetitions), in how many
repetitions it was ≥ the default's, and in how many of the outer folds the
default was kept.

Run ``benchmarks/calibration.py`` with the same ``--work``, ``--seed`` and
``--config`` first: it writes the trial, each site's ratings and the
assessment cache this script reads.

    python benchmarks/calibration_selection.py [--work DIR] [--seed 0] [--config YAML] [--repeats 20] [--inner 4]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from calibration import SITES, assign_folds

from outcomes.calibration import AssessmentCache, assess_rated_pairs, cross_validate_scorer
from outcomes.calibration.fit import DEFAULT_MARGIN, fit_scorer, score_agreement
from outcomes.config import load_config
from outcomes.ratings import read_ratings
from outcomes.runtime import load_models

LEADS = (-DEFAULT_MARGIN, -0.01, 0.0, 0.01, 0.02, 0.03)


def outer_folds(pairs: list, folds: list[dict], config, inner: int) -> list[tuple]:  # noqa: ANN001
    """Per repetition and outer fold: the inner κq leads (fitted − default) and the fitted scorer's held-out grades."""
    records = []
    for r, fold in enumerate(folds):
        for f in range(3):
            train = [p for p in pairs if fold[p.subject_id] != f]
            leads = []
            for s in range(inner):
                cv = cross_validate_scorer(train, folds=5, seed=r if s == 0 else r * 100 + s, config=config)
                leads.append(cv.calibrated.ratings.kappa_quadratic - cv.default.ratings.kappa_quadratic)
            scorer = fit_scorer(train, "site", config=config)
            grades = {p.after: scorer.estimate(p.features).grade for p in pairs if fold[p.subject_id] == f}
            records.append((r, leads, grades))
    return records


def apply_rule(pairs: list, records: list[tuple], inner: int, lead: float) -> tuple[list[float], int]:
    """Held-out κq per repetition when the default is kept unless the mean lead of ``inner`` CVs is ≥ ``lead``."""
    by_pair = {p.after: p for p in pairs}
    kappas, kept = [], 0
    for r in sorted({rec[0] for rec in records}):
        grades = {}
        for _, leads, fitted in (rec for rec in records if rec[0] == r):
            keep = float(np.mean(leads[:inner])) < lead
            kept += keep
            grades.update({after: by_pair[after].default_grade if keep else g for after, g in fitted.items()})
        kappas.append(score_agreement(pairs, lambda p: grades[p.after]).ratings.kappa_quadratic)
    return kappas, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/outcomes-calibration-benchmark")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", help="settings YAML, as given to benchmarks/calibration.py")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--inner", type=int, default=4, help="5-fold cross-validations per outer fold")
    args = parser.parse_args()
    work = Path(args.work)
    ratings = {site: work / f"ratings_{site[0]}.csv" for site in SITES}
    if not all(path.is_file() for path in ratings.values()) or not (work / "trial_seed.txt").is_file() \
            or int((work / "trial_seed.txt").read_text()) != args.seed:
        sys.exit(f"no trial of seed {args.seed} with site ratings in {work}: run benchmarks/calibration.py "
                 "with the same --work, --seed and --config first")
    config = load_config(args.config)
    groups = {r["subject_id"]: r["group"] for r in csv.DictReader(open(work / "truth.csv"))}
    models = load_models(config)
    try:
        pairs_by_site = {site: assess_rated_pairs(read_ratings(path), models, config, AssessmentCache(work / "cache"))
                         for site, path in ratings.items()}
    finally:
        models.close()
    subjects = sorted(groups)
    folds = [assign_folds(subjects, groups, np.random.default_rng(2000 + r)) for r in range(args.repeats)]
    print(f"wrinkle detector {config.wrinkles.detector}, trial seed {args.seed}, {args.repeats} repetitions; "
          f"current rule: lead ≥ {-DEFAULT_MARGIN:+.2f}, 1 cross-validation")
    for site, pairs in pairs_by_site.items():
        k_default = score_agreement(pairs, lambda p: p.default_grade).ratings.kappa_quadratic
        records = outer_folds(pairs, folds, config, args.inner)
        print(f"\nsite {site}: default κq {k_default:.3f}")
        print(f"  {'fitted must lead by':<22}{'CVs':>4}{'κq mean':>9}{'min':>7}{'≥ default':>11}{'default kept':>14}")
        for inner in sorted({1, args.inner}):
            for lead in LEADS:
                kq, kept = apply_rule(pairs, records, inner, lead)
                wins = sum(k >= k_default - 1e-12 for k in kq)
                print(f"  {lead:<+22.2f}{inner:>4}{np.mean(kq):>9.3f}{min(kq):>7.3f}{f'{wins}/{len(kq)}':>11}"
                      f"{f'{kept}/{3 * len(kq)}':>14}", flush=True)


if __name__ == "__main__":
    main()
