"""Geometric changes for simulated follow-up photos, and the face frame used to place things.

All homographies here are 3x3 float64 matrices that map an ORIGINAL pixel
position ``[x, y, 1]`` to its NEW position (OpenCV pixel convention: the
centre of the top-left pixel is ``[0, 0]``).
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

#: Image size (px, longer side) at which ``max_perspective`` is expressed.
PERSPECTIVE_REFERENCE_PX = 256.0


def face_frame(anchors: Mapping[str, object]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Face-aligned frame from the pupils.

    Parameters
    ----------
    anchors : mapping of str to array-like, shape (2,)
        Must hold ``right_pupil`` and ``left_pupil`` as ``[x, y]`` pixels.

    Returns
    -------
    origin : ndarray, shape (2,)
        Mid-point of the pupils, px.
    ex : ndarray, shape (2,)
        Unit vector from the subject's right pupil to the left one (image
        rightwards in a frontal photo).
    ey : ndarray, shape (2,)
        Unit vector perpendicular to ``ex``, pointing down the face.
    ipd : float
        Inter-pupil distance, px.
    """
    r = np.asarray(anchors["right_pupil"], dtype=np.float64)
    left = np.asarray(anchors["left_pupil"], dtype=np.float64)
    d = left - r
    ipd = float(np.hypot(*d))
    if not np.isfinite(ipd) or ipd <= 0:
        raise ValueError("pupils must be distinct finite points")
    ex = d / ipd
    ey = np.array([-ex[1], ex[0]])
    return (r + left) / 2.0, ex, ey, ipd


def random_geometric_change(
    rng: np.random.Generator,
    image_size: tuple[int, int],
    *,
    max_rotation_deg: float = 8.0,
    max_scale: float = 0.12,
    max_shift: float = 0.05,
    max_perspective: float = 0.0002,
    center: tuple[float, float] | None = None,
) -> np.ndarray:
    """Draw a random similarity change with mild perspective.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    image_size : (int, int)
        ``(width, height)`` of the image, px.
    max_rotation_deg : float
        Rotation is uniform in ``±max_rotation_deg`` degrees (positive turns
        the image clockwise on screen, i.e. from +x towards +y).
    max_scale : float
        Scale factor is uniform in ``[1 - max_scale, 1 + max_scale]``
        (dimensionless).
    max_shift : float
        Shift is uniform in ``±max_shift`` times the width (x) and the height
        (y), i.e. a fraction of the image size.
    max_perspective : float
        Perspective terms ``h20, h21`` are uniform in ``±max_perspective`` per
        px for an image whose longer side is ``PERSPECTIVE_REFERENCE_PX``
        (256) px, scaled by ``256 / max(width, height)`` so the effect is
        size-independent: the projective divisor varies by at most
        ``±max_perspective * 128`` per axis at the image edges (±2.6 % with the
        default). Applied about ``center`` so the centre does not move.
    center : (float, float), optional
        ``(x, y)`` px about which rotation, scale and perspective act; default
        the image centre ``((width - 1) / 2, (height - 1) / 2)``.

    Returns
    -------
    homography : ndarray, shape (3, 3), float64
        Maps an ORIGINAL pixel position to its NEW position; ``H[2, 2] == 1``.
    """
    width, height = (float(v) for v in image_size)
    c = np.array([(width - 1) / 2, (height - 1) / 2] if center is None else center, dtype=np.float64)
    theta = np.deg2rad(rng.uniform(-max_rotation_deg, max_rotation_deg))
    scale = rng.uniform(1.0 - max_scale, 1.0 + max_scale)
    shift = rng.uniform(-max_shift, max_shift, size=2) * np.array([width, height])
    persp = rng.uniform(-max_perspective, max_perspective, size=2) * (
        PERSPECTIVE_REFERENCE_PX / max(width, height)
    )
    cos, sin = np.cos(theta) * scale, np.sin(theta) * scale
    rs = np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])
    p = np.eye(3)
    p[2, :2] = persp
    to_c = np.array([[1.0, 0.0, -c[0]], [0.0, 1.0, -c[1]], [0.0, 0.0, 1.0]])
    back = np.array([[1.0, 0.0, c[0] + shift[0]], [0.0, 1.0, c[1] + shift[1]], [0.0, 0.0, 1.0]])
    h = back @ rs @ p @ to_c
    return h / h[2, 2]


def warp_image(
    image: np.ndarray,
    homography: np.ndarray,
    out_size: tuple[int, int] | None = None,
    border_value: tuple[int, int, int] = (128, 128, 128),
) -> np.ndarray:
    """Warp an image with a homography (bicubic).

    Parameters
    ----------
    image : ndarray, shape (H, W, 3) or (H, W), uint8
        Source image.
    homography : ndarray, shape (3, 3)
        Maps a source pixel position to its output position.
    out_size : (int, int), optional
        ``(width, height)`` of the output, px; default the input size.
    border_value : tuple of int
        Fill colour for output pixels that come from outside the source.

    Returns
    -------
    warped : ndarray, same dtype and channels as ``image``
    """
    if out_size is None:
        out_size = (image.shape[1], image.shape[0])
    return cv2.warpPerspective(
        image,
        np.asarray(homography, dtype=np.float64),
        (int(out_size[0]), int(out_size[1])),
        flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=tuple(float(v) for v in border_value),
    )


def transform_points(points: np.ndarray, homography: np.ndarray) -> np.ndarray:
    """Apply a homography to points.

    Parameters
    ----------
    points : array-like, shape (N, 2)
        ``[x, y]`` px.
    homography : array-like, shape (3, 3)

    Returns
    -------
    moved : ndarray, shape (N, 2), float64
        ``[x, y]`` px after the homography (homogeneous division done).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    h = np.asarray(homography, dtype=np.float64)
    hom = np.hstack([pts, np.ones((len(pts), 1))]) @ h.T
    return hom[:, :2] / hom[:, 2:3]
