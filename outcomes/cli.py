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
from outcomes.outputs import check_outputs, commit_outputs, shown

EXIT_PROBLEM = 1


def _landmarks(args: argparse.Namespace) -> None:
    from outcomes.config import load_config
    from outcomes.io import json_bytes, read_photo
    from outcomes.landmarks import landmarks_to_dict
    from outcomes.pipeline import locate_face
    from outcomes.runtime import load_models

    outputs = {o.option: o for o in check_outputs({"--json": args.json, "--overlay": args.overlay},
                                                  _inputs(args, IMAGE=args.image))}
    config = load_config(args.config)
    photo = read_photo(args.image, config.input)  # a bad file fails before models load
    models = load_models(config)
    try:
        photo, landmarks = locate_face(photo, models, config)
    finally:
        models.close()
    writers = {outputs["--json"]: lambda: json_bytes(landmarks_to_dict(landmarks, photo))}
    if "--overlay" in outputs:
        from outcomes.io import png_bytes
        from outcomes.overlay import draw_landmarks

        writers[outputs["--overlay"]] = lambda: png_bytes(draw_landmarks(photo.pixels, landmarks))
    commit_outputs(writers)
    for flag in landmarks.qc_flags:
        if flag.startswith("face_rotated"):
            print(f"outcomes: warning: {flag}", file=sys.stderr)


def _align(args: argparse.Namespace) -> None:
    from outcomes.config import load_config
    from outcomes.io import json_bytes, read_photo
    from outcomes.pipeline import align_photos, alignment_to_dict
    from outcomes.runtime import load_models

    outputs = {o.option: o for o in check_outputs({"--json": args.json, "--out-image": args.out_image},
                                                  _inputs(args, BEFORE=args.before, AFTER=args.after))}
    config = load_config(args.config)
    before, after = read_photo(args.before, config.input), read_photo(args.after, config.input)
    models = load_models(config)
    try:
        pair = align_photos(before, after, models, config)
    finally:
        models.close()
    writers = {outputs["--json"]: lambda: json_bytes(alignment_to_dict(pair, config))}
    if "--out-image" in outputs:
        from outcomes.io import png_bytes
        from outcomes.working_scale import warp_to_original_before

        writers[outputs["--out-image"]] = lambda: png_bytes(warp_to_original_before(after.pixels, pair,
                                                                        (before.width, before.height)))
    commit_outputs(writers)
    if not pair.registration.ok:
        print(f"outcomes: warning: pair not usable: {', '.join(pair.registration.qc_flags)}", file=sys.stderr)


def _assess(args: argparse.Namespace) -> None:
    from outcomes.config import load_config
    from outcomes.io import json_bytes, read_photo
    from outcomes.pipeline import assess_pair
    from outcomes.runtime import load_models

    if args.json is None and args.report is None:
        raise OutcomesError("assess: give --json OUT, --report OUT.html or both", code="usage")
    outputs = {o.option: o for o in check_outputs({"--json": args.json, "--report": args.report},
                                                  _inputs(args, BEFORE=args.before, AFTER=args.after))}
    fitzpatrick = None if args.fitzpatrick is None else fitzpatrick_type(args.fitzpatrick)
    config = load_config(args.config)
    before, after = read_photo(args.before, config.input), read_photo(args.after, config.input)
    models = load_models(config, scorer=args.scorer)
    try:
        assessment = assess_pair(before, after, models, config, fitzpatrick=fitzpatrick)
    finally:
        models.close()
    writers = {}
    if "--json" in outputs:
        writers[outputs["--json"]] = lambda: json_bytes(assessment.to_dict())
    if "--report" in outputs:
        from outcomes.report import render_report

        writers[outputs["--report"]] = lambda: render_report(assessment).encode("utf-8")
    commit_outputs(writers)
    print(assessment_summary(assessment, [o.path for o in outputs.values()]))
    if not assessment.usable:
        print(f"outcomes: warning: pair not usable: {', '.join(assessment.qc_flags)}", file=sys.stderr)


def _inputs(args: argparse.Namespace, **named: str) -> dict[str, str]:
    """The command's input files by name, with the configuration and scorer files if given."""
    extra = {"--config": getattr(args, "config", None), "--scorer": getattr(args, "scorer", None)}
    return {**named, **{k: v for k, v in extra.items() if v}}


def assessment_summary(assessment, paths: list[Path]) -> str:  # noqa: ANN001 - Assessment
    """One line: grade, score, PIH, usable, where the outputs went."""
    g = assessment.gais
    pih = f"PIH {assessment.pih.severity}" if assessment.pih.flag else "no PIH"
    usable = "usable" if assessment.usable else "NOT USABLE (see qc.flags)"
    return (f"GAIS {g.grade} {g.label} (improvement score {g.improvement_score:+.2f}); {pih}; {usable}; "
            f"wrote {', '.join(shown(p) for p in paths)}")


def _wrinkles(args: argparse.Namespace) -> None:
    import numpy as np

    from outcomes.config import load_config
    from outcomes.io import json_bytes, png_bytes, read_photo
    from outcomes.pipeline import detect_photo_wrinkles
    from outcomes.runtime import load_models

    outputs = {o.option: o for o in check_outputs({"--mask": args.mask, "--json": args.json,
                                                   "--overlay": args.overlay}, _inputs(args, IMAGE=args.image))}
    config = load_config(args.config)
    photo = read_photo(args.image, config.input)
    models = load_models(config)
    try:
        result = detect_photo_wrinkles(photo, models, config)
    finally:
        models.close()
    writers = {outputs["--mask"]: lambda: png_bytes(np.where(result.mask, 255, 0).astype(np.uint8))}
    if "--json" in outputs:
        writers[outputs["--json"]] = lambda: json_bytes(result.to_dict())
    if "--overlay" in outputs:
        from outcomes.overlay import draw_mask

        writers[outputs["--overlay"]] = lambda: png_bytes(draw_mask(photo.pixels, result.mask))
    commit_outputs(writers)


def _calibrate(args: argparse.Namespace) -> None:
    from outcomes.calibration import calibrate, default_cache_dir, format_summary
    from outcomes.config import load_config
    from outcomes.ratings import read_ratings
    from outcomes.scoring import CALIBRATION_FEATURES

    if args.folds < 2:
        raise OutcomesError(f"--folds: need at least 2 cross-validation folds, got {args.folds}")
    check_outputs({"--out": args.out}, _inputs(args, **{"RATINGS.csv": args.ratings}))
    config = load_config(args.config)
    ratings = read_ratings(args.ratings)  # every problem of the file, before any model loads
    images = {f"image of line {r.line}": p for r in ratings.rows for p in r.pair}
    check_outputs({"--out": args.out}, images)  # nor may the scorer overwrite a rated photo
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
    import shlex
    import signal

    from outcomes.batch import run_batch
    from outcomes.batch.run import BatchInterrupted
    from outcomes.config import load_config

    def terminated(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the job as Ctrl-C does: workers stopped, finished pairs kept

    signal.signal(signal.SIGTERM, terminated)
    config = load_config(args.config)
    try:
        result = run_batch(args.manifest, args.out, config, workers=args.workers, executor=args.executor,
                           ray_address=args.ray_address, resume=args.resume, scorer=args.scorer,
                           baseline_visit=args.baseline_visit, progress=sys.stderr.isatty())
    except BatchInterrupted as stop:
        again = [a for a in args.argv if a != "--resume"]
        command = shlex.join(["outcomes", *again, "--resume"])
        print(f"outcomes: interrupted: {stop.finished} of {stop.total} pairs finished and kept; to finish the job:\n"
              f"  {command}", file=sys.stderr)
        stop.reported = True
        raise
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


def _require_training_extra() -> None:
    import importlib.util

    missing = [m for m in ("torch", "albumentations", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        raise OutcomesError(f"training needs {', '.join(missing)}, which this installation lacks: "
                            "pip install 'outcomes[train]'", code="missing_extra")


def _train_wrinkles(args: argparse.Namespace) -> None:
    _require_training_extra()
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


ROMAN = ("I", "II", "III", "IV", "V", "VI")


def fitzpatrick_type(value: str) -> str:
    """A Fitzpatrick type as given on the command line (``IV``, ``iv`` or ``4``) → ``"IV"``."""
    text = value.strip().upper()
    if text.isdigit() and 1 <= int(text) <= 6:
        return ROMAN[int(text) - 1]
    if text in ROMAN:
        return text
    raise OutcomesError(f"--fitzpatrick: expected a type I-VI (or 1-6), got {value!r}", code="usage")


def _service_settings(args: argparse.Namespace):  # noqa: ANN202 - ServiceSettings
    try:
        import fastapi  # noqa: F401
        import huey  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        raise OutcomesError(f"the clinic server needs the service extra ({exc.name} is not installed): "
                            "pip install 'outcomes[service]'", code="usage") from None
    from outcomes.service.settings import ServiceSettings

    return ServiceSettings(data_dir=Path(args.data), database_url=args.database, config_path=args.config,
                           dev_mode=getattr(args, "dev", False))


def _serve(args: argparse.Namespace) -> None:
    settings = _service_settings(args)
    from outcomes.service.server import serve

    if args.workers < 0:
        raise OutcomesError(f"--workers: expected 0 or more, got {args.workers}", code="usage")
    if args.dev and args.host not in ("127.0.0.1", "::1", "localhost"):
        raise OutcomesError(f"--dev drops the Secure cookie flag and is for localhost only; it cannot be used with "
                            f"--host {args.host}", code="usage")
    serve(settings, args.host, args.port, args.workers)


def _users_add(args: argparse.Namespace) -> None:
    import getpass

    settings = _service_settings(args)
    from outcomes.service.admin import add_user

    password = os.environ.get("OUTCOMES_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise OutcomesError("users add: set OUTCOMES_PASSWORD or run it on a terminal to type the password",
                                code="usage")
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            raise OutcomesError("users add: the two passwords differ", code="usage")
    user_id, clinic_created = add_user(settings, args.username, args.clinic, args.role, password)
    made = f" (new clinic {args.clinic!r})" if clinic_created else ""
    print(f"user {args.username!r} ({args.role}) added to clinic {args.clinic!r}{made}, id {user_id}")


def _audit_verify(args: argparse.Namespace) -> None:
    settings = _service_settings(args)
    from outcomes.service.admin import verify_audit

    check = verify_audit(settings)
    if not check.ok:
        raise OutcomesError(f"audit log: {check.problem} ({check.rows} rows check out before it)",
                            code="audit_broken")
    print(f"audit log: {check.rows} rows, hash chain intact")


def _data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="./outcomes-data", metavar="DIR", help="photos, queue and (by default) the "
                   "SQLite database (default ./outcomes-data; created on first start)")
    p.add_argument("--database", metavar="URL", help="a database URL instead of SQLite in --data, e.g. "
                   "postgresql+psycopg://USER@HOST/DB")


def _examples(*lines: str) -> dict:
    """``add_parser`` keywords for a command's examples, shown by ``--help``."""
    return {"epilog": "examples:\n" + "\n".join(f"  {line}" for line in lines),
            "formatter_class": argparse.RawDescriptionHelpFormatter}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="outcomes",
        description="Measure how a face changed between a baseline and a follow-up photo.",
    )
    parser.add_argument("--version", action="version", version=f"outcomes {__version__}")
    parser.add_argument("--config", metavar="YAML", help="settings overriding the defaults: a file, or a bundled one by name (default, classical; see outcomes/configs/default.yaml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("landmarks", help="find the face and its 478 landmarks, anchors and head pose",
                       **_examples("outcomes landmarks photo.jpg --json photo.landmarks.json --overlay photo.mesh.png"))
    p.add_argument("image", metavar="IMAGE", help="a face photo (JPEG, PNG, TIFF or WebP)")
    p.add_argument("--json", required=True, metavar="OUT", help="write the landmarks JSON here")
    p.add_argument("--overlay", metavar="OUT.png", help="also draw the landmarks on the photo")
    p.set_defaults(run=_landmarks)

    p = sub.add_parser("align", help="register a follow-up photo onto its baseline",
                       **_examples("outcomes align day0.jpg day90.jpg --json align.json --out-image day90_on_day0.png"))
    p.add_argument("before", metavar="BEFORE", help="the baseline photo")
    p.add_argument("after", metavar="AFTER", help="the follow-up photo, registered onto BEFORE")
    p.add_argument("--json", required=True, metavar="OUT", help="write the registration JSON here")
    p.add_argument("--out-image", metavar="ALIGNED.png", help="write AFTER warped into BEFORE's frame")
    p.set_defaults(run=_align)

    p = sub.add_parser("assess", help="align a pair and estimate GAIS, wrinkle/laxity change and PIH",
                       **_examples("outcomes assess day0.jpg day90.jpg --report day90.html",
                                   "outcomes assess day0.jpg day90.jpg --json day90.json --fitzpatrick V",
                                   "outcomes --config classical assess day0.jpg day90.jpg --json day90.json"))
    p.add_argument("before", metavar="BEFORE", help="the baseline photo")
    p.add_argument("after", metavar="AFTER", help="the follow-up photo of the same person")
    p.add_argument("--json", metavar="OUT", help="write the assessment JSON here (--json, --report or both)")
    p.add_argument("--fitzpatrick", metavar="TYPE", help="the clinic's Fitzpatrick type, I-VI or 1-6 (wins over "
                   "the estimate from the photo)")
    p.add_argument("--report", metavar="OUT.html", help="write a self-contained HTML report here")
    p.add_argument("--scorer", metavar="SCORER.json", help="a GAIS scorer from `outcomes calibrate` "
                   "(default: the configured scorer)")
    p.set_defaults(run=_assess)

    p = sub.add_parser("wrinkles", help="detect wrinkles on one photo",
                       **_examples("outcomes wrinkles photo.jpg --mask lines.png --overlay lines_on_photo.png"))
    p.add_argument("image", metavar="IMAGE", help="a face photo")
    p.add_argument("--mask", required=True, metavar="OUT.png", help="255 where a wrinkle is detected, 0 elsewhere")
    p.add_argument("--json", metavar="OUT.json", help="per-region wrinkle features and the detector used")
    p.add_argument("--overlay", metavar="OUT.png", help="the photo with the wrinkles drawn on it")
    p.set_defaults(run=_wrinkles)

    p = sub.add_parser("calibrate", help="fit the GAIS scorer to investigator ratings",
                       **_examples("outcomes calibrate ratings.csv --out site1_scorer.json",
                                   "outcomes assess day0.jpg day90.jpg --json out.json --scorer site1_scorer.json"))
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

    p = sub.add_parser("batch", help="assess every follow-up of a trial manifest; tables, summary and report",
                       **_examples("outcomes batch trial/manifest.csv --out trial/results --workers 4",
                                   "outcomes batch trial/manifest.csv --out trial/results --resume"))
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

    p = sub.add_parser("serve", help="the clinic server: pages and the JSON API (pip install 'outcomes[service]')",
                       **_examples("outcomes serve --data /srv/outcomes --port 8000 --workers 2",
                                   "outcomes serve --database postgresql+psycopg://outcomes@db/outcomes"))
    _data_options(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; put a TLS proxy "
                   "in front for anything else)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--workers", type=int, default=2, help="assessment worker processes, each with its own models "
                   "(default 2)")
    p.add_argument("--dev", action="store_true", help="plain-HTTP development on localhost: session cookies "
                   "without Secure (and so without the __Host- prefix)")
    p.set_defaults(run=_serve)

    users = sub.add_parser("users", help="clinic server accounts").add_subparsers(
        dest="users_command", required=True, metavar="ACTION")
    p = users.add_parser("add", help="add a user (and its clinic when new); the password comes from "
                         "OUTCOMES_PASSWORD or the terminal",
                         **_examples("OUTCOMES_PASSWORD=… outcomes users add dr.lee --clinic 'Harbour Clinic' "
                                     "--role clinician"))
    p.add_argument("username", metavar="USERNAME")
    p.add_argument("--clinic", required=True, metavar="NAME", help="the user's clinic (created when new)")
    p.add_argument("--role", default="clinician", choices=("admin", "clinician", "viewer"),
                   help="admin, clinician (default) or viewer (read-only)")
    _data_options(p)
    p.set_defaults(run=_users_add)

    audit = sub.add_parser("audit", help="the clinic server's audit log").add_subparsers(
        dest="audit_command", required=True, metavar="ACTION")
    p = audit.add_parser("verify", help="recompute the audit log's hash chain; exit 1 if a row was changed")
    _data_options(p)
    p.set_defaults(run=_audit_verify)

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
    import warnings

    if not sys.warnoptions:  # libraries' warnings are not the user's business (-W shows them)
        warnings.simplefilter("ignore")
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        args.run(args)
    except OutcomesError as exc:
        # one line whatever the message holds (file names may contain line breaks)
        print(f"outcomes: error: {shown(str(exc))}", file=sys.stderr)
        return EXIT_PROBLEM
    except KeyboardInterrupt as exc:
        if not getattr(exc, "reported", False):
            print("outcomes: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
