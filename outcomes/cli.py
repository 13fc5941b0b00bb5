"""The ``outcomes`` command: thin commands over the public API.

Heavy libraries (OpenCV, mediapipe) are imported inside the commands that
need them, so ``outcomes --help`` is instant. Expected problems (a bad file,
no face) become a one-line message on stderr and exit status 1; nothing is
left half-written.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from outcomes import __version__
from outcomes.errors import OutcomesError

EXIT_PROBLEM = 1


def _landmarks(args: argparse.Namespace) -> None:
    from outcomes.config import load_config
    from outcomes.io import read_photo
    from outcomes.landmarks import landmarks_to_dict
    from outcomes.pipeline import load_models, locate_face

    config = load_config(args.config)
    photo = read_photo(args.image, config.input)  # a bad file fails before models load
    models = load_models(config)
    try:
        photo, landmarks = locate_face(photo, models, config)
    finally:
        models.close()
    outputs = [lambda: _write_json(args.json, landmarks_to_dict(landmarks, photo))]
    if args.overlay:
        from outcomes.overlay import draw_landmarks

        outputs.append(lambda: _write_png(args.overlay, draw_landmarks(photo.pixels, landmarks)))
    _write_all(outputs, [args.json, args.overlay])


def _align(args: argparse.Namespace) -> None:
    from outcomes.config import load_config
    from outcomes.io import read_photo
    from outcomes.pipeline import align_photos, alignment_to_dict, load_models

    config = load_config(args.config)
    before, after = read_photo(args.before, config.input), read_photo(args.after, config.input)
    models = load_models(config)
    try:
        pair = align_photos(before, after, models, config)
    finally:
        models.close()
    outputs = [lambda: _write_json(args.json, alignment_to_dict(pair, config))]
    if args.out_image:
        outputs.append(lambda: _write_png(args.out_image, pair.after_in_before))
    _write_all(outputs, [args.json, args.out_image])
    if not pair.registration.ok:
        print(f"outcomes: warning: pair not usable: {', '.join(pair.registration.qc_flags)}", file=sys.stderr)


def _assess(args: argparse.Namespace) -> None:
    from outcomes.config import load_config
    from outcomes.io import read_photo
    from outcomes.pipeline import assess_pair, load_models

    config = load_config(args.config)
    if args.fitzpatrick is not None:
        _check_fitzpatrick(args.fitzpatrick)
    before, after = read_photo(args.before, config.input), read_photo(args.after, config.input)
    models = load_models(config, scorer=args.scorer)
    try:
        assessment = assess_pair(before, after, models, config, fitzpatrick=args.fitzpatrick)
    finally:
        models.close()
    outputs = [lambda: _write_json(args.json, assessment.to_dict())]
    if args.report:
        from outcomes.report import write_report

        outputs.append(lambda: write_report(args.report, assessment))
    _write_all(outputs, [args.json, args.report])
    if not assessment.usable:
        print(f"outcomes: warning: pair not usable: {', '.join(assessment.qc_flags)}", file=sys.stderr)


def _wrinkles(args: argparse.Namespace) -> None:
    import numpy as np

    from outcomes.config import load_config
    from outcomes.io import read_photo
    from outcomes.pipeline import detect_photo_wrinkles, load_models

    config = load_config(args.config)
    photo = read_photo(args.image, config.input)
    models = load_models(config)
    try:
        result = detect_photo_wrinkles(photo, models, config)
    finally:
        models.close()
    outputs = [lambda: _write_png(args.mask, np.where(result.mask, 255, 0).astype(np.uint8))]
    if args.json:
        outputs.append(lambda: _write_json(args.json, result.to_dict()))
    if args.overlay:
        from outcomes.overlay import draw_mask

        outputs.append(lambda: _write_png(args.overlay, draw_mask(photo.pixels, result.mask)))
    _write_all(outputs, [args.mask, args.json, args.overlay])


def _calibrate(args: argparse.Namespace) -> None:
    from outcomes.calibration import calibrate, default_cache_dir, format_summary
    from outcomes.config import load_config
    from outcomes.ratings import read_ratings
    from outcomes.scoring import CALIBRATION_FEATURES

    if args.folds < 2:
        raise OutcomesError(f"--folds: need at least 2 cross-validation folds, got {args.folds}")
    config = load_config(args.config)
    ratings = read_ratings(args.ratings)  # every problem of the file, before any model loads
    cache = None if args.no_cache else (args.cache or default_cache_dir())
    features = tuple(f.strip() for f in args.features.split(",") if f.strip())
    unknown = [f for f in features if f not in CALIBRATION_FEATURES]
    if unknown or not features:
        raise OutcomesError(f"--features: expected a comma-separated subset of {', '.join(CALIBRATION_FEATURES)}, "
                            f"got {args.features!r}")
    progress = _progress_line("assessing rated pairs") if sys.stderr.isatty() else None
    result = calibrate(ratings, args.out, config, cache_dir=cache, folds=args.folds, seed=args.seed, name=args.name,
                       features=features, progress=progress)
    print(format_summary(result))


def _batch(args: argparse.Namespace) -> None:
    from outcomes.batch import run_batch
    from outcomes.config import load_config

    config = load_config(args.config)
    result = run_batch(args.manifest, args.out, config, workers=args.workers, executor=args.executor,
                       ray_address=args.ray_address, resume=args.resume, scorer=args.scorer,
                       baseline_visit=args.baseline_visit, progress=sys.stderr.isatty())
    s = result.summary
    resp, pih = s["responder_rate"]["overall"], s["pih_incidence"]["overall"]

    def rate(p: dict) -> str:
        if not p["n"]:
            return "no subjects"
        return f"{100 * p['rate']:.0f} % ({p['count']}/{p['n']}, 95 % CI {100 * p['ci_low']:.0f}-{100 * p['ci_high']:.0f} %)"

    speed = "" if result.pairs_per_second is None else f", {result.pairs_per_second:.2f} pairs/s"
    print(f"{result.pairs} pairs: {result.assessed} assessed now{speed}, {result.reused} kept from before; "
          f"{result.errors} errors, {result.not_usable} not usable\n"
          f"responders (GAIS <= 3): {rate(resp)}; PIH: {rate(pih)}\n"
          f"{result.outputs['report']}")
    for warning in s["warnings"]:
        print(f"outcomes: warning: {warning}", file=sys.stderr)


def _progress_line(what: str) -> Callable[[int, int, bool], None]:
    def show(done: int, total: int, cached: bool) -> None:
        end = "\n" if done == total else ""
        print(f"\r{what}: {done}/{total}{' (cached)' if cached else '         '}", end=end, file=sys.stderr,
              flush=True)
    return show


def _train_wrinkles(args: argparse.Namespace) -> None:
    from outcomes.training.config import load_train_config

    config = load_train_config(args.train_config)
    if args.device:
        import dataclasses

        config = dataclasses.replace(config, device=args.device)
    from outcomes.training.trainer import train_wrinkles

    with _LazyIpd() as measure:
        result = train_wrinkles(config, args.data, args.out, resume=not args.no_resume, progress=sys.stderr.isatty(),
                                measure_ipd=measure)
    test = result.card_data["metrics"].get("test", result.card_data["metrics"]["val"])
    dice = test["by_threshold"][f"{config.threshold:g}"]["dice"]
    selection = result.card_data["training"]["selection"]
    exported = {"average": f"the average of {(selection.get('averaging') or {}).get('epochs')} averaged epochs",
                "starting weights": "the starting weights (training did not beat them on val)",
                }.get(result.exported, f"best epoch {result.best_epoch} of {result.epochs_run}")
    print(f"{result.weights}  sha256 {result.sha256}\n{result.card}  exported {exported}, {result.seconds:.0f} s, "
          f"{'test' if 'test' in result.card_data['metrics'] else 'val'} Dice {dice:.3f}")


class _LazyIpd:
    """``rgb -> inter-pupil distance``, loading the face landmarker on first use only."""

    def __init__(self) -> None:
        self._landmarker = None

    def __enter__(self):  # noqa: ANN204
        return self

    def __call__(self, rgb) -> float:  # noqa: ANN001 - numpy array
        from outcomes.io import photo_from_array

        if self._landmarker is None:
            from outcomes.landmarks import FaceLandmarker

            self._landmarker = FaceLandmarker()
        return self._landmarker.detect(photo_from_array(rgb)).inter_pupil_distance

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        if self._landmarker is not None:
            self._landmarker.close()


def _train_wrinkle_data(args: argparse.Namespace) -> None:
    from outcomes.training.synthetic import make_training_set

    index = make_training_set(args.london, args.out, variants=args.variants, seed=args.seed, faces=args.faces,
                              labels=args.labels, tone_depth=args.tone_depth)
    print(index)


def _check_fitzpatrick(value: str) -> None:
    from outcomes.errors import OutcomesError

    if value.strip().upper() not in ("I", "II", "III", "IV", "V", "VI"):
        raise OutcomesError(f"--fitzpatrick: expected one of I, II, III, IV, V, VI, got {value!r}")


def _write_json(path: str, payload: dict) -> None:
    from outcomes.io import write_json

    write_json(path, payload)


def _write_png(path: str, pixels) -> None:  # noqa: ANN001 - numpy array
    from outcomes.io import write_png

    write_png(path, pixels)


def _write_all(writers: list[Callable[[], None]], paths: list[str | None]) -> None:
    """Run each writer; if one fails, remove what the others wrote."""
    try:
        for write in writers:
            write()
    except BaseException:
        for path in paths:
            if path:
                Path(path).unlink(missing_ok=True)
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outcomes",
        description="Measure how a face changed between a baseline and a follow-up photo.",
    )
    parser.add_argument("--version", action="version", version=f"outcomes {__version__}")
    parser.add_argument("--config", metavar="YAML", help="settings overriding the defaults (see configs/default.yaml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("landmarks", help="find the face and its 478 landmarks, anchors and head pose")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--json", required=True, metavar="OUT", help="write the landmarks JSON here")
    p.add_argument("--overlay", metavar="OUT.png", help="also draw the landmarks on the photo")
    p.set_defaults(run=_landmarks)

    p = sub.add_parser("align", help="register a follow-up photo onto its baseline")
    p.add_argument("before", metavar="BEFORE")
    p.add_argument("after", metavar="AFTER")
    p.add_argument("--json", required=True, metavar="OUT", help="write the registration JSON here")
    p.add_argument("--out-image", metavar="ALIGNED.png", help="write AFTER warped into BEFORE's frame")
    p.set_defaults(run=_align)

    p = sub.add_parser("assess", help="align a pair and estimate GAIS, wrinkle/laxity change and PIH")
    p.add_argument("before", metavar="BEFORE")
    p.add_argument("after", metavar="AFTER")
    p.add_argument("--json", required=True, metavar="OUT", help="write the assessment JSON here")
    p.add_argument("--fitzpatrick", metavar="TYPE", help="the clinic's Fitzpatrick type I-VI (wins over the estimate)")
    p.add_argument("--report", metavar="OUT.html", help="also write a self-contained HTML report")
    p.add_argument("--scorer", metavar="SCORER.json", help="a GAIS scorer from `outcomes calibrate` "
                   "(default: the configured scorer)")
    p.set_defaults(run=_assess)

    p = sub.add_parser("wrinkles", help="detect wrinkles on one photo")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--mask", required=True, metavar="OUT.png", help="255 where a wrinkle is detected, 0 elsewhere")
    p.add_argument("--json", metavar="OUT.json", help="per-region wrinkle features and the detector used")
    p.add_argument("--overlay", metavar="OUT.png", help="the photo with the wrinkles drawn on it")
    p.set_defaults(run=_wrinkles)

    p = sub.add_parser("calibrate", help="fit the GAIS scorer to investigator ratings")
    p.add_argument("ratings", metavar="RATINGS.csv", help="subject_id, before, after, gais[, rater_id]; "
                   "image paths relative to the CSV")
    p.add_argument("--out", required=True, metavar="SCORER.json", help="write the calibrated scorer here")
    p.add_argument("--cache", metavar="DIR", help="assessment cache (default: ~/.cache/outcomes/assessments)")
    p.add_argument("--no-cache", action="store_true", help="assess every pair afresh and keep nothing")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds, split by subject (default 5)")
    p.add_argument("--seed", type=int, default=0, help="seed of the fold assignment (default 0)")
    p.add_argument("--name", help="the scorer's name in provenance (default: the ratings file's name)")
    p.add_argument("--features", default="wrinkle_reduction", help="comma-separated, from wrinkle_reduction, "
                   "fold_reduction, wrinkle_removed (default: wrinkle_reduction)")
    p.set_defaults(run=_calibrate)

    p = sub.add_parser("batch", help="assess every follow-up of a trial manifest; tables, summary and report")
    p.add_argument("manifest", metavar="MANIFEST.csv", help="subject_id, visit, image[, visit_day, view, "
                   "fitzpatrick]; image paths relative to the CSV")
    p.add_argument("--out", required=True, metavar="DIR", help="assessments.csv/.parquet, regions.parquet, "
                   "summary.json, report.html, pairs/, thumbnails/, batch.log")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="worker processes (or Ray actors), each with its own models (default: CPU cores)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local process pool (default) or Ray (pip install 'outcomes[distributed]')")
    p.add_argument("--ray-address", metavar="ADDR", help="a running Ray cluster (default: start Ray locally)")
    p.add_argument("--resume", action="store_true", help="finish the job in DIR: keep finished pairs, do the rest")
    p.add_argument("--scorer", metavar="SCORER.json", help="a GAIS scorer from `outcomes calibrate`")
    p.add_argument("--baseline-visit", metavar="NAME", help="the baseline visit's name (default: each subject's "
                   "visit with the smallest visit_day)")
    p.set_defaults(run=_batch)

    train = sub.add_parser("train", help="retrain models on a site's own data").add_subparsers(
        dest="train_command", required=True, metavar="MODEL")
    p = train.add_parser("wrinkles", help="train the wrinkle CNN on a folder of images and masks")
    p.add_argument("--config", dest="train_config", metavar="YAML", help="training settings "
                   "(configs/train/wrinkles.yaml; defaults when omitted)")
    p.add_argument("--data", required=True, metavar="DIR", help="images/, masks/ and optional index.csv "
                   "(see outcomes/training/data.py)")
    p.add_argument("--out", required=True, metavar="DIR", help="checkpoint, weights and model card go here")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="override the config's device")
    p.add_argument("--no-resume", action="store_true", help="start over even if DIR holds a checkpoint")
    p.set_defaults(run=_train_wrinkles)
    p = train.add_parser("wrinkle-data", help="render wrinkles with known masks onto the London faces")
    p.add_argument("--london", required=True, metavar="DIR", help="the London set folder (neutral/, faces.csv)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--variants", type=int, default=8, help="renderings per person (default 8)")
    p.add_argument("--faces", type=int, help="use only this many people (spread over the set)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--labels", choices=("visible", "exact"), default="visible",
                   help="label only the drawn pixels the image shows (default) or all of them")
    p.add_argument("--tone-depth", action=argparse.BooleanOptionalAction, default=True,
                   help="deeper lines on darker skin, for as many visible lines to learn (default on)")
    p.set_defaults(run=_train_wrinkle_data)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except OutcomesError as exc:
        print(f"outcomes: error: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    except KeyboardInterrupt:
        print("outcomes: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
