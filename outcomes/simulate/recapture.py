"""Recapture: the same, unchanged face photographed again.

A real repeat photo differs from the first by camera distance (face size,
resampling, lens blur), focus, sensor noise, JPEG compression, exposure,
white balance and a few degrees of head turn. :func:`recapture` renders all
of these onto one photo, so that the pipeline's "no change" band can be set
from the noise of measuring an unchanged face, not from a perfect copy.

Head yaw and pitch move the face's surface out of plane: each pixel of the
head moves by its depth times the sine of the angle. Depth comes from an
ellipsoid head fitted to the pupils and chin (a head is close to one at a few
degrees of turn), with the nose's extra height where the nose is; the
background does not move. Photometric steps run in linear light, noise is
signal-dependent (shot noise plus read noise), and JPEG is a real encode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import face_frame
from .photometric import linear_to_srgb, srgb_to_linear


@dataclass(frozen=True)
class RecaptureSpec:
    """How a repeat photo differs from the original.

    Attributes
    ----------
    scale : float
        Face size relative to the original (camera distance), 0.6–1.6 in :func:`random_recapture`.
    focus_blur_px : float
        Gaussian sd of defocus, output pixels.
    read_noise : float
        Sensor read-noise sd, fraction of full scale in linear light.
    shot_noise : float
        Shot-noise sd at full scale (sd = shot_noise·√signal), linear light.
    jpeg_quality : int or None
        JPEG quality of the saved photo; None: not compressed.
    exposure_ev : float
        Exposure change in stops.
    white_balance : tuple of float
        Gains on linear R, G, B (before the exposure change).
    yaw_deg, pitch_deg, roll_deg : float
        Head turn (positive yaw: the nose turns to the image's right; positive
        pitch: the chin rises) and in-plane rotation, degrees.
    shift_ipd : tuple of float
        Where the face moves in the frame, IPD units.
    """

    scale: float = 1.0
    focus_blur_px: float = 0.0
    read_noise: float = 0.0
    shot_noise: float = 0.0
    jpeg_quality: int | None = None
    exposure_ev: float = 0.0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    shift_ipd: tuple[float, float] = (0.0, 0.0)

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def random_recapture(rng: np.random.Generator, *, scale_range: tuple[float, float] = (0.6, 1.6),
                     max_turn_deg: float = 3.0) -> RecaptureSpec:
    """A random repeat capture within the ranges of an ordinary clinic photo session."""
    # Face size uniform in log scale: 0.6× and 1.6× are equally "far" from 1.
    scale = float(np.exp(rng.uniform(np.log(scale_range[0]), np.log(scale_range[1]))))
    wb = np.exp(rng.normal(0.0, 0.03, 3))
    return RecaptureSpec(
        scale=scale,
        focus_blur_px=float(rng.uniform(0.0, 1.2)),
        read_noise=float(rng.uniform(0.0, 0.004)),
        shot_noise=float(rng.uniform(0.0, 0.01)),
        jpeg_quality=int(rng.integers(70, 96)),
        exposure_ev=float(rng.uniform(-0.3, 0.3)),
        white_balance=(float(wb[0] / wb[1]), 1.0, float(wb[2] / wb[1])),
        yaw_deg=float(rng.uniform(-max_turn_deg, max_turn_deg)),
        pitch_deg=float(rng.uniform(-max_turn_deg, max_turn_deg)),
        roll_deg=float(rng.uniform(-3.0, 3.0)),
        shift_ipd=(float(rng.uniform(-0.3, 0.3)), float(rng.uniform(-0.3, 0.3))),
    )


def head_depth(shape: tuple[int, int], anchors: Mapping[str, object]) -> np.ndarray:
    """Height of the head's surface towards the camera, px, shape (H, W), float32.

    An ellipsoid through the face (half-width 1.45 IPD, half-height from the
    chin to above the brows, depth 1.4 IPD) plus a nose ridge 0.45 IPD high
    at its tip; 0 off the head.
    """
    centre, ex, ey, ipd = face_frame(anchors)
    chin = np.asarray(anchors["chin"], np.float64) if "chin" in anchors else centre + 1.9 * ipd * ey
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = xx - np.float32(centre[0]), yy - np.float32(centre[1])
    u = dx * np.float32(ex[0]) + dy * np.float32(ex[1])  # along the eye line
    v = dx * np.float32(ey[0]) + dy * np.float32(ey[1])  # down the face
    chin_v = float((chin - centre) @ ey)
    v_mid = 0.5 * chin_v - 0.55 * ipd  # head centre: between the chin and the crown
    half_h = chin_v - v_mid
    r2 = (u / np.float32(1.45 * ipd)) ** 2 + ((v - np.float32(v_mid)) / np.float32(half_h)) ** 2
    depth = np.float32(1.4 * ipd) * np.sqrt(np.clip(1.0 - r2, 0.0, None))
    nose_v = 0.33 * chin_v  # the nose tip, about a third of the way from the pupils to the chin
    nose = np.exp(-0.5 * ((u / np.float32(0.12 * ipd)) ** 2 + ((v - np.float32(nose_v)) / np.float32(0.35 * ipd)) ** 2))
    return (depth + np.float32(0.45 * ipd) * nose.astype(np.float32)).astype(np.float32)


def recapture(image: np.ndarray, anchors: Mapping[str, object], spec: RecaptureSpec,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Render ``image`` as if photographed again.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8
        sRGB photo of a face.
    anchors : mapping of str to [x, y]
        At least the pupils (and the chin for the head's depth).
    spec : RecaptureSpec
    rng : numpy Generator
        For the sensor noise.

    Returns
    -------
    photo : ndarray, shape (H, W, 3), uint8
        The repeat photo, same frame size; JPEG-decoded when ``spec.jpeg_quality`` is set.
    original_to_new : ndarray, shape (3, 3)
        The similarity part of the change (scale, roll, shift about the face centre),
        original pixel → new pixel; the out-of-plane turn is not in it.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    h, w = image.shape[:2]
    centre, _, _, ipd = face_frame(anchors)
    # 1. Out-of-plane turn: the inverse map (new pixel → original) of a surface
    # point at depth z moving by z·sin(angle); small angles, so one fixed-point step.
    depth = head_depth((h, w), anchors)
    sy, sp = np.sin(np.radians(spec.yaw_deg)), np.sin(np.radians(spec.pitch_deg))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x = xx - np.float32(sy) * depth
    map_y = yy + np.float32(sp) * depth  # chin rises: the face surface moves up
    depth_src = cv2.remap(depth, map_x, map_y, cv2.INTER_LINEAR)
    map_x = xx - np.float32(sy) * depth_src
    map_y = yy + np.float32(sp) * depth_src
    linear = srgb_to_linear(image).astype(np.float32)
    turned = cv2.remap(linear, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    # 2. Camera distance and framing: a similarity about the face centre. Before
    # shrinking, the lens and sensor low-pass the image (anti-aliasing).
    theta = np.radians(spec.roll_deg)
    c, s = np.cos(theta) * spec.scale, np.sin(theta) * spec.scale
    t = np.asarray(centre) + np.asarray(spec.shift_ipd) * ipd
    m = np.array([[c, -s, t[0] - c * centre[0] + s * centre[1]],
                  [s, c, t[1] - s * centre[0] - c * centre[1]], [0.0, 0.0, 1.0]])
    if spec.scale < 1.0:
        turned = cv2.GaussianBlur(turned, (0, 0), 0.5 * np.sqrt(1.0 / spec.scale ** 2 - 1.0) + 1e-3)
    moved = cv2.warpAffine(turned, m[:2], (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    # 3. Focus, then exposure and white balance, then the sensor's noise, in linear light.
    if spec.focus_blur_px > 0:
        moved = cv2.GaussianBlur(moved, (0, 0), spec.focus_blur_px)
    moved = moved * (np.float32(2.0 ** spec.exposure_ev) * np.asarray(spec.white_balance, np.float32))
    if spec.read_noise > 0 or spec.shot_noise > 0:
        sd = np.sqrt(spec.read_noise ** 2 + spec.shot_noise ** 2 * np.clip(moved, 0, None))
        moved = moved + rng.standard_normal(moved.shape).astype(np.float32) * sd.astype(np.float32)
    photo = linear_to_srgb(moved)
    if spec.jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", photo[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(spec.jpeg_quality)])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        photo = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    return photo, m
