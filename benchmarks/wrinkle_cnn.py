"""Wrinkle CNN vs classical filters vs their fusion, on identities the CNN never saw.

For each London face in the model card's held-out split (``--split test``, default; ``val`` to
choose fusion settings without touching test), wrinkles are drawn with the simulator's default
sampler (:func:`outcomes.simulate.sample_wrinkles`, severity 0.3-1.0, the same protocol as
``benchmarks/wrinkle_detection.py``; the CNN's training renderer adds more variety)
``--renders`` times, and each detector runs on the face's skin as the pipeline cuts it. Scores
are Dice / IoU against the exact half-peak mask inside that skin, pooled over the renders of a
face, then the median over faces - overall, by self-reported ethnicity and by skin-tone group
from the measured ITA (Chardon: light > 41°, intermediate 28-41°, tan and darker ≤ 28°). A
second table scores the same detections without the face's own creases (the classical
detections on the untouched photo, grown by 2 px, as in the CNN's training ``ignore`` masks):
real lines that the simulator did not draw are neither hits nor misses there. A third table
scores against the visible part of each mask, as a hand annotator would mark it: mask pixels
the rendering darkens by more than twice the skin's fine texture (sd of luma minus its
Gaussian blur, sigma 2 px, on the untouched photo; see
``benchmarks/wrinkle_label_visibility.py``). Detections on the invisible rest of the mask are
neither hits nor misses there. Two more tables score what a before/after comparison sees: each
detector also runs on the untouched photo, and only its detections that are new in the
rendering count (against the exact and the visible mask). A detection already on the untouched
photo is no false positive there, and on a drawn line it counts as a miss. Where the photo
itself did not change (the person's own lines, whoever finds them, or a steady false
detection), the pipeline's paired wrinkle measures, taken on the same pixels in both photos,
show no change either. A detector that marks everything finds nothing new. The last column,
"visible only", is a reference, not a detector: it marks exactly the visible part of each mask
(so it scores 1 against the visible part, and 2s/(1+s) for a visible share s against the exact
mask). Where lines barely show, as on the darkest skin, it shows how much of a group gap on
exact masks is the rendering's visibility; a detector can still beat it there by following a
line through its faint stretches. With ``--tone-depth`` each face's line depths are scaled by
its skin tone as in the visible-label training renders
(:func:`outcomes.training.synthetic.tone_depth_gain`, 1-2x), so the lines show about as much
on dark skin as on light: the group gap at equal visibility. Also timed: the CNN on one
1350×1350 photo (crop, resample, tiles, back; the mirror image too when the config sets
``wrinkles.cnn_mirror_average``).

    python benchmarks/wrinkle_cnn.py [--split test] [--renders 3] [--weights 1.0 0.85 0.7 0.5] [--precision auto]
                                     [--config YAML] [--per-face] [--tone-depth]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import time
from collections import defaultdict

import cv2
import numpy as np
import torch
from _common import london_faces, shared_data, summary

from outcomes.color import ita_deg, skin_pixels, srgb_to_lab
from outcomes.config import load_config
from outcomes.features.wrinkle_cnn import wrinkle_probability
from outcomes.features.wrinkle_fusion import fuse
from outcomes.features.wrinkle_model import load_configured_cnn
from outcomes.features.wrinkles import detect_wrinkles
from outcomes.model_store import model_card
from outcomes.regions import region_masks
from outcomes.simulate import render_wrinkles, sample_wrinkles, visible_wrinkles
from outcomes.training.synthetic import skin_of, tone_depth_gain

# Scoring → the caption's ending.
SCORINGS = {"exact": "", "no creases": "; the face's own creases not scored",
            "visible": "; against the visible part of each mask",
            "new lines": "; only detections absent from the same detector's map of the untouched photo",
            "new lines, visible": "; only new detections, against the visible part of each mask"}


def union(masks: dict[str, np.ndarray]) -> np.ndarray:
    return np.any(np.stack(list(masks.values())), axis=0)


def detections(cnn, image: np.ndarray, ipd: float, skin: np.ndarray, weights: list[float], threshold: float,
               mirror_average: bool) -> tuple[dict[str, np.ndarray], float, float]:
    """Each detector's mask inside ``skin`` (classical, then fused at each CNN weight) and the
    classical and CNN times, ms."""
    t0 = time.perf_counter()
    classical = detect_wrinkles(image, ipd, skin)
    t1 = time.perf_counter()
    prob = wrinkle_probability(cnn, image, ipd, skin, mirror_average=mirror_average)
    t2 = time.perf_counter()
    masks = {"classical": classical.mask & skin}
    for w in weights:
        masks[f"fused w={w:g}"] = fuse(prob, classical.response, skin, ipd_px=ipd, cnn_weight=w,
                                      threshold=threshold).mask
    return masks, (t1 - t0) * 1e3, (t2 - t1) * 1e3


def tone_group(ita: float) -> str:
    return "light (ITA>41)" if ita > 41 else "intermediate (28-41)" if ita > 28 else "tan-dark (ITA<=28)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("test", "val"), default="test")
    parser.add_argument("--renders", type=int, default=3, help="wrinkle renderings per face")
    parser.add_argument("--weights", type=float, nargs="+", default=[1.0, 0.85, 0.7, 0.5],
                        help="CNN weights w of the fusion w·p + (1-w)·r to report")
    parser.add_argument("--threshold", type=float, default=None, help="default: the config's wrinkles.threshold")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=("auto", "int8", "float32"), default="auto",
                        help="the CNN's arithmetic (auto: as the pipeline, int8 on CPU)")
    parser.add_argument("--tone-depth", action="store_true",
                        help="scale each face's line depths by its skin tone, as the visible-label training renders do "
                             "(REFERENCE_SKIN_GREY / skin grey, 1-2x), so lines show about equally on every skin")
    parser.add_argument("--per-face", action="store_true",
                        help="also print each face's Dice for the first --weights detector under every scoring")
    parser.add_argument("--config", help="settings YAML, e.g. wrinkles: {cnn_weights: PATH, cnn_sha256: HEX} to "
                                         "measure another model (its card must lie beside it)")
    args = parser.parse_args()
    config = load_config(args.config)
    threshold = config.wrinkles.threshold if args.threshold is None else args.threshold
    cnn = load_configured_cnn(dataclasses.replace(config.wrinkles, detector="cnn", cnn_precision=args.precision))
    card = model_card(config.wrinkles.cnn_weights, "wrinkles.cnn_weights")
    held_out = set(card["training"][f"{args.split}_subjects"])
    data = shared_data()
    ethnicity = {r["face_id"]: r["face_eth"] for r in csv.DictReader(open(data / "london" / "faces.csv"))}
    paths = [p for p in sorted((data / "london" / "neutral").glob("*_03.jpg")) if p.stem.split("_")[0] in held_out]
    rng = np.random.default_rng(args.seed)
    detectors = ["classical", *[f"fused w={w:g}" for w in args.weights], "visible only"]
    # (detector, scoring) -> per face (ethnicity, tone group, Dice, IoU)
    per_face: dict[tuple[str, str], list[tuple[str, str, float, float]]] = defaultdict(list)
    cnn_ms, classical_ms = [], []
    visible_by_face: list[tuple[str, str, float]] = []  # (ethnicity, tone group, visible share of the mask)
    gains: list[float] = []  # depth gain per face (1 without --tone-depth)
    for path, img, anchors, lm in london_faces(paths):
        ipd = lm.inter_pupil_distance
        plain = region_masks(lm, img.shape[:2]).masks
        seed = plain["cheek_right"] | plain["cheek_left"]
        tone = tone_group(ita_deg(srgb_to_lab(img), seed & skin_pixels(img, seed)))
        eth = ethnicity.get(path.stem.split("_")[0], "unknown")
        counts = {(d, scoring): np.zeros(3) for d in detectors for scoring in SCORINGS}
        visible_share = []
        gain = tone_depth_gain(img, skin_of(img, anchors)) if args.tone_depth else 1.0
        natural = cv2.dilate(detect_wrinkles(img, ipd, seed | union(plain)).mask.astype(np.uint8),
                             cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))) > 0
        # Each detector's map of the untouched photo, for the "new lines" scorings.
        skin0 = union(region_masks(lm, img.shape[:2], skin_pixels(img, seed)).masks)
        before, _, _ = detections(cnn, img, ipd, skin0, args.weights, threshold, config.wrinkles.cnn_mirror_average)
        before["visible only"] = np.zeros_like(skin0)
        for _ in range(args.renders):
            wrinkles = sample_wrinkles(anchors, rng.uniform(0.3, 1.0), rng)
            rendered, truth = render_wrinkles(img, wrinkles, depth_scale=gain)
            regions = region_masks(lm, img.shape[:2], skin_pixels(rendered, seed))
            skin = union(regions.masks)
            gt = truth & skin
            visible = visible_wrinkles(img, rendered, truth, skin) & skin
            masks, t_classical, t_cnn = detections(cnn, rendered, ipd, skin, args.weights, threshold,
                                                   config.wrinkles.cnn_mirror_average)
            masks["visible only"] = visible
            classical_ms.append(t_classical)
            cnn_ms.append(t_cnn)
            scored = ~(natural & ~truth)
            for d, m in masks.items():
                counts[d, "exact"] += [(m & gt).sum(), (m & ~gt).sum(), (~m & gt).sum()]
                counts[d, "no creases"] += [(m & gt).sum(), (m & ~gt & scored).sum(), (~m & gt).sum()]
                counts[d, "visible"] += [(m & visible).sum(), (m & ~gt).sum(), (~m & visible).sum()]
                new_lines = m & ~before[d]
                counts[d, "new lines"] += [(new_lines & gt).sum(), (new_lines & ~gt).sum(), (~new_lines & gt).sum()]
                counts[d, "new lines, visible"] += [(new_lines & visible).sum(), (new_lines & ~gt).sum(),
                                                    (~new_lines & visible).sum()]
            visible_share.append(visible.sum() / max(gt.sum(), 1))
        for (d, scoring), (tp, fp, fn) in counts.items():
            per_face[d, scoring].append((eth, tone, 2 * tp / max(2 * tp + fp + fn, 1), tp / max(tp + fp + fn, 1)))
        visible_by_face.append((eth, tone, float(np.mean(visible_share))))
        gains.append(gain)
    print(f"{len(paths)} held-out ({args.split}) London faces × {args.renders} renders, simulated severity 0.3-1.0, "
          f"{'depths scaled by skin tone, ' if args.tone_depth else ''}threshold {threshold:g}; "
          f"model {config.wrinkles.cnn_weights} sha256 {cnn.sha256[:12]}… ({cnn.precision}"
          f"{', mirror-averaged' if config.wrinkles.cnn_mirror_average else ''}), "
          f"torch threads {torch.get_num_threads()}")
    faces = per_face["classical", "exact"]
    groups = ["all"] + sorted({e for e, *_ in faces}) + sorted({t for _, t, *_ in faces})
    for scoring, caption in SCORINGS.items():
        print("Dice (IoU) inside the skin, median over faces; 'fused w=1' is the CNN alone" + caption)
        print(f"  {'group':<22}{'n':>3}" + "".join(f"{d:>18}" for d in detectors)
              + ("   visible share of the mask" if scoring.endswith("visible") else ""))
        for g in groups:
            rows = {d: [(dc, io) for e, t, dc, io in per_face[d, scoring] if g in ("all", e, t)] for d in detectors}
            cells = "".join(f"{np.median([r[0] for r in rows[d]]):>10.3f} ({np.median([r[1] for r in rows[d]]):.3f})"
                            for d in detectors)
            share = f"{np.median([v for e, t, v in visible_by_face if g in ('all', e, t)]):>12.2f}" \
                if scoring.endswith("visible") else ""
            print(f"  {g:<22}{len(rows['classical']):>3}{cells}{share}")
    if args.per_face:
        first = f"fused w={args.weights[0]:g}"
        print(f"Dice of '{first}' per face (the medians above are over these)")
        print(f"  {'face':<6}{'ethnicity':<12}{'tone group':<22}" + "".join(f"{s:>20}" for s in SCORINGS)
              + "   visible share  depth gain")
        for i, path in enumerate(paths):
            eth, tone, share = visible_by_face[i]
            print(f"  {path.stem.split('_')[0]:<6}{eth:<12}{tone:<22}"
                  + "".join(f"{per_face[first, s][i][2]:>20.3f}" for s in SCORINGS)
                  + f"{share:>17.2f}{gains[i]:>12.2f}")
    print(f"CNN per {img.shape[1]}×{img.shape[0]} photo (ROI = face skin), ms: {summary(np.array(cnn_ms))}")
    print(f"classical filters per photo, ms: {summary(np.array(classical_ms))}")


if __name__ == "__main__":
    main()
