"""Validity of the assessment on simulated treatments of the London faces.

For each face, pairs are simulated (outcomes.simulate) with new geometry and
lighting in every follow-up, and these skin changes:

- unchanged: wrinkles rendered identically at both visits;
- improved: wrinkle depth reduced by 45–90 %;
- partial: reduction drawn from −60 % … +90 % (for the rank correlation);
- worsened: depth increased by 70 %;
- pih: three macules (ΔL* −6 … −10, Δb* +3) and a 30 % reduction;
- redness: diffuse erythema (Δa* +8) only;
- tightened: jowls and fold shading rendered from the face's template
  (``simulate.sagging``) and tightened by −50 … +100 % at follow-up, wrinkles
  unchanged;
- sagging, untightened: the same sagging at both visits.

Printed: Spearman between the true wrinkle reduction and improvement_score;
the share of unchanged pairs called No change, improved pairs called Improved
or better, worsened pairs called Worse; PIH sensitivity and specificity for
light (ITA ≥ 28°) and dark (ITA < 28°) faces; redness-only pairs flagged as
PIH; laxity: Spearman of the jawline, fold and laxity measures against the
true jowl, fold and tightening changes, and untightened pairs called No
change; ITA drift between visits that differ only in lighting; the same photo
as before and after; time per pair and per stage.

    python benchmarks/validity.py [--faces 61] [--seed 0] [--out results.csv] [--config YAML] [--held-out]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
from _common import shared_data, summary, write_rows
from scipy.stats import spearmanr

from outcomes.config import load_config
from outcomes.io import photo_from_array, read_photo
from outcomes.model_store import model_card
from outcomes.pipeline import assess_pair
from outcomes.runtime import load_models
from outcomes.simulate import SaggingSpec, TreatmentSpec, london_lower_face, simulate_pair
from outcomes.simulate.templates import london_anchors, read_tem


def sagging(rng: np.random.Generator, tightening: float) -> SaggingSpec:
    return SaggingSpec(jowl_ipd=float(rng.uniform(0.02, 0.08)), fold_depth=float(rng.uniform(0.08, 0.35)),
                       fold_width_ipd=float(rng.uniform(0.02, 0.045)), tightening=tightening)


def scenarios(rng: np.random.Generator, seed: int) -> dict[str, TreatmentSpec]:
    sev = float(rng.uniform(0.5, 1.0))
    lax = np.random.default_rng(seed + 7_000_000)
    return {
        "unchanged": TreatmentSpec(wrinkle_severity=sev, wrinkle_reduction=0.0, seed=seed),
        "improved": TreatmentSpec(wrinkle_severity=sev, wrinkle_reduction=float(rng.uniform(0.45, 0.9)), seed=seed + 1),
        "partial": TreatmentSpec(wrinkle_severity=sev, wrinkle_reduction=float(rng.uniform(-0.6, 0.9)), seed=seed + 2),
        "worsened": TreatmentSpec(wrinkle_severity=sev, wrinkle_reduction=-0.7, seed=seed + 3),
        "pih": TreatmentSpec(wrinkle_severity=sev, wrinkle_reduction=0.3, macules=3, seed=seed + 4),
        "redness": TreatmentSpec(wrinkle_severity=sev, wrinkle_reduction=0.0, redness=True, seed=seed + 5),
        # Laxity draws from its own stream, so the pairs above stay those of earlier runs.
        "tightened": TreatmentSpec(wrinkle_severity=sev, sagging=sagging(lax, float(lax.uniform(-0.5, 1.0))),
                                   seed=seed + 6),
        "sagging_untightened": TreatmentSpec(wrinkle_severity=sev, sagging=sagging(lax, 0.0), seed=seed + 7),
    }


def laxity_columns(a, truth: dict) -> dict:  # noqa: ANN001 - Assessment
    """True and measured laxity changes (None where nothing was rendered or measured)."""
    def change(prefix: str) -> float | None:
        values = [c.laxity_before - c.laxity_after for n, c in a.regions.items()
                  if n.startswith(prefix) and c.laxity_before is not None and c.laxity_after is not None]
        return float(np.mean(values)) if values else None
    sag = truth.get("sagging") or {}
    folds = [v for v in (change("nasolabial"), change("marionette")) if v is not None]
    return {"tightening": sag.get("tightening"), "true_jowl_change": sag.get("jowl_change_ipd"),
            "true_fold_change": sag.get("fold_depth_change"), "laxity_component": a.gais.laxity_component,
            "jawline_change": change("jawline"), "fold_change": float(np.mean(folds)) if folds else None}


def rate(flags: list[bool]) -> str:
    return f"{np.mean(flags) * 100:5.1f} % (n={len(flags)})" if flags else "  n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=61)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="write one row per pair to this CSV")
    parser.add_argument("--config", help="settings YAML (e.g. wrinkles: {detector: classical} for the filters alone)")
    parser.add_argument("--held-out", action="store_true",
                        help="only the faces the wrinkle CNN never saw in training (its model card's test subjects)")
    args = parser.parse_args()
    files = sorted((shared_data() / "london" / "neutral").glob("*.jpg"))
    config = load_config(args.config)
    if args.held_out:
        card = model_card(config.wrinkles.cnn_weights, "wrinkles.cnn_weights")
        held_out = set(card["training"]["test_subjects"])
        files = [f for f in files if f.stem.split("_")[0] in held_out]
    files = files[:: max(1, len(files) // args.faces)][: args.faces]
    rng = np.random.default_rng(args.seed)
    models = load_models(config)
    rows, stage = [], defaultdict(list)
    same = []
    for i, path in enumerate(files):
        photo = read_photo(path)
        template = read_tem(path.with_suffix(".tem"))
        anchors, lower_face = london_anchors(template), london_lower_face(template)
        for kind, spec in scenarios(rng, args.seed * 10_000 + i * 10).items():
            pair = simulate_pair(photo.pixels, anchors, spec, lower_face)
            start = time.perf_counter()
            a = assess_pair(photo_from_array(pair.before, f"{path.stem}-{kind}-before"),
                            photo_from_array(pair.after, f"{path.stem}-{kind}-after"), models, config)
            stage["total_ms"].append((time.perf_counter() - start) * 1e3)
            for k, v in a.stage_ms.items():
                stage[k].append(v)
            rows.append({
                "face": path.stem, "kind": kind, "true_reduction": pair.ground_truth["wrinkle_reduction"],
                "score": a.gais.improvement_score, "grade": a.gais.grade, "pih": a.pih.flag,
                "ita_before": a.skin_before.ita_deg, "ita_after": a.ita_after, "usable": a.usable,
                "flags": ";".join(a.qc_flags), **laxity_columns(a, pair.ground_truth),
            })
        if i < 5:
            # The same pixels as a new photo (another sha256): the identical file is refused.
            a = assess_pair(photo, photo_from_array(photo.pixels, f"{path.stem}-copy"), models, config)
            same.append((a.gais.grade, a.gais.improvement_score, a.pih.flag))
        print(f"  {i + 1}/{len(files)} faces", flush=True, end="\r")
    models.close()
    print()
    if args.out:
        write_rows(args.out, rows)

    def of(kind: str) -> list[dict]:
        return [r for r in rows if r["kind"] == kind]

    graded = [r for r in rows if r["kind"] in ("unchanged", "improved", "partial", "worsened")]
    # The PIH figures keep to the pairs they always had: laxity pairs are reported below.
    rows_pih = [r for r in rows if r["kind"] not in ("tightened", "sagging_untightened")]
    rho = spearmanr([r["true_reduction"] for r in graded], [r["score"] for r in graded]).statistic
    print(f"faces: {len(files)}, pairs: {len(rows)}; not usable: {sum(not r['usable'] for r in rows)}")
    print(f"Spearman(true wrinkle reduction, improvement_score): {rho:.3f}  (n={len(graded)})")
    print(f"unchanged → No change:            {rate([r['grade'] == 4 for r in of('unchanged')])}")
    print(f"≥45 % reduction → Improved+:      {rate([r['grade'] <= 3 for r in of('improved')])}")
    print(f"worsened → Worse:                 {rate([r['grade'] == 5 for r in of('worsened')])}")
    noise = [r["score"] for r in of("unchanged")]
    print(f"improvement_score on unchanged pairs: mean {np.mean(noise):+.3f}, sd {np.std(noise):.3f}")
    for group, test in (("light (ITA ≥ 28°)", lambda r: r["ita_before"] is not None and r["ita_before"] >= 28),
                        ("dark (ITA < 28°)", lambda r: r["ita_before"] is not None and r["ita_before"] < 28)):
        sens = [r["pih"] for r in of("pih") if test(r)]
        spec = [not r["pih"] for r in rows_pih if r["kind"] != "pih" and test(r)]
        print(f"PIH {group:18s} sensitivity {rate(sens)}   specificity {rate(spec)}")
    print(f"redness alone flagged as PIH:     {rate([r['pih'] for r in of('redness')])}")
    for code in ("expression_change", "different_person"):
        print(f"flagged {code + ':':27s}{rate([code in r['flags'] for r in rows])}  (all pairs: one person, "
              "one expression)")
    tightened = of("tightened")
    for truth, measured, name in (("tightening", "laxity_component", "true tightening, laxity component"),
                                  ("true_jowl_change", "jawline_change", "true jowl change, jawline change"),
                                  ("true_fold_change", "fold_change", "true fold change, fold change")):
        pairs = [(r[truth], r[measured]) for r in tightened if r[measured] is not None]
        rho = spearmanr(*zip(*pairs)).statistic if len(pairs) > 2 else float("nan")
        print(f"laxity: Spearman({name}): {rho:.3f}  (n={len(pairs)})")
    print(f"sagging, untightened → No change: {rate([r['grade'] == 4 for r in of('sagging_untightened')])}")
    print(f"laxity-only pairs flagged as PIH: {rate([r['pih'] for r in tightened + of('sagging_untightened')])}"
          f"  (folds deepened: {rate([r['pih'] for r in tightened if (r['tightening'] or 0) < 0])})")
    drift = [abs(r["ita_after"] - r["ita_before"]) for r in of("unchanged") if r["ita_after"] is not None]
    print(f"ITA drift, lighting-only change, degrees: {summary(np.array(drift))}")
    print(f"same photo as before and after (grade, score, PIH): {same}")
    print("time per pair and stage, ms:")
    for k, v in stage.items():
        print(f"  {k:28s} {summary(np.array(v))}")


if __name__ == "__main__":
    main()
