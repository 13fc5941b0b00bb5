"""Wrinkle training data: wrinkles of known mask rendered onto real faces.

No openly licensed wrinkle masks with their images are available, so each London face (CC BY
4.0, Face Research Lab London Set) is rendered several times with the simulator
(:mod:`outcomes.simulate`) and written as a training folder in the format
:mod:`outcomes.training.data` reads (``images/``, ``masks/``, ``index.csv``). Variety beyond
the simulator's default sampling, so the network does not learn one rendering:

- the regional creases of :func:`~outcomes.simulate.sample_wrinkles` at severity 0-1, each
  with a random width (×0.6-1.5), cross-section (soft groove 0-0.6, bright flank 0-0.3), taper
  and along-line depth variation, all made shallower together by a factor 0.5-1;
- free fine lines anywhere on the face at any orientation (crêpey skin, sleep lines);
- confounders labelled "not wrinkle": PIH-like macules, diffuse redness, lighting changes.

Creases already in the source photo are real wrinkles without a label: the classical filters'
detections on the untouched photo (grown by ``NATURAL_MARGIN_PX``) are written as the ``ignore``
mask, so the network is neither taught that they are background nor scored on them.

Labels are what an annotator could see (``labels="visible"``, the default): a drawn pixel is a
wrinkle only where the finished image is darker than the same image without wrinkles by more
than twice the skin's fine-texture sd (:func:`outcomes.simulate.visible_wrinkles`); the rest of
the drawn line goes to the ``ignore`` mask. Rendering multiplies linear light, so the same depth
darkens dark skin by fewer grey levels, while its texture is as strong: exact masks
(``labels="exact"``) ask for lines no one can see there and teach the network to guess. For the
same reason each face's depths are scaled by ``REFERENCE_SKIN_GREY / its skin grey`` (1-2×,
``tone_depth=True``), so dark faces carry as many visible lines to learn from as light ones.

Lines shallower than ``MIN_DEPTH`` (5 % of linear light) are neither drawn nor labelled, and
labels are kept only on the person's skin (:func:`outcomes.color.skin_pixels`, seeded by the
cheeks): a crease drawn into hair or brows is invisible, so it is not a wrinkle to learn.
Identities are split train / val / test within each self-reported ethnicity, so no person is
in two splits and every skin-tone group appears in the test split.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from outcomes.color import skin_pixels
from outcomes.features.wrinkles import detect_wrinkles
from outcomes.simulate import (
    VISIBLE_TEXTURE_SDS,
    Wrinkle,
    add_macules,
    add_redness,
    change_lighting,
    cheek_polygon,
    london_anchors,
    random_lighting,
    read_tem,
    render_wrinkles,
    sample_wrinkles,
    visible_wrinkles,
)
from outcomes.simulate.geometry import face_frame

MIN_DEPTH = 0.05
MAX_DEPTH = 0.9
# Mean 8-bit luma of light skin in the London set (white 156, east Asian 144); darker faces
# get deeper lines, up to MAX_TONE_GAIN times.
REFERENCE_SKIN_GREY = 150.0
MAX_TONE_GAIN = 2.0
LABELS = ("visible", "exact")
NATURAL_MARGIN_PX = 2
SPLIT_FRACTIONS = {"test": 0.25, "val": 0.12}
LICENCE = ("Face Research Lab London Set, CC BY 4.0: DeBruine, L. & Jones, B. (2017). figshare. "
           "doi:10.6084/m9.figshare.5047666.v5")


def split_identities(groups: dict[str, str], seed: int = 0) -> dict[str, str]:
    """Identity → ``"train" | "val" | "test"``, stratified by group.

    Each group with at least 2 people gives ``round(0.25 n)`` (at least 1) to test; each with
    at least 4 gives ``round(0.12 n)`` (at least 1) to val; the rest train.
    """
    rng = np.random.default_rng(seed)
    members: dict[str, list[str]] = defaultdict(list)
    for ident, group in sorted(groups.items()):
        members[group].append(ident)
    split = {}
    for group in sorted(members):
        ids = list(rng.permutation(members[group]))
        n = len(ids)
        n_test = max(1, round(SPLIT_FRACTIONS["test"] * n)) if n >= 2 else 0
        n_val = max(1, round(SPLIT_FRACTIONS["val"] * n)) if n >= 4 else 0
        for k, ident in enumerate(ids):
            split[str(ident)] = "test" if k < n_test else "val" if k < n_test + n_val else "train"
    return split


def _free_lines(anchors, rng: np.random.Generator, count: int) -> list[Wrinkle]:
    """Short fine lines at random places and orientations between the brows and the chin."""
    origin, ex, ey, ipd = face_frame(anchors)
    lines = []
    for _ in range(count):
        c = np.array([rng.uniform(-0.75, 0.75), rng.uniform(-0.9, 1.6)])
        a, length = rng.uniform(0, np.pi), rng.uniform(0.05, 0.3)
        d = np.array([np.cos(a), np.sin(a)])
        nrm = np.array([-d[1], d[0]])
        t = np.linspace(-0.5, 0.5, 8)[:, None]
        pts = c + t * length * d + length * rng.uniform(-0.12, 0.12) * (1 - 4 * t**2) * nrm
        img = origin + ipd * (pts[:, :1] * ex + pts[:, 1:] * ey)
        lines.append(Wrinkle("free", tuple((float(x), float(y)) for x, y in img),
                             float(max(1.0, rng.uniform(1.0, 3.5) * ipd / 200.0)), float(rng.uniform(0.06, 0.3)),
                             float(rng.uniform(0.15, 0.45)), float(rng.uniform(0.0, 0.5)), int(rng.integers(2**31))))
    return lines


def tone_depth_gain(image: np.ndarray, skin: np.ndarray) -> float:
    """``REFERENCE_SKIN_GREY`` / mean 8-bit luma of ``skin``, clipped to [1, ``MAX_TONE_GAIN``]."""
    if not skin.any():
        return 1.0
    grey = float(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[skin].mean())
    return float(np.clip(REFERENCE_SKIN_GREY / max(grey, 1.0), 1.0, MAX_TONE_GAIN))


def training_wrinkles(anchors, rng: np.random.Generator, depth_gain: float = 1.0) -> tuple[Wrinkle, ...]:
    """Random wrinkles for one training image (see the module docstring), depths × ``depth_gain``."""
    severity = 0.0 if rng.uniform() < 0.1 else rng.uniform(0.1, 1.0)
    base = sample_wrinkles(anchors, severity, rng)
    lines = list(base) + _free_lines(anchors, rng, int(rng.poisson(4)))
    shallower = rng.uniform(0.5, 1.0)
    out = []
    for w in lines:
        w = dataclasses.replace(
            w, width_px=max(1.0, w.width_px * rng.uniform(0.6, 1.5)),
            depth=min(MAX_DEPTH, w.depth * shallower * depth_gain),
            shoulder=rng.uniform(0.0, 0.6), highlight=rng.uniform(0.0, 0.3), taper=rng.uniform(0.1, 0.45),
            variation=rng.uniform(0.0, 0.6))
        if w.depth >= MIN_DEPTH:
            out.append(w)
    return tuple(out)


def skin_of(image: np.ndarray, anchors) -> np.ndarray:
    """(H, W) bool: pixels that look like this person's cheek skin."""
    seed = np.zeros(image.shape[:2], np.uint8)
    for region in ("cheek_right", "cheek_left"):
        cv2.fillPoly(seed, [np.round(cheek_polygon(anchors, region)).astype(np.int32)], 1)
    return skin_pixels(image, seed.astype(bool))


def _confounders(image: np.ndarray, anchors, rng: np.random.Generator) -> np.ndarray:
    """PIH-like macules, redness and a lighting change, each at random (labelled "not wrinkle")."""
    if rng.uniform() < 0.4:
        image, _, _ = add_macules(image, anchors, rng, count=int(rng.integers(1, 6)), delta_L=-rng.uniform(4, 14),
                                  delta_b=rng.uniform(1, 5))
    if rng.uniform() < 0.3:
        image, _, _ = add_redness(image, anchors, rng, delta_a=rng.uniform(4, 12))
    if rng.uniform() < 0.5:
        image = change_lighting(image, **random_lighting(rng, max_stops=0.7, max_wb=0.1, max_gamma=0.1))
    return image


def render_training_image(image: np.ndarray, anchors, rng: np.random.Generator, skin: np.ndarray | None = None, *,
                          labels: str = "visible", depth_gain: float = 1.0
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One training image, its wrinkle mask and the drawn pixels left unlabelled.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8
    anchors : mapping
        Contract anchor names → ``[x, y]`` px (:func:`outcomes.simulate.london_anchors`).
    rng : numpy.random.Generator
    skin : ndarray, shape (H, W), bool, optional
        Labels are cut to it; also where the texture is measured for ``labels="visible"``.
    labels : ``"visible"`` or ``"exact"``
        ``"visible"``: only drawn pixels the finished image shows (module docstring).
    depth_gain : float
        Multiplies every depth (:func:`tone_depth_gain`).

    Returns
    -------
    rendered : ndarray, shape (H, W, 3), uint8
    mask : ndarray, shape (H, W), bool
    unseen : ndarray, shape (H, W), bool
        Drawn pixels too faint to label (empty for ``"exact"``).
    """
    if labels not in LABELS:
        raise ValueError(f"labels must be one of {LABELS}, got {labels!r}")
    skin = np.ones(image.shape[:2], bool) if skin is None else skin
    drawn_image, drawn = render_wrinkles(image, training_wrinkles(anchors, rng, depth_gain))
    drawn &= skin
    # The same confounders on the photo without wrinkles (same draws), to see what the lines add.
    twin = copy.deepcopy(rng)
    rendered = _confounders(drawn_image, anchors, rng)
    if labels == "exact":
        return rendered, drawn, np.zeros_like(drawn)
    mask = visible_wrinkles(_confounders(image, anchors, twin), rendered, drawn, skin)
    return rendered, mask, drawn & ~mask


def face_box(anchors, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)``: the face from above the forehead to below the chin."""
    pts = np.array([np.asarray(v, float) for v in anchors.values()])
    ipd = float(np.hypot(*(np.asarray(anchors["right_pupil"], float) - anchors["left_pupil"])))
    top = min(anchors["right_pupil"][1], anchors["left_pupil"][1]) - 1.3 * ipd
    return (max(0, int(top)), min(shape[0], int(pts[:, 1].max() + 0.2 * ipd)),
            max(0, int(pts[:, 0].min() - 0.5 * ipd)), min(shape[1], int(pts[:, 0].max() + 0.5 * ipd)))


def _one_face(task: tuple) -> list[dict]:
    jpg, out_dir, variants, seed, split, group, labels, tone_depth = task
    image = cv2.cvtColor(cv2.imread(str(jpg), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    anchors = london_anchors(read_tem(Path(jpg).with_suffix(".tem")))
    ipd = float(np.hypot(*(np.asarray(anchors["right_pupil"], float) - anchors["left_pupil"])))
    y0, y1, x0, x1 = face_box(anchors, image.shape[:2])
    ident = Path(jpg).stem.split("_")[0]
    rng = np.random.default_rng([seed, int(ident)])
    skin = skin_of(image, anchors)
    natural = cv2.dilate(detect_wrinkles(image, ipd, skin).mask.astype(np.uint8),
                         cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * NATURAL_MARGIN_PX + 1,) * 2)) > 0
    gain = tone_depth_gain(image, skin) if tone_depth else 1.0
    rows = []
    for k in range(variants):
        img, mask, unseen = render_training_image(image, anchors, rng, skin, labels=labels, depth_gain=gain)
        name = f"{ident}__v{k}"
        cv2.imwrite(str(out_dir / "images" / f"{name}.jpg"), cv2.cvtColor(img[y0:y1, x0:x1], cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(str(out_dir / "masks" / f"{name}.png"), mask[y0:y1, x0:x1].astype(np.uint8) * 255)
        unlabelled = (natural | unseen) & ~mask
        cv2.imwrite(str(out_dir / "ignore" / f"{name}.png"), unlabelled[y0:y1, x0:x1].astype(np.uint8) * 255)
        rows.append({"name": name, "subject": ident, "split": split, "ipd_px": f"{ipd:.2f}", "group": group})
    return rows


def make_training_set(london_dir: str | Path, out_dir: str | Path, *, variants: int = 6, seed: int = 0,
                      faces: int | None = None, workers: int = 2, labels: str = "visible",
                      tone_depth: bool = True) -> Path:
    """Render the London neutral faces into a wrinkle training folder.

    Parameters
    ----------
    london_dir : path
        ``../shared/data/london`` (``neutral/NNN_03.jpg`` + ``.tem``, ``faces.csv``).
    out_dir : path
        Created; receives ``images/NAME.jpg`` (face crops, JPEG q95), ``masks/NAME.png``
        (255 = wrinkle), ``ignore/NAME.png`` (255 = unlabelled: a crease of the source photo, or
        a drawn line too faint to see), ``index.csv`` (name, subject, split, ipd_px, group),
        ``rendering.json`` (these settings) and ``LICENSE.txt``.
    variants : int
        Renderings per person.
    faces : int, optional
        Use only this many people (spread over the set), for quick runs.
    labels : ``"visible"`` or ``"exact"``
        Label only what the finished image shows, or every drawn pixel (module docstring).
    tone_depth : bool
        Deeper lines on darker skin (:func:`tone_depth_gain`).

    Returns
    -------
    index : Path
    """
    london_dir, out_dir = Path(london_dir), Path(out_dir)
    with open(london_dir / "faces.csv", newline="") as fh:
        groups = {r["face_id"]: r["face_eth"].replace("east_asian/white", "mixed") for r in csv.DictReader(fh)}
    paths = sorted((london_dir / "neutral").glob("*_03.jpg"))
    if faces is not None:
        paths = [paths[i] for i in np.unique(np.linspace(0, len(paths) - 1, min(faces, len(paths))).round().astype(int))]
    splits = split_identities({p.stem.split("_")[0]: groups.get(p.stem.split("_")[0], "unknown") for p in paths}, seed)
    for sub in ("images", "masks", "ignore"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    if labels not in LABELS:
        raise ValueError(f"labels must be one of {LABELS}, got {labels!r}")
    tasks = [(p, out_dir, variants, seed, splits[p.stem.split("_")[0]], groups.get(p.stem.split("_")[0], "unknown"),
              labels, tone_depth) for p in paths]
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        rows = [r for face_rows in pool.map(_one_face, tasks) for r in face_rows]
    index = out_dir / "index.csv"
    with open(index, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["name", "subject", "split", "ipd_px", "group"])
        writer.writeheader()
        writer.writerows(rows)
    (out_dir / "rendering.json").write_text(json.dumps(
        {"variants": variants, "seed": seed, "faces": len(paths), "labels": labels, "tone_depth": tone_depth,
         "visible_texture_sds": VISIBLE_TEXTURE_SDS, "reference_skin_grey": REFERENCE_SKIN_GREY,
         "max_tone_gain": MAX_TONE_GAIN}, indent=1) + "\n")
    (out_dir / "LICENSE.txt").write_text(f"Images derived from the {LICENCE}\n")
    return index
