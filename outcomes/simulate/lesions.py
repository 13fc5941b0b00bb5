"""Synthetic pigment changes: PIH-like macules and diffuse redness, rendered in CIELAB.

Colour changes are specified in CIELAB (D65, as ``skimage.color.rgb2lab``);
the conversion is done only on the bounding boxes of the changed areas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np
from skimage.color import lab2rgb, rgb2lab

from .geometry import face_frame

CHEEK_REGIONS: tuple[str, ...] = ("cheek_right", "cheek_left")


def cheek_polygon(anchors: Mapping[str, object], region: str) -> np.ndarray:
    """Cheek area: below the eye, lateral to the nose and the fold, above the mouth line.

    Parameters
    ----------
    anchors : mapping of str to [x, y]
        Contract anchors, px.
    region : {"cheek_right", "cheek_left"}

    Returns
    -------
    polygon : ndarray, shape (5, 2), float64
        Vertices ``[x, y]`` in image px.
    """
    if region not in CHEEK_REGIONS:
        raise ValueError(f"unknown region {region!r}; expected one of {CHEEK_REGIONS}")
    side = region.split("_")[1]
    s = -1.0 if side == "right" else 1.0
    origin, ex, ey, ipd = face_frame(anchors)

    def f(name):
        return (np.asarray(anchors[name], float) - origin) @ np.stack([ex, ey], axis=1) / ipd

    p, sub, m = f(f"{side}_pupil"), f("subnasale"), f(f"mouth_{side}")
    top, low = p[1] + 0.38, m[1] - 0.08
    poly = np.array([
        [p[0] + s * 0.28, top], [sub[0] + s * 0.36, top], [sub[0] + s * 0.45, sub[1]],
        [m[0] + s * 0.22, low], [p[0] + s * 0.3, low],
    ])
    return origin + ipd * (poly[:, :1] * ex + poly[:, 1:] * ey)


def _sample_in(poly: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform point inside a polygon (rejection sampling), shape (2,)."""
    lo, hi = poly.min(axis=0), poly.max(axis=0)
    contour = poly.astype(np.float32).reshape(-1, 1, 2)
    for _ in range(1000):
        q = rng.uniform(lo, hi)
        if cv2.pointPolygonTest(contour, (float(q[0]), float(q[1])), False) >= 0:
            return q
    return poly.mean(axis=0)


def _merge_boxes(boxes: list[list[int]]) -> list[list[int]]:
    """Merge overlapping ``[y0, y1, x0, x1]`` boxes until none overlap."""
    boxes = [list(b) for b in boxes]
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]:
                    boxes[i] = [min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])]
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes


def _apply_lab(image, weight, boxes, delta) -> np.ndarray:
    """Add ``weight * delta`` (delta = (dL, da, db)) in CIELAB inside the boxes."""
    out = np.array(image, dtype=np.uint8, copy=True)
    for y0, y1, x0, x1 in _merge_boxes(boxes):
        wpatch = weight[y0:y1, x0:x1]
        on = wpatch > 0
        if not on.any():
            continue
        lab = rgb2lab(out[y0:y1, x0:x1].astype(np.float64) / 255.0)
        lab += wpatch[..., None] * np.asarray(delta, dtype=np.float64)
        rgb = np.clip(np.rint(lab2rgb(lab) * 255.0), 0, 255).astype(np.uint8)
        out[y0:y1, x0:x1][on] = rgb[on]
    return out


def _box(center, half, shape) -> list[int]:
    """``[y0, y1, x0, x1]`` of a square of half-size ``half`` px, clipped to the image (maybe empty)."""
    h, w = shape
    y0 = min(h, max(0, int(np.floor(center[1] - half))))
    x0 = min(w, max(0, int(np.floor(center[0] - half))))
    return [y0, max(y0, min(h, int(np.ceil(center[1] + half)) + 1)),
            x0, max(x0, min(w, int(np.ceil(center[0] + half)) + 1))]


def add_macules(
    image: np.ndarray,
    anchors: Mapping[str, object],
    rng: np.random.Generator,
    *,
    count: int = 3,
    radius_ipd: tuple[float, float] = (0.03, 0.08),
    delta_L: float = -8.0,
    delta_b: float = 3.0,
    regions: Sequence[str] = CHEEK_REGIONS,
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Add PIH-like hyperpigmented macules: irregular soft-edged brownish blobs.

    At a blob's centre L* changes by ``-|delta_L|`` and b* by ``delta_b``
    (a* unchanged); the change falls off with a raised cosine from half the
    local radius (full change) to 1.5 times it (none), so it is half its peak
    on the blob's outline ``r(theta) = r (1 + sum_k a_k cos(k theta + phi_k))``,
    k = 2, 3, 4. Overlapping blobs take the larger weight.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8
        RGB image.
    anchors : mapping of str to [x, y]
        Contract anchors, px.
    rng : numpy.random.Generator
    count : int
        Number of macules.
    radius_ipd : (float, float)
        Outline radius ``r`` uniform in this range, in IPD units.
    delta_L, delta_b : float
        CIELAB change at the centre (L* goes down by ``|delta_L|``).
    regions : sequence of str
        Each macule goes in a region drawn uniformly from these
        (see :func:`cheek_polygon`).

    Returns
    -------
    out : ndarray, shape (H, W, 3), uint8
    mask : ndarray, shape (H, W), bool
        Where the change exceeds half its peak.
    params : list of dict
        Per macule: ``region``, ``center`` [x, y] px, ``radius_px``,
        ``harmonics`` (list of [k, a_k, phi_k]), ``delta_L``, ``delta_b``,
        ``area_px`` (its own half-peak area). JSON-serialisable.
    """
    shape = image.shape[:2]
    ipd = face_frame(anchors)[3]
    weight = np.zeros(shape, dtype=np.float64)
    boxes, params = [], []
    for _ in range(int(count)):
        region = str(regions[int(rng.integers(len(regions)))])
        r = float(rng.uniform(*radius_ipd) * ipd)
        poly = cheek_polygon(anchors, region)
        for _ in range(50):  # keep macules apart where the cheek allows
            c = _sample_in(poly, rng)
            if all(np.hypot(*(c - q["center"])) >= r + q["radius_px"] for q in params):
                break
        amp, phase = rng.uniform(0.0, 0.15, 3), rng.uniform(0.0, 2 * np.pi, 3)
        box = _box(c, 1.5 * r * (1.0 + amp.sum()) + 2.0, shape)
        ys, xs = np.mgrid[box[0]:box[1], box[2]:box[3]].astype(np.float64)
        dx, dy = xs - c[0], ys - c[1]
        theta = np.arctan2(dy, dx)
        rt = r * (1.0 + sum(a * np.cos(k * theta + ph) for k, a, ph in zip((2, 3, 4), amp, phase)))
        rho = np.hypot(dx, dy) / rt
        w = 0.5 * (1.0 + np.cos(np.pi * np.clip(rho - 0.5, 0.0, 1.0)))
        patch = weight[box[0]:box[1], box[2]:box[3]]
        np.maximum(patch, w, out=patch)
        boxes.append(box)
        params.append({
            "region": region, "center": [float(c[0]), float(c[1])], "radius_px": r,
            "harmonics": [[k, float(a), float(ph)] for k, a, ph in zip((2, 3, 4), amp, phase)],
            "delta_L": -abs(float(delta_L)), "delta_b": float(delta_b), "area_px": int((w > 0.5).sum()),
        })
    out = _apply_lab(image, weight, boxes, (-abs(float(delta_L)), 0.0, float(delta_b)))
    return out, weight > 0.5, params


def add_redness(
    image: np.ndarray,
    anchors: Mapping[str, object],
    rng: np.random.Generator,
    *,
    delta_a: float = 8.0,
    regions: Sequence[str] = CHEEK_REGIONS,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Add diffuse erythema: a* up over a large soft elliptical area per region.

    The weight is an elliptical Gaussian (peak 1) centred in each cheek, with
    standard deviations of about 0.16-0.22 x 0.13-0.18 IPD; a* rises by
    ``delta_a * weight``, L* and b* are unchanged in CIELAB.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8
        RGB image.
    anchors : mapping of str to [x, y]
        Contract anchors, px.
    rng : numpy.random.Generator
    delta_a : float
        a* change at the centre of each area.
    regions : sequence of str
        One area per region (see :func:`cheek_polygon`).

    Returns
    -------
    out : ndarray, shape (H, W, 3), uint8
    mask : ndarray, shape (H, W), bool
        Where the change exceeds half its peak.
    params : dict
        ``delta_a``, ``areas`` (list of ``region``, ``center`` [x, y] px,
        ``sigma_px`` [along, across], ``angle_deg``) and ``area_px``.
    """
    shape = image.shape[:2]
    _, ex, _, ipd = face_frame(anchors)
    weight = np.zeros(shape, dtype=np.float64)
    boxes, areas = [], []
    for region in regions:
        poly = cheek_polygon(anchors, region)
        c = poly.mean(axis=0) + rng.uniform(-0.05, 0.05, 2) * ipd
        su, sv = rng.uniform(0.16, 0.22) * ipd, rng.uniform(0.13, 0.18) * ipd
        ang = np.arctan2(ex[1], ex[0]) + np.deg2rad(rng.uniform(-20.0, 20.0))
        box = _box(c, 3.0 * max(su, sv), shape)
        ys, xs = np.mgrid[box[0]:box[1], box[2]:box[3]].astype(np.float64)
        dx, dy = xs - c[0], ys - c[1]
        a = dx * np.cos(ang) + dy * np.sin(ang)
        b = -dx * np.sin(ang) + dy * np.cos(ang)
        w = np.exp(-0.5 * ((a / su) ** 2 + (b / sv) ** 2))
        patch = weight[box[0]:box[1], box[2]:box[3]]
        np.maximum(patch, w, out=patch)
        boxes.append(box)
        areas.append({"region": str(region), "center": [float(c[0]), float(c[1])],
                      "sigma_px": [float(su), float(sv)], "angle_deg": float(np.rad2deg(ang))})
    out = _apply_lab(image, weight, boxes, (0.0, float(delta_a), 0.0))
    mask = weight > 0.5
    return out, mask, {"delta_a": float(delta_a), "areas": areas, "area_px": int(mask.sum())}
