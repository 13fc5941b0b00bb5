"""The ``outcomes`` command: thin commands over the public API.

Heavy libraries (OpenCV, mediapipe) are imported inside the commands that
need them, so ``outcomes --help`` is instant. Expected problems (a bad file,
no face) become a one-line message on stderr and exit status 1; nothing is
left half-written.
"""

from __future__ import annotations

import argparse
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
