"""Recalibrate the GAIS scorer to a site's investigator ratings with the Python API.

The same steps as ``outcomes calibrate``, spelled out for a retraining
script: read and validate the ratings, assess the rated pairs (cached),
cross-validate by subject, fit, save, then assess a pair with the new scorer.

    python examples/recalibrate_gais.py --out DIR [--ratings RATINGS.csv]

Without ``--ratings`` it first simulates a small demonstration trial from
the bundled astronaut photo (scikit-image, public domain): eight "subjects"
that are all the same face with different rendered wrinkles, treatment
responses and three simulated raters. That is enough to exercise every step
and is what CI runs; it is not evidence of accuracy (see
``benchmarks/calibration.py`` for that, on 61 real faces).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import outcomes


def demo_trial(folder: Path, subjects: int) -> Path:
    """A small simulated trial of the bundled astronaut photo; returns its ratings CSV."""
    import cv2
    from skimage import data

    from outcomes.io import photo_from_array
    from outcomes.landmarks import FaceLandmarker
    from outcomes.simulate import TrialSubject, simulate_trial

    face = cv2.resize(data.astronaut()[20:230, 120:330], (1050, 1050), interpolation=cv2.INTER_CUBIC)
    with FaceLandmarker() as landmarker:
        anchors = landmarker.detect(photo_from_array(face, "astronaut")).anchors
    enrolled = [TrialSubject(f"D{i:02d}", face, dict(anchors)) for i in range(subjects)]
    # A wide response range, so that every grade is rated at least once.
    return simulate_trial(enrolled, folder, seed=1, response=(-0.5, 1.0))["ratings"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for the scorer, the cache and the demo trial")
    parser.add_argument("--ratings", help="a site's ratings CSV (default: simulate a demonstration trial)")
    parser.add_argument("--subjects", type=int, default=8, help="subjects in the demonstration trial")
    args = parser.parse_args()
    out = Path(args.out)
    ratings_csv = Path(args.ratings) if args.ratings else demo_trial(out / "demo-trial", args.subjects)

    config = outcomes.load_config(None)  # or the site's YAML: the scorer records which config it fits
    ratings = outcomes.read_ratings(ratings_csv)  # raises RatingsError listing every problem
    print(f"{len(ratings.rows)} ratings of {len(ratings.pairs)} pairs, {len(ratings.subjects)} subjects")

    models = outcomes.load_models(config)  # the default scorer: features must not depend on a calibrated one
    try:
        pairs = outcomes.assess_rated_pairs(ratings, models, config, outcomes.AssessmentCache(out / "cache"))
    finally:
        models.close()

    cv = outcomes.cross_validate_scorer(pairs, folds=4, config=config)
    for name, result in (("calibrated", cv.calibrated), ("default", cv.default)):
        a = result.ratings
        print(f"{name:>10} vs ratings, cross-validated by subject: quadratic kappa {a.kappa_quadratic:.3f}, "
              f"exact {a.exact:.2f}, within one {a.within_one:.2f}")

    scorer = outcomes.fit_scorer(pairs, name="demo site", config=config,
                                 training={"cross_validation": cv.to_dict()})
    sha = outcomes.save_scorer(scorer, out / "scorer.json")
    print(f"scorer: {out / 'scorer.json'} sha256 {sha}")

    # Use it: load it with the models, once, then assess as usual.
    models = outcomes.load_models(config, scorer=out / "scorer.json")
    try:
        first = pairs[0]
        assessment = outcomes.assess_pair(first.before, first.after, models, config)
    finally:
        models.close()
    print(f"{first.after.name}: GAIS {assessment.gais.grade} ({assessment.gais.label}) by {assessment.gais.scorer}; "
          f"rated {first.grades}")


if __name__ == "__main__":
    main()
