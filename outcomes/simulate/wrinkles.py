"""Synthetic wrinkles: sampling plausible creases on a face and rendering them.

Placement works in a face frame (origin between the pupils, x along the
pupil line towards the subject's left, y down the face, unit = inter-pupil
distance, IPD); see :func:`outcomes.simulate.geometry.face_frame`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import face_frame
from .photometric import linear_to_srgb, srgb_to_linear

REGIONS: tuple[str, ...] = (
    "forehead", "glabella", "crows_feet_right", "crows_feet_left", "under_eye_right",
    "under_eye_left", "nasolabial_right", "nasolabial_left", "marionette", "perioral",
)
_HIGHLIGHT = 0.15  # faint highlight on one flank, as a fraction of the depth
_FOUR_LN2 = 4.0 * np.log(2.0)
_SHOULDER_A, _SHOULDER_W = 0.35, 3.0  # soft groove around the core: amplitude, width factor


@dataclass(frozen=True)
class Wrinkle:
    """One crease, a dark valley along a polyline.

    Attributes
    ----------
    region : str
        One of :data:`REGIONS`.
    points : tuple of (float, float)
        Polyline vertices ``(x, y)`` in image px, at least 2.
    width_px : float
        Full width at half maximum of the valley's cross-section, px.
    depth : float
        Fraction of linear luminance removed at the valley centre, 0..1.
    taper : float
        Fraction of the length over which each end fades in (0..0.5);
        depth and width shrink smoothly to 0 at both ends.
    variation : float
        Depth varies smoothly along the line between ``1 - variation`` and 1
        times ``depth`` (0 = uniform).
    seed : int
        Seeds the phases of that along-line variation.
    shoulder : float
        Amplitude of the soft groove three times as wide as the core,
        relative to the core (0 = a plain Gaussian valley).
    highlight : float
        Peak of the bright flank on the lower (or right) side, as a
        fraction of the depth.
    """

    region: str
    points: tuple[tuple[float, float], ...]
    width_px: float
    depth: float
    taper: float = 0.25
    variation: float = 0.0
    seed: int = 0
    shoulder: float = _SHOULDER_A
    highlight: float = _HIGHLIGHT


def _curve(p0, p1, bend, wiggle, n=12):
    """Bent polyline (face units) from p0 to p1, shape (n, 2).

    ``bend``/``wiggle`` are offsets in units of the chord length along the
    normal that points down the face (or towards +x for steep lines).
    """
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    length = float(np.hypot(*d)) + 1e-12
    nrm = np.array([-d[1], d[0]]) / length
    if (nrm[1] < 0) if abs(d[0]) >= abs(d[1]) else (nrm[0] < 0):
        nrm = -nrm
    t = np.linspace(0.0, 1.0, n)[:, None]
    off = length * (bend * 4.0 * t * (1.0 - t) + wiggle * np.sin(2.0 * np.pi * t))
    return p0 + t * d + off * nrm


def sample_wrinkles(
    anchors: Mapping[str, object], severity: float, rng: np.random.Generator
) -> tuple[Wrinkle, ...]:
    """Sample realistic wrinkles for a face.

    The same ``rng`` state draws the same candidate wrinkles whatever the
    severity; severity picks how many are kept and scales their length and
    depth, so higher severity gives a superset of longer, deeper lines.

    Parameters
    ----------
    anchors : mapping of str to [x, y]
        Contract anchors (pupils, eye corners, subnasale, mouth corners, chin), px.
    severity : float
        0 (no wrinkles) .. 1 (about 30 lines, deep).
    rng : numpy.random.Generator

    Returns
    -------
    wrinkles : tuple of Wrinkle
        Points in image px; widths 1.5-6 px at IPD 200 px (scaled with IPD,
        at least 1 px); depths up to about 0.45.
    """
    s = float(np.clip(severity, 0.0, 1.0))
    origin, ex, ey, ipd = face_frame(anchors)
    to_face = np.stack([ex, ey], axis=1) / ipd
    face = {k: (np.asarray(v, float) - origin) @ to_face for k, v in anchors.items()}
    U = rng.uniform
    lf, df = 0.55 + 0.45 * s, 0.35 + 0.65 * s  # length and depth factors
    out: list[Wrinkle] = []

    def keep(region, cands, width, depth, always=False):
        n = len(cands)
        u0, ws, ds, tps = U(), U(*width, n), U(*depth, n), U(0.2, 0.4, n)
        var, seeds = U(0.2, 0.45, n), rng.integers(0, 2**31, n)
        n_keep = n if (always and s > 0) else min(n, int(np.floor(s * n + u0)))
        for pts, w, d, tp, va, sd in list(zip(cands, ws, ds, tps, var, seeds))[:n_keep]:
            img = origin + ipd * (pts[:, :1] * ex + pts[:, 1:] * ey)
            out.append(Wrinkle(region, tuple((float(x), float(y)) for x, y in img),
                               float(max(1.0, w * ipd / 200.0)), float(min(0.9, d * df)), float(tp),
                               float(va), int(sd)))

    # forehead: 5 levels 0.62-1.07 IPD above the pupil line, arched
    cands = []
    for lvl in rng.permutation(5):
        v, uc, hl = -(0.62 + 0.1125 * lvl) + U(-0.03, 0.03), U(-0.1, 0.1), U(0.3, 0.6) * lf
        tilt = U(-0.03, 0.03)
        cands.append(_curve([max(uc - hl, -0.78), v - tilt], [min(uc + hl, 0.78), v + tilt],
                            U(-0.05, 0.01), U(-0.025, 0.025)))
    keep("forehead", cands, (3.0, 6.0), (0.18, 0.32))
    # glabella: short vertical "11" lines between the brows, tops diverging
    side = rng.choice([-1.0, 1.0])
    cands = []
    for u0 in (side * 0.075, -side * 0.075, 0.0):
        u, vb, ln = u0 + U(-0.02, 0.02), U(-0.2, -0.12), U(0.15, 0.28) * lf
        cands.append(_curve([u, vb], [u + np.sign(u) * U(0.0, 0.04), vb - ln], U(-0.03, 0.03), 0.0))
    keep("glabella", cands, (2.5, 4.5), (0.2, 0.35))
    for name, sgn in (("right", -1.0), ("left", 1.0)):
        # crow's feet: fan out laterally from the outer eye corner
        c = face[f"{name}_eye_outer"]
        cands = []
        for a in rng.permutation(np.linspace(-40.0, 35.0, 4)):
            a = np.deg2rad(a + U(-6.0, 6.0))
            d = np.array([sgn * np.cos(a), np.sin(a)])
            r0, ln = U(0.06, 0.1), U(0.1, 0.2) * lf
            cands.append(_curve(c + r0 * d, c + (r0 + ln) * d, U(-0.06, 0.06), 0.0, n=8))
        keep(f"crows_feet_{name}", cands, (2.0, 3.5), (0.18, 0.32))
        # under-eye: below the lower lid, sloping down laterally, sagging
        p = face[f"{name}_pupil"]
        cands = []
        for k in range(2):
            v = p[1] + 0.19 + 0.07 * k + U(-0.015, 0.015)
            med, lat = U(0.1, 0.18) * lf, U(0.1, 0.22) * lf
            cands.append(_curve([p[0] - sgn * med, v], [p[0] + sgn * lat, v + U(0.03, 0.08)],
                                U(0.02, 0.06), U(-0.01, 0.01)))
        keep(f"under_eye_{name}", cands, (2.0, 3.5), (0.12, 0.25))
        # nasolabial fold: nose wing to just lateral of the mouth corner, bowed out
        sub, m = face["subnasale"], face[f"mouth_{name}"]
        a = sub + np.array([sgn * U(0.3, 0.36), U(-0.06, 0.0)])
        b = m + np.array([sgn * U(0.06, 0.12), U(-0.05, 0.05)])
        b = a + (b - a) * (0.6 + 0.4 * s)
        fold = _curve(a, b, sgn * U(0.04, 0.08), U(-0.01, 0.01))
        keep(f"nasolabial_{name}", [fold], (5.0, 6.0), (0.3, 0.45), always=True)
        # marionette: short line down and slightly out from the mouth corner
        a = m + np.array([sgn * 0.03, 0.05])
        ang = np.deg2rad(U(0.0, 15.0))
        b = a + U(0.15, 0.28) * lf * np.array([sgn * np.sin(ang), np.cos(ang)])
        keep("marionette", [_curve(a, b, sgn * U(0.0, 0.05), 0.0, n=8)], (3.0, 5.0), (0.2, 0.32))
    # perioral: short vertical lines up from the upper-lip border, not on the philtrum
    mr, ml = face["mouth_right"], face["mouth_left"]
    uc, half, vm = (mr[0] + ml[0]) / 2, abs(ml[0] - mr[0]) / 2, (mr[1] + ml[1]) / 2
    cands = []
    for off in rng.permutation([-0.23, -0.16, -0.09, 0.09, 0.16, 0.23]):
        u = uc + off * half / 0.4 + U(-0.015, 0.015)
        v = vm - 0.09 * (1.0 - min(1.0, abs(u - uc) / half) ** 2) - 0.01
        t, ln = np.deg2rad(U(-10.0, 10.0)), U(0.05, 0.11) * lf
        cands.append(_curve([u, v], [u + np.sign(off) * ln * np.sin(abs(t)), v - ln * np.cos(t)],
                            U(-0.05, 0.05), 0.0, n=6))
    keep("perioral", cands, (1.5, 2.5), (0.12, 0.25))
    return tuple(out)


def _profile(w: Wrinkle, shape: tuple[int, int]):
    """Valley profile and flank highlight of one wrinkle on its bounding-box patch.

    Returns ``(y0, x0, profile, highlight)``, both arrays of shape (h, w) in
    [0, 1], or None when the patch is empty. ``profile`` peaks at 1 on the
    polyline away from the tapered ends.
    """
    pts = np.asarray(w.points, dtype=np.float64)
    margin = 1.5 * _SHOULDER_W * w.width_px + 2.0
    x0, y0 = (max(0, int(np.floor(v - margin))) for v in pts.min(axis=0))
    x1 = min(shape[1], int(np.ceil(pts[:, 0].max() + margin)) + 1)
    y1 = min(shape[0], int(np.ceil(pts[:, 1].max() + margin)) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    ys, xs = np.mgrid[y0:y1, x0:x1]
    px, py = xs.ravel().astype(np.float64), ys.ravel().astype(np.float64)
    d = np.diff(pts, axis=0)  # (K, 2)
    seg = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    nrm = np.stack([-d[:, 1], d[:, 0]], axis=1) / seg[:, None]
    flip = np.where(np.abs(nrm[:, 1]) > 1e-6, nrm[:, 1] < 0, nrm[:, 0] < 0)
    nrm[flip] *= -1.0  # flank normal points down the image (or right)
    dist2 = np.full(px.shape, np.inf)
    s, side = np.zeros_like(px), np.zeros_like(px)
    for k in range(len(d)):  # running nearest segment, vectorised over pixels
        ax, ay = px - pts[k, 0], py - pts[k, 1]
        t = np.clip((ax * d[k, 0] + ay * d[k, 1]) / seg[k] ** 2, 0.0, 1.0)
        rx, ry = ax - t * d[k, 0], ay - t * d[k, 1]
        d2 = rx * rx + ry * ry
        better = d2 < dist2
        dist2 = np.where(better, d2, dist2)
        s = np.where(better, cum[k] + t * seg[k], s)
        side = np.where(better, rx * nrm[k, 0] + ry * nrm[k, 1], side)
    dist = np.sqrt(dist2)
    length = cum[-1]
    ramp = np.clip(np.minimum(s, length - s) / max(w.taper * length, 1e-9), 0.0, 1.0)
    env = ramp * ramp * (3.0 - 2.0 * ramp) if w.taper > 0 else np.ones_like(ramp)
    wid = w.width_px * (0.5 + 0.5 * env)
    if w.variation > 0:
        # two sinusoids along the arc length, 1-1.8 and 2.5-3.5 cycles per line
        f1, f2, p1, p2 = np.random.default_rng(w.seed).uniform([1.0, 2.5, 0, 0], [1.8, 3.5, 6.3, 6.3])
        arc = 2 * np.pi * s / length
        wave = 0.6 * np.sin(f1 * arc + p1) + 0.4 * np.sin(f2 * arc + p2)
        env = env * (1.0 - w.variation * 0.5 * (1.0 + wave))
    core = np.exp(-_FOUR_LN2 * dist**2 / wid**2)
    shoulder = np.exp(-_FOUR_LN2 * dist**2 / (_SHOULDER_W * wid) ** 2)
    prof = env * (core + w.shoulder * shoulder) / (1.0 + w.shoulder)
    hl = env * np.exp(-0.5 * ((side - 0.9 * wid) / (0.35 * wid)) ** 2)
    h, wd = y1 - y0, x1 - x0
    return y0, x0, prof.reshape(h, wd), hl.reshape(h, wd)


def render_wrinkles(
    image: np.ndarray, wrinkles, depth_scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Render wrinkles as dark valleys.

    Each wrinkle multiplies linear RGB (all channels alike, so hue is kept)
    by ``1 - depth * depth_scale * profile + w.highlight * depth * depth_scale *
    flank``. ``profile`` (nominal peak 1) is a Gaussian core of FWHM
    ``width_px`` plus a weaker soft groove (``w.shoulder``) three times as wide, times the
    taper envelope and the along-line variation; ``flank`` is a faint
    bright band on the lower (or right) side. Overlapping wrinkles
    multiply. The half-peak mask is about 1.2 x ``width_px`` wide.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8
        RGB image.
    wrinkles : iterable of Wrinkle
        Geometry in the image's pixel frame.
    depth_scale : float
        Multiplies every depth (0.4 = the same lines 60 % shallower).

    Returns
    -------
    out : ndarray, shape (H, W, 3), uint8
        Rendered image; pixels no wrinkle touches are bit-identical.
    mask : ndarray, shape (H, W), bool
        True where a wrinkle's profile exceeds 0.5 (half its nominal peak)
        and its ``depth * depth_scale > 0``.
    """
    img = np.asarray(image, dtype=np.uint8)
    shape = img.shape[:2]
    factor = np.ones(shape, dtype=np.float64)
    mask = np.zeros(shape, dtype=bool)
    for w in wrinkles:
        depth = float(w.depth) * float(depth_scale)
        if depth == 0.0:
            continue
        res = _profile(w, shape)
        if res is None:
            continue
        y0, x0, prof, hl = res
        h, wd = prof.shape
        factor[y0:y0 + h, x0:x0 + wd] *= 1.0 - depth * prof + w.highlight * depth * hl
        mask[y0:y0 + h, x0:x0 + wd] |= prof > 0.5
    out = img.copy()
    touched = factor != 1.0
    if touched.any():
        lin = srgb_to_linear(img[touched]) * factor[touched][:, None]
        out[touched] = linear_to_srgb(lin)
    return out, mask


# A drawn wrinkle pixel is visible where the rendering darkens it by more than this many
# sd of the skin's fine texture: what a hand annotator would mark.
VISIBLE_TEXTURE_SDS = 2.0


def wrinkle_darkening(before: np.ndarray, rendered: np.ndarray, drawn: np.ndarray,
                      skin: np.ndarray) -> tuple[np.ndarray, float]:
    """Grey levels the rendering darkens each pixel by, and the skin's fine-texture sd.

    Parameters
    ----------
    before, rendered : ndarray, shape (H, W, 3), uint8
        The photo without and with the wrinkles (and otherwise the same).
    drawn : ndarray, shape (H, W), bool
        The wrinkles' mask.
    skin : ndarray, shape (H, W), bool
        Where the texture is measured.

    Returns
    -------
    darkening : ndarray, shape (H, W), float
        8-bit luma of ``before`` minus that of ``rendered``.
    texture_sd : float
        Sd of luma minus its Gaussian blur (sigma 2 px) on ``before``, over ``skin`` at least
        3 px from ``drawn``: the pores, hair and sensor noise a detector must tell wrinkles from.
    """
    luma = cv2.cvtColor(before, cv2.COLOR_RGB2GRAY).astype(float)
    darkening = luma - cv2.cvtColor(rendered, cv2.COLOR_RGB2GRAY).astype(float)
    near = cv2.dilate(drawn.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    texture = luma - cv2.GaussianBlur(luma, (0, 0), 2.0)
    away = skin & ~near
    return darkening, (float(np.std(texture[away])) if away.any() else 0.0)


def visible_wrinkles(before: np.ndarray, rendered: np.ndarray, drawn: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixels of ``drawn`` darkened by more than :data:`VISIBLE_TEXTURE_SDS` texture sd.

    Arguments as :func:`wrinkle_darkening`.
    """
    darkening, texture_sd = wrinkle_darkening(before, rendered, drawn, skin)
    return drawn & (darkening > VISIBLE_TEXTURE_SDS * texture_sd)
