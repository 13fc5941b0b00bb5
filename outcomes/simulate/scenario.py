"""Simulated before/after treatment pairs with their ground truth.

Frames: BEFORE is the input photo's pixel frame. All ground-truth geometry
(wrinkle points, macule and redness centres) and all masks are in BEFORE's
frame; ``after_to_before`` maps AFTER pixels into it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .geometry import random_geometric_change, transform_points, warp_image
from .lesions import add_macules, add_redness
from .photometric import change_lighting, random_lighting, srgb_to_linear
from .sagging import LowerFace, SaggingSpec, render_sagging
from .wrinkles import render_wrinkles, sample_wrinkles

MAX_DEPTH = 0.9  # deepest a rendered wrinkle may be (fraction of luminance removed)
VISIBLE_DROP = 0.1  # a wrinkle pixel is "visible" where it removes >= 10 % of linear luminance


@dataclass(frozen=True)
class TreatmentSpec:
    """What to simulate.

    Attributes
    ----------
    wrinkle_severity : float
        0..1, wrinkles at baseline (see ``sample_wrinkles``).
    wrinkle_reduction : float
        Fraction of wrinkle depth removed at follow-up (0.6 = 60 % shallower;
        negative = worsening). Depths are clipped to ``MAX_DEPTH``.
    geometric : bool
        Move the follow-up photo (rotation, scale, shift, mild perspective).
    lighting : bool
        Change the follow-up exposure and white balance.
    macules : int
        Number of new PIH-like macules at follow-up.
    redness : bool
        Add diffuse cheek erythema at follow-up.
    seed : int
        Seed of ``numpy.random.default_rng``; the pair is a function of it.
    capture_seed : int, optional
        Seed of the follow-up's capture only (lighting and geometry). With the
        same ``seed`` and different ``capture_seed`` the baselines are
        identical and the follow-ups are photographed differently, as for
        several visits of one subject. None: drawn from ``seed``.
    sagging : SaggingSpec, optional
        Jowls and fold shading at baseline and their tightening at follow-up
        (needs the ``lower_face`` argument of :func:`simulate_pair`).
    """

    wrinkle_severity: float = 0.5
    wrinkle_reduction: float = 0.0
    geometric: bool = True
    lighting: bool = True
    macules: int = 0
    redness: bool = False
    seed: int = 0
    capture_seed: int | None = None
    sagging: SaggingSpec | None = None


@dataclass(frozen=True, eq=False)
class SimulatedPair:
    """A simulated baseline/follow-up pair.

    Attributes
    ----------
    before, after : ndarray, shape (H, W, 3), uint8
        RGB photos; AFTER has the same size as BEFORE.
    ground_truth : dict
        JSON-serialisable truth (see :func:`simulate_pair`).
    wrinkle_mask : ndarray, shape (H, W), bool
        Wrinkles as rendered in AFTER, in BEFORE's frame.
    macule_mask, redness_mask : ndarray, shape (H, W), bool
        New macules / redness in AFTER, in BEFORE's frame.
    """

    before: np.ndarray
    after: np.ndarray
    ground_truth: dict
    wrinkle_mask: np.ndarray | None = None
    macule_mask: np.ndarray | None = None
    redness_mask: np.ndarray | None = None


def _luminance(img: np.ndarray) -> np.ndarray:
    return srgb_to_linear(img) @ np.array([0.2126, 0.7152, 0.0722])


def _volume(wrinkles) -> float:
    return float(sum(w.depth * w.width_px * np.hypot(*np.diff(np.asarray(w.points), axis=0).T).sum()
                     for w in wrinkles))


def simulate_pair(
    image: np.ndarray, anchors: Mapping[str, object], spec: TreatmentSpec, lower_face: LowerFace | None = None,
) -> SimulatedPair:
    """Render a known treatment change onto a real face.

    BEFORE = ``image`` with wrinkles at full depth. AFTER = the same wrinkles
    at depth ``(1 - wrinkle_reduction)`` (clipped to ``MAX_DEPTH``), plus
    macules and redness if asked, then the lighting change, then the
    geometric change (so skin changes move with the face). Independent
    random streams (spawned from ``default_rng(spec.seed)``) drive wrinkles,
    macules, redness, lighting and geometry, so toggling one part leaves the
    others unchanged.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8
        RGB face photo.
    anchors : mapping of str to [x, y]
        Contract anchors in ``image``, px.
    spec : TreatmentSpec
    lower_face : LowerFace, optional
        Jaw and fold geometry in ``image`` (hand-placed), needed when ``spec.sagging`` is set.

    Returns
    -------
    pair : SimulatedPair
        ``ground_truth`` holds ``spec`` (dict), ``image_size`` [width, height],
        ``after_to_before`` (3x3 list), ``before_to_after`` (3x3 list),
        ``lighting`` (kwargs of ``change_lighting``), ``wrinkles`` (region,
        points [[x, y], ...] px, width_px, depth_before, depth_after, ...),
        ``wrinkle_area_fraction_before`` / ``_after`` (half-peak mask area /
        image area; equal unless a depth reaches 0),
        ``wrinkle_visible_fraction_before`` / ``_after`` (fraction of pixels
        whose linear luminance the wrinkles lowered by >= ``VISIBLE_DROP``,
        before lighting/geometry), ``wrinkle_reduction`` (true, after clipping: 1 - sum of depth x
        width x length after / before; 0 when there are no wrinkles),
        ``macules`` (list of params, plus ``center_after``), ``macule_area_px``,
        ``redness`` (params or None), ``sagging`` (None, or ``before`` / ``after``
        :class:`SaggingSpec` fields, ``tightening``, ``jowl_change_ipd`` and
        ``fold_depth_change``: baseline minus follow-up).
    """
    img = np.asarray(image, dtype=np.uint8)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {img.shape}")
    h, w = img.shape[:2]
    r_wr, r_mac, r_red, r_light, r_geo = np.random.default_rng(spec.seed).spawn(5)
    if spec.capture_seed is not None:
        r_light, r_geo = np.random.default_rng(spec.capture_seed).spawn(2)

    img_b = img_a = img
    sagging = None
    if spec.sagging is not None:
        if lower_face is None:
            raise ValueError("spec.sagging needs the lower_face geometry of the photo")
        later_sag = spec.sagging.at_follow_up()
        img_b, img_a = render_sagging(img, lower_face, spec.sagging), render_sagging(img, lower_face, later_sag)
        sagging = {"before": dataclasses.asdict(spec.sagging), "after": dataclasses.asdict(later_sag),
                   "tightening": spec.sagging.tightening,
                   "jowl_change_ipd": spec.sagging.jowl_ipd - later_sag.jowl_ipd,
                   "fold_depth_change": spec.sagging.fold_depth - later_sag.fold_depth}
    wrinkles = tuple(dataclasses.replace(x, depth=min(x.depth, MAX_DEPTH))
                     for x in sample_wrinkles(anchors, spec.wrinkle_severity, r_wr))
    before, mask_before = render_wrinkles(img_b, wrinkles)
    keep = 1.0 - spec.wrinkle_reduction
    later = tuple(dataclasses.replace(x, depth=float(np.clip(x.depth * keep, 0.0, MAX_DEPTH))) for x in wrinkles)
    after, mask_after = render_wrinkles(img_a, later)
    visible = []
    for base, rendered in ((img_b, before), (img_a, after)):
        touched = np.any(rendered != base, axis=-1)  # only rendered pixels can be darker
        visible.append(float((_luminance(rendered[touched]) <= (1.0 - VISIBLE_DROP) * _luminance(base[touched])).sum()
                             / (h * w)))
    vol = _volume(wrinkles)
    true_reduction = 1.0 - _volume(later) / vol if vol > 0 else 0.0

    macule_mask = np.zeros((h, w), dtype=bool)
    macules: list[dict] = []
    if spec.macules > 0:
        after, macule_mask, macules = add_macules(after, anchors, r_mac, count=int(spec.macules))
    redness_mask, redness = np.zeros((h, w), dtype=bool), None
    if spec.redness:
        after, redness_mask, redness = add_redness(after, anchors, r_red)
    light = random_lighting(r_light) if spec.lighting else {
        "exposure_stops": 0.0, "white_balance": (1.0, 1.0, 1.0), "gamma": 1.0}
    after = change_lighting(after, **light)
    hom = random_geometric_change(r_geo, (w, h)) if spec.geometric else np.eye(3)
    if spec.geometric:
        after = warp_image(after, hom)
    inv = np.linalg.inv(hom)
    inv /= inv[2, 2]
    for m in macules:
        m["center_after"] = [float(v) for v in transform_points(np.array([m["center"]]), hom)[0]]

    truth = {
        "spec": {k: (v.item() if isinstance(v, np.generic) else v)
                 for k, v in dataclasses.asdict(spec).items()},
        "image_size": [int(w), int(h)],
        "after_to_before": inv.tolist(),
        "before_to_after": hom.tolist(),
        "lighting": {k: (list(v) if isinstance(v, tuple) else v) for k, v in light.items()},
        "wrinkles": [{"region": x.region, "points": [list(p) for p in x.points], "width_px": x.width_px,
                      "depth_before": x.depth, "depth_after": y.depth, "depth": x.depth,
                      "taper": x.taper, "variation": x.variation, "seed": x.seed}
                     for x, y in zip(wrinkles, later)],
        "wrinkle_area_fraction_before": float(mask_before.mean()),
        "wrinkle_area_fraction_after": float(mask_after.mean()),
        "wrinkle_visible_fraction_before": visible[0],
        "wrinkle_visible_fraction_after": visible[1],
        "wrinkle_reduction": float(true_reduction),
        "macules": macules,
        "macule_area_px": int(macule_mask.sum()),
        "redness": redness,
        "sagging": sagging,
    }
    return SimulatedPair(before, after, truth, mask_after, macule_mask, redness_mask)


def write_pair(pair: SimulatedPair, out_dir: str | Path, stem: str) -> dict[str, Path]:
    """Write a pair and its truth to disk.

    Files: ``{stem}_before.png``, ``{stem}_after.png`` (RGB saved as PNG),
    ``{stem}_truth.json``, and, when non-empty, ``{stem}_wrinkle_mask.png``,
    ``{stem}_macule_mask.png`` and ``{stem}_redness_mask.png``: single-channel
    uint8 0/255 masks of what AFTER shows, all in BEFORE's frame (map AFTER
    pixels there with ``after_to_before``).

    Parameters
    ----------
    pair : SimulatedPair
    out_dir : str or Path
        Created if missing.
    stem : str
        File-name prefix.

    Returns
    -------
    paths : dict of str to Path
        Keys ``before``, ``after``, ``truth`` and any written ``*_mask``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"before": out / f"{stem}_before.png", "after": out / f"{stem}_after.png",
             "truth": out / f"{stem}_truth.json"}
    for key in ("before", "after"):
        if not cv2.imwrite(str(paths[key]), cv2.cvtColor(getattr(pair, key), cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {paths[key]}")
    paths["truth"].write_text(json.dumps(pair.ground_truth, indent=1))
    for name in ("wrinkle", "macule", "redness"):
        mask = getattr(pair, f"{name}_mask")
        if mask is not None and mask.any():
            key = f"{name}_mask"
            paths[key] = out / f"{stem}_{key}.png"
            cv2.imwrite(str(paths[key]), mask.astype(np.uint8) * 255)
    return paths
