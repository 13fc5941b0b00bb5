"""The resolution the measures work at: a face cropped and resampled to a bounded size.

Every measure is in units of the inter-pupil distance (IPD) or works at a fixed IPD, and
the measured lines are a few pixels wide at a clinical portrait's IPD of 200-300 px. A
photo with a far larger face (a 9000 px frame) adds nothing the measures use but costs
time and memory in proportion to its pixels. So, once the face is located, a photo whose
IPD exceeds :data:`MAX_WORK_IPD_PX` is cropped to the face and its surround and resampled
(area averaging) to that IPD; smaller photos are used as they are. Results that are pixel
positions (the registration matrix) are mapped back to the original photo's pixels with the
:class:`Frame` that records the crop and scale.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from outcomes.types import Frame, Landmarks, Photo

MAX_WORK_IPD_PX = 320.0
# The crop keeps this multiple of the face mesh's extent around its centre: the face, its
# outline and the background ring the lighting correction uses.
CROP_EXTENT = 2.0


def homography_in_originals(after_to_before: np.ndarray, before: Frame, after: Frame) -> np.ndarray:
    """A working-frame AFTER → BEFORE matrix expressed between the original photos' pixels."""
    if before.is_identity and after.is_identity:
        return after_to_before
    h = before.to_original() @ after_to_before @ after.to_working()
    return h / h[2, 2]


def to_working_scale(photo: Photo, landmarks: Landmarks,
                     max_ipd_px: float = MAX_WORK_IPD_PX) -> tuple[Photo, Landmarks, Frame]:
    """The photo and landmarks at the working scale (unchanged when the IPD is within ``max_ipd_px``).

    Parameters
    ----------
    photo : Photo
    landmarks : Landmarks
        Of ``photo``.
    max_ipd_px : float
        Largest inter-pupil distance worked at, px.

    Returns
    -------
    photo : Photo
        Cropped and resampled pixels; same ``source`` and ``sha256`` (those of the file).
    landmarks : Landmarks
        In the working photo's pixels.
    frame : Frame
    """
    import cv2

    ipd = landmarks.inter_pupil_distance
    if not np.isfinite(ipd) or ipd <= max_ipd_px:
        return photo, landmarks, Frame()
    scale = max_ipd_px / ipd
    lo, hi = landmarks.points.min(axis=0), landmarks.points.max(axis=0)
    centre, half = (lo + hi) / 2, CROP_EXTENT * float(max(hi - lo)) / 2
    x0, y0 = (max(0, int(np.floor(c - half))) for c in centre)
    x1 = min(photo.width, int(np.ceil(centre[0] + half)))
    y1 = min(photo.height, int(np.ceil(centre[1] + half)))
    crop = photo.pixels[y0:y1, x0:x1]
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    pixels = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    # the scale actually applied on each axis after rounding the size; resize maps pixel
    # centres as s·(x − x0 + ½) − ½ = s·(x − origin)
    sx, sy = size[0] / (x1 - x0), size[1] / (y1 - y0)
    frame = Frame(scale=(sx, sy), origin=(x0 - 0.5 + 0.5 / sx, y0 - 0.5 + 0.5 / sy))

    def move(p: np.ndarray) -> np.ndarray:
        q = np.asarray(p, dtype=np.float64)
        return np.stack([sx * (q[..., 0] - frame.origin[0]), sy * (q[..., 1] - frame.origin[1])], axis=-1)

    bx0, by0, bx1, by1 = landmarks.face_box
    (nbx0, nby0), (nbx1, nby1) = move(np.array([bx0, by0])), move(np.array([bx1, by1]))
    working = dataclasses.replace(
        landmarks, points=move(landmarks.points), depth=landmarks.depth * frame.mean_scale,
        anchors={k: move(v) for k, v in landmarks.anchors.items()},
        face_box=(float(nbx0), float(nby0), float(nbx1), float(nby1)), image_size=(pixels.shape[1], pixels.shape[0]),
    )
    return Photo(pixels=np.ascontiguousarray(pixels), source=photo.source, sha256=photo.sha256), working, frame


def warp_to_original_before(after_pixels: np.ndarray, pair, before_size: tuple[int, int],  # noqa: ANN001 - AlignedPair
                            rows_per_strip: int = 256) -> np.ndarray:
    """AFTER's original pixels resampled into BEFORE's original frame with the full registration.

    The registration (global matrix and the non-rigid flow) was found between the working
    photos; each BEFORE pixel is taken to BEFORE's working frame, moved by the flow there,
    carried into AFTER's working frame by the matrix and back to AFTER's original pixels.
    Done a strip of rows at a time, so a 100-megapixel photo needs a few hundred MB.

    Parameters
    ----------
    after_pixels : ndarray, shape (h, w, 3), uint8
        The follow-up photo as read from its file.
    pair : AlignedPair
        From :func:`outcomes.pipeline.align_photos` (with its frames).
    before_size : (width, height)
        Of BEFORE's original photo.

    Returns
    -------
    ndarray, shape (height, width, 3), uint8
        Black where AFTER has no pixel.
    """
    import cv2

    if pair.before_frame.is_identity and pair.after_frame.is_identity:
        return pair.after_in_before
    reg = pair.registration
    width, height = before_size
    to_work_b = pair.before_frame.to_working()
    after_to_orig = pair.after_frame.to_original() @ np.linalg.inv(reg.after_to_before)
    flow = reg.local_flow
    out = np.zeros((height, width, 3), np.uint8)
    xs = np.arange(width, dtype=np.float64)
    for r0 in range(0, height, rows_per_strip):
        r1 = min(height, r0 + rows_per_strip)
        gx, gy = np.meshgrid(xs, np.arange(r0, r1, dtype=np.float64))
        wx = to_work_b[0, 0] * gx + to_work_b[0, 2]
        wy = to_work_b[1, 1] * gy + to_work_b[1, 2]
        if flow is not None:
            fx = cv2.remap(flow[..., 0], wx.astype(np.float32), wy.astype(np.float32), cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            fy = cv2.remap(flow[..., 1], wx.astype(np.float32), wy.astype(np.float32), cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            wx, wy = wx + fx, wy + fy
        den = after_to_orig[2, 0] * wx + after_to_orig[2, 1] * wy + after_to_orig[2, 2]
        map_x = ((after_to_orig[0, 0] * wx + after_to_orig[0, 1] * wy + after_to_orig[0, 2]) / den).astype(np.float32)
        map_y = ((after_to_orig[1, 0] * wx + after_to_orig[1, 1] * wy + after_to_orig[1, 2]) / den).astype(np.float32)
        out[r0:r1] = cv2.remap(after_pixels, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=0)
    return out


def mask_in_original(mask: np.ndarray, frame: Frame, size: tuple[int, int]) -> np.ndarray:
    """A working photo's bool mask in the original photo's pixels (nearest neighbour; False outside the crop).

    Parameters
    ----------
    mask : ndarray, shape (h, w), bool
    frame : Frame
    size : (width, height)
        Of the original photo.
    """
    import cv2

    if frame.is_identity:
        return mask
    to_working = frame.to_working()[:2]
    out = cv2.warpAffine(mask.astype(np.uint8), to_working, size, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out.astype(bool)
