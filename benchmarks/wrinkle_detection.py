"""Wrinkle detection on real faces with simulated wrinkles of known mask and depth.

For each London face, wrinkles are sampled (severity 0.3-1.0) at the face's
hand-placed anchors and rendered onto the photo; the detector runs on the
face's skin (the union of the project's region masks from the mesh
landmarks, cut with ``outcomes.color.skin_pixels`` as the pipeline does) and
is scored against the simulator's half-peak mask:

- Dice / IoU of the detected mask inside the skin (median over faces, by
  self-reported ethnicity), and the same for the detections that are new
  compared with the untouched photo (natural creases left out);
- severity vs depth: the same wrinkles rendered at depth_scale 1.0, 0.7, 0.4,
  0.0; in each region with at least 30 px of visible simulated wrinkle
  (>= 10 % of linear light removed) the severity should fall. Reported for
  photos scored independently and as pairs (``reference=`` the baseline's
  map); Spearman of true reduction (1 - depth_scale) vs measured relative
  severity reduction over all those regions;
- unchanged pairs: the baseline photo again under a random exposure /
  white-balance change, or re-encoded as JPEG (quality 90): median
  |Δseverity| / severity over regions with wrinkles;
- time of ``detect_wrinkles`` per 1350×1350 photo (ROI = the face's skin).

    python benchmarks/wrinkle_detection.py [--faces 61] [--seed 0]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import time
from collections import defaultdict

import cv2
import numpy as np
from _common import london_faces, shared_data, summary
from scipy.stats import spearmanr

from outcomes.color import skin_pixels
from outcomes.features.wrinkle_regions import region_wrinkle_features
from outcomes.features.wrinkles import detect_wrinkles
from outcomes.regions import region_masks
from outcomes.simulate import change_lighting, random_lighting, render_wrinkles, sample_wrinkles
from outcomes.simulate.photometric import srgb_to_linear

DEPTH_SCALES = (1.0, 0.7, 0.4, 0.0)
MIN_VISIBLE_PX = 30


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Relative luminance Y of an sRGB uint8 image, (H, W) float32 in [0, 1]."""
    lut = srgb_to_linear(np.arange(256, dtype=np.uint8))
    return sum((w * lut).astype(np.float32)[rgb[..., i]] for i, w in enumerate((0.2126, 0.7152, 0.0722)))


def lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L* of an sRGB uint8 image, (H, W) float32."""
    y = luminance(rgb)
    return 116.0 * np.where(y > (6 / 29) ** 3, np.cbrt(y), y / np.float32(3 * (6 / 29) ** 2) + np.float32(4 / 29)) - 16.0


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return float(2 * (a & b).sum() / total) if total else 1.0


def jpeg(rgb: np.ndarray, quality: int = 90) -> np.ndarray:
    _, enc = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(enc, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=61, help="how many London faces (spread over the set)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = shared_data()
    ethnicity = {r["face_id"]: r["face_eth"] for r in csv.DictReader(open(data / "london" / "faces.csv"))}
    paths = sorted((data / "london" / "neutral").glob("*.jpg"))
    paths = [paths[i] for i in np.unique(np.linspace(0, len(paths) - 1, min(args.faces, len(paths))).round().astype(int))]
    rng = np.random.default_rng(args.seed)
    by_group: dict[str, list[tuple[float, float]]] = defaultdict(list)
    times, ipds, lost = [], [], []
    sev = {mode: {"s": [], "detected": [], "pairs": [], "light": [], "jpeg": []} for mode in ("independent", "paired")}
    start = time.perf_counter()
    for path, img, anchors, lm in london_faces(paths):
        ipd = lm.inter_pupil_distance
        ipds.append(ipd)
        wrinkles = sample_wrinkles(anchors, rng.uniform(0.3, 1.0), rng)
        rendered, truth = {}, None
        for ds in DEPTH_SCALES:
            rendered[ds], mask = render_wrinkles(img, wrinkles, ds)
            truth = mask if truth is None else truth
        # Skin-only regions as the pipeline cuts them (cheeks seed the skin model), on the wrinkled photo.
        plain = region_masks(lm, img.shape[:2]).masks
        seed = plain["cheek_right"] | plain["cheek_left"]
        regions = region_masks(lm, img.shape[:2], skin_pixels(rendered[1.0], seed))
        skin = np.any(np.stack(list(regions.masks.values())), axis=0)
        lost.append(1 - (truth & skin).sum() / max(1, (truth & np.any(np.stack(list(plain.values())), axis=0)).sum()))
        rendered["light"] = change_lighting(rendered[1.0], **random_lighting(rng))
        rendered["jpeg"] = jpeg(rendered[1.0])
        maps = {}
        for key, image in rendered.items():
            t0 = time.perf_counter()
            maps[key] = detect_wrinkles(image, ipd, skin)
            times.append(time.perf_counter() - t0)
        natural = maps[0.0].mask  # depth 0 renders the untouched photo
        gt = truth & skin
        d, d_new = dice(maps[1.0].mask, gt), dice(maps[1.0].mask & ~natural, gt)
        group = ethnicity.get(path.stem.split("_")[0], "unknown").replace("east_asian/white", "mixed")
        by_group[group].append((d, d_new))
        by_group["all"].append((d, d_new))
        # Severity against depth, and unchanged pairs. Features only need the face and a margin: crop everything to it (same results, faster).
        rows, cols = np.flatnonzero(skin.any(axis=1)), np.flatnonzero(skin.any(axis=0))
        box = np.s_[max(rows[0] - 40, 0):rows[-1] + 41, max(cols[0] - 40, 0):cols[-1] + 41]
        maps = {k: dataclasses.replace(m, response=m.response[box], mask=m.mask[box]) for k, m in maps.items()}
        light = {key: lightness(image[box]) for key, image in rendered.items()}
        visible = luminance(rendered[1.0][box]) <= 0.9 * luminance(img[box])
        truth = truth[box]
        for full_region in regions.masks.values():
            region = full_region[box]
            affected = (visible & region).sum() >= MIN_VISIBLE_PX
            for mode, s in sev.items():
                ref = maps[1.0] if mode == "paired" else None
                f = {k: region_wrinkle_features(maps[k], light[k], region, regions.mm_per_px, reference=ref).severity
                     for k in maps}
                base = f[1.0]
                if base > 0:
                    s["light"].append(abs(f["light"] - base) / base)
                    s["jpeg"].append(abs(f["jpeg"] - base) / base)
                if affected:
                    s["s"].append([f[k] for k in DEPTH_SCALES])
                    s["detected"].append(bool((maps[1.0].mask & truth & region).any()))
                    if base > 0:
                        s["pairs"] += [(1 - k, 1 - f[k] / base) for k in DEPTH_SCALES[1:]]
    elapsed = time.perf_counter() - start

    print(f"{len(paths)} London faces, IPD {np.median(ipds):.0f} px (median), simulated severity 0.3-1.0, seed {args.seed}")
    print(f"skin = region masks cut with outcomes.color.skin_pixels; it drops {np.median(lost):.1%} (median) of the "
          "simulated wrinkle pixels inside the uncut regions")
    print("Dice / IoU inside the skin (median over faces); 'new' = detections absent from the untouched photo")
    for group in ["all"] + sorted(g for g in by_group if g != "all"):
        v = np.array(by_group[group])
        dm, dn = np.median(v[:, 0]), np.median(v[:, 1])
        print(f"  {group:<11} n={len(v):2d}  Dice {dm:.3f}  IoU {dm / (2 - dm):.3f}   new: Dice {dn:.3f}  IoU {dn / (2 - dn):.3f}")
    print(f"severity vs depth_scale {DEPTH_SCALES} in regions with >= {MIN_VISIBLE_PX} px of visible simulated wrinkle")
    for mode, s in sev.items():
        arr, det = np.array(s["s"]), np.array(s["detected"])
        strict = np.all(np.diff(arr, axis=1) < 0, axis=1)
        weak = np.all(np.diff(arr, axis=1) <= 0, axis=1) & (arr[:, 0] > arr[:, -1])
        pairs = np.array(s["pairs"])
        rho = spearmanr(pairs[:, 0], pairs[:, 1])[0] if len(pairs) > 2 else float("nan")
        medians = ", ".join(f"{t:.1f}: {np.median(pairs[np.isclose(pairs[:, 0], t), 1]):.2f}" for t in (0.3, 0.6, 1.0))
        print(f"  {mode:<11} regions {len(arr)} (line detected in {det.mean():.0%}); strictly decreasing: "
              f"{strict.mean():.0%} of all, {strict[det].mean():.0%} where detected; non-increasing and lower at 0: "
              f"{weak.mean():.0%}")
        print(f"              Spearman(true reduction, measured relative reduction) = {rho:.3f}; "
              f"median measured reduction at true {medians}")
        print(f"              unchanged pair, |Δseverity|/severity: lighting {summary(s['light'])}")
        print(f"                                                  JPEG q90 {summary(s['jpeg'])}")
    print(f"detect_wrinkles per {img.shape[1]}×{img.shape[0]} photo (ROI = the face's skin), ms: {summary(np.array(times) * 1e3)}")
    print(f"benchmark wall time {elapsed:.0f} s")


if __name__ == "__main__":
    main()
