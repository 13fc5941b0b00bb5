"""Does the assessment refuse what cannot be compared and keep unchanged faces unchanged?

On the London set's real photos, with each face's neutral photo as the baseline:

- neutral → smiling (the same person, same session): the pair must be refused
  with ``expression_change`` and raise no PIH;
- recaptures (``outcomes.simulate.recapture``: the unchanged face photographed
  again at 0.6–1.6× size, blurred, noisy, JPEG 70–95, ±0.3 EV, white balance,
  ±3° yaw and pitch): graded No change, no PIH, no flag;
- another person's neutral photo as the follow-up: ``different_person``;
- a follow-up with two people, the other one larger: the patient is found;
- a treated face (rendered wrinkles 50 % shallower at follow-up) whose
  follow-up is recaptured: how far the improvement score moves when only the
  follow-up's capture changes.

Faces at even positions (sorted by id) are the tuning half the expression
threshold and noise model were set on; odd positions are held out. Each
figure is printed for both halves.

    python benchmarks/real_photo_qc.py [--recaptures 2] [--faces N] [--config FILE] [--out rows.csv]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_data, write_rows  # noqa: E402

from outcomes.config import load_config  # noqa: E402
from outcomes.errors import OutcomesError  # noqa: E402
from outcomes.face_analysis import analyse_face  # noqa: E402
from outcomes.io import read_photo  # noqa: E402
from outcomes.pipeline import assess_pair  # noqa: E402
from outcomes.runtime import load_models  # noqa: E402
from outcomes.simulate import TreatmentSpec, london_anchors, read_tem, simulate_pair  # noqa: E402
from outcomes.simulate.recapture import random_recapture, recapture  # noqa: E402
from outcomes.types import Photo  # noqa: E402


def array_photo(pixels: np.ndarray, name: str) -> Photo:
    return Photo(np.ascontiguousarray(pixels), name, hashlib.sha256(pixels.tobytes()).hexdigest())


def two_people(patient: np.ndarray, other: np.ndarray) -> np.ndarray:
    """The patient small on the right, another person larger on the left, on one grey canvas."""
    import cv2

    h, w = patient.shape[:2]
    canvas = np.full_like(patient, 200)
    big = cv2.resize(other, None, fx=0.62, fy=0.62, interpolation=cv2.INTER_AREA)
    small = cv2.resize(patient, None, fx=0.42, fy=0.42, interpolation=cv2.INTER_AREA)
    canvas[h - big.shape[0]:, :big.shape[1]] = big
    canvas[h - small.shape[0] - 120:h - 120, w - small.shape[1]:] = small
    return canvas


def row(kind: str, face: str, half: str, a) -> dict:  # noqa: ANN001 - Assessment
    codes = {f.split(":")[0] for f in a.qc_flags}
    qc = a.comparability
    return {
        "kind": kind, "face": face, "half": half, "grade": a.gais.grade, "score": a.gais.improvement_score,
        "pih": a.pih.flag, "usable": a.usable, "expression_change": "expression_change" in codes,
        "different_person": "different_person" in codes,
        "identity_distance": None if qc is None else qc.identity_distance,
        "expression_distance": None if qc is None or qc.expression is None else qc.expression.distance,
        "flags": ";".join(sorted(codes)), "score_change": None,
    }


def treated_recaptures(pixels: np.ndarray, anchors: dict, face: str, half: str, count: int, index: int,
                       models, config) -> list[dict]:  # noqa: ANN001 - Models, Config
    """Score change of a treated pair when only its follow-up is photographed again."""
    pair = simulate_pair(pixels, anchors, TreatmentSpec(wrinkle_severity=0.75, wrinkle_reduction=0.5,
                                                        geometric=False, lighting=False, seed=30_000 + index))
    base = analyse_face(array_photo(pair.before, f"{face}-treated-before"), models, config)
    reference = assess_pair(base, array_photo(pair.after, f"{face}-treated-after"), models, config).gais
    rng = np.random.default_rng(40_000 + index)
    out = []
    for j in range(count):
        again, _ = recapture(pair.after, anchors, random_recapture(rng), rng)
        a = assess_pair(base, array_photo(again, f"{face}-treated-recapture-{j}"), models, config)
        out.append({**row("treated_recapture", face, half, a),
                    "score_change": a.gais.improvement_score - reference.improvement_score})
    return out


def report(rows: list[dict]) -> None:
    def pct(part: int, whole: int) -> str:
        return f"{part}/{whole} ({100 * part / whole:.1f} %)" if whole else "0/0"

    for kind in ("smiling", "recapture", "other_person", "two_people", "treated_recapture"):
        for half in ("tuning", "held-out", "all"):
            sel = [r for r in rows if r["kind"] == kind and (half == "all" or r["half"] == half)]
            if not sel:
                continue
            n = len(sel)
            line = [f"{kind:13s} {half:8s} n={n:3d}"]
            if kind == "smiling":
                line += [f"expression_change {pct(sum(r['expression_change'] and not r['usable'] for r in sel), n)}",
                         f"PIH {pct(sum(r['pih'] for r in sel), n)}",
                         f"different_person {pct(sum(r['different_person'] for r in sel), n)}"]
            elif kind == "recapture":
                grades = Counter(r["grade"] for r in sel)
                scores = np.array([r["score"] for r in sel])
                line += [f"No change {pct(grades[4], n)}", f"PIH {pct(sum(r['pih'] for r in sel), n)}",
                         f"usable {pct(sum(r['usable'] for r in sel), n)}",
                         f"expression_change {pct(sum(r['expression_change'] for r in sel), n)}",
                         f"different_person {pct(sum(r['different_person'] for r in sel), n)}",
                         f"|score| median {np.median(np.abs(scores)):.3f} p95 {np.percentile(np.abs(scores), 95):.3f}"
                         f" sd {scores.std():.3f}",
                         f"other flags: {dict(Counter(f for r in sel for f in r['flags'].split(';') if f))}"]
            elif kind == "other_person":
                line += [f"different_person {pct(sum(r['different_person'] for r in sel), n)}",
                         f"usable {pct(sum(r['usable'] for r in sel), n)}", f"PIH {pct(sum(r['pih'] for r in sel), n)}"]
            elif kind == "two_people":
                line += [f"patient found (same person, no different_person) "
                         f"{pct(sum(not r['different_person'] for r in sel), n)}"]
            else:
                change = np.abs([r["score_change"] for r in sel])
                line += [f"|score change| median {np.median(change):.3f} p90 {np.percentile(change, 90):.3f} "
                         f"p95 {np.percentile(change, 95):.3f} max {change.max():.3f}",
                         f"<= 0.03: {pct(int((change <= 0.03).sum()), n)}",
                         f"treated score median {np.median([r['score'] - r['score_change'] for r in sel]):.3f}"]
            print("  ".join(line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recaptures", type=int, default=2, help="repeat photos per face")
    parser.add_argument("--faces", type=int, default=0, help="only the first N faces (0: all 61)")
    parser.add_argument("--two-people", type=int, default=6, help="two-person follow-ups")
    parser.add_argument("--no-treated", dest="treated", action="store_false",
                        help="skip the treated faces' recaptured follow-ups")
    parser.add_argument("--config")
    parser.add_argument("--out", help="write the per-pair rows as CSV")
    args = parser.parse_args()
    data = shared_data()
    config = load_config(args.config)
    files = sorted((data / "london" / "neutral").glob("*.jpg"))
    halves = {p.stem.split("_")[0]: ("tuning" if i % 2 == 0 else "held-out") for i, p in enumerate(files)}
    if args.faces:
        files = files[:args.faces]
    models = load_models(config)
    rows, seconds, identities = [], [], {}
    start_all = time.perf_counter()
    for i, path in enumerate(files):
        face = path.stem.split("_")[0]
        photo = read_photo(path)
        base = analyse_face(photo, models, config)
        identities[face] = base.identity
        anchors = london_anchors(read_tem(path.with_suffix(".tem")))
        other = files[(i + 1) % len(files)]
        follow_ups = [("smiling", read_photo(data / "london" / "smiling" / f"{face}_08.jpg")),
                      ("other_person", read_photo(other))]
        rng = np.random.default_rng(20_000 + i)
        for j in range(args.recaptures):
            pixels, _ = recapture(photo.pixels, anchors, random_recapture(rng), rng)
            follow_ups.append(("recapture", array_photo(pixels, f"{face}-recapture-{j}")))
        if i < args.two_people:
            follow_ups.append(("two_people", array_photo(two_people(photo.pixels, read_photo(other).pixels),
                                                         f"{face}-two-people")))
        for kind, after in follow_ups:
            start = time.perf_counter()
            try:
                a = assess_pair(base, after, models, config)
            except OutcomesError as exc:
                print(f"  {face} {kind}: {exc}")
                continue
            seconds.append(time.perf_counter() - start)
            rows.append(row(kind, face, halves[face], a))
        if args.treated:
            rows += treated_recaptures(photo.pixels, anchors, face, halves[face], args.recaptures, i, models, config)
        print(f"  {i + 1}/{len(files)} faces", end="\r", flush=True)
    models.close()
    print(f"\n{len(rows)} pairs in {time.perf_counter() - start_all:.0f} s; a follow-up against an analysed "
          f"baseline: median {np.median(seconds):.2f} s")
    report(rows)
    if len(identities) > 1 and None not in identities.values():
        from outcomes.identity import identity_distance

        faces = sorted(identities)
        d = np.array([identity_distance(identities[a], identities[b]) for i, a in enumerate(faces)
                      for b in faces[i + 1:]])
        print(f"neutral photos of different people, all {len(d)} pairs: embedding distance min {d.min():.3f}, "
              f"p1 {np.percentile(d, 1):.3f}, median {np.median(d):.3f}; at or below "
              f"{config.identity.max_distance:g} (taken for one person): {100 * np.mean(d <= config.identity.max_distance):.1f} %")
    if args.out:
        write_rows(args.out, rows)


if __name__ == "__main__":
    main()
