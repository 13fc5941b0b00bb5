"""Pictures for the HTML report: face crop, downscaling, overlay layers, data URIs.

Every picture of a report shares one crop of BEFORE's frame (the face with a
margin) and one output size, so that the photos and the transparent overlay
layers can be stacked on top of each other in the page. Photos are JPEG; the
overlays are RGBA PNG, mostly transparent, so they stay small.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np

# Overlay colours (RGB) and opacities (0–255); the legend in the page uses the same.
WRINKLE_RGB = (0, 225, 255)
REGION_RGB = (255, 255, 255)
PIH_RGB = (255, 120, 0)
ERYTHEMA_RGB = (190, 60, 255)


@dataclass(frozen=True)
class View:
    """Where the report's pictures come from in BEFORE's frame and how large they are.

    ``box`` is ``(x0, y0, x1, y1)`` in pixels (x1, y1 exclusive); ``size`` is
    ``(width, height)`` of the pictures in the page.
    """

    box: tuple[int, int, int, int]
    size: tuple[int, int]

    def crop(self, image: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = self.box
        return image[y0:y1, x0:x1]

    def resize_rgb(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        crop = np.ascontiguousarray(self.crop(rgb))
        if crop.shape[1::-1] == self.size:
            return crop
        return cv2.resize(crop, self.size, interpolation=cv2.INTER_AREA)

    def coverage(self, mask: np.ndarray) -> np.ndarray:
        """Fraction of each output pixel covered by ``mask`` (H, W) bool, float32 in [0, 1]."""
        import cv2

        crop = np.ascontiguousarray(self.crop(mask), np.float32)
        if crop.shape[1::-1] == self.size:
            return crop
        return cv2.resize(crop, self.size, interpolation=cv2.INTER_AREA)


def face_view(shape: tuple[int, int], boxes: list[tuple[float, float, float, float]],
              masks: list[np.ndarray], margin: float = 0.08, max_width: int = 700,
              max_height: int = 900) -> View:
    """The face's box (union of ``boxes`` and the masks' bounding boxes) with a margin, clipped.

    Falls back to the whole image when nothing locates the face.
    """
    h, w = shape
    xs0, ys0, xs1, ys1 = [], [], [], []
    for x0, y0, x1, y1 in boxes:
        if all(np.isfinite(v) for v in (x0, y0, x1, y1)) and x1 > x0 and y1 > y0:
            xs0.append(x0), ys0.append(y0), xs1.append(x1), ys1.append(y1)
    for m in masks:
        if m.shape == (h, w) and m.any():
            rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
            xs0.append(cols[0]), ys0.append(rows[0]), xs1.append(cols[-1] + 1), ys1.append(rows[-1] + 1)
    if xs0:
        x0, y0, x1, y1 = min(xs0), min(ys0), max(xs1), max(ys1)
        pad = margin * max(x1 - x0, y1 - y0)
        x0, y0 = int(max(0, np.floor(x0 - pad))), int(max(0, np.floor(y0 - pad)))
        x1, y1 = int(min(w, np.ceil(x1 + pad))), int(min(h, np.ceil(y1 + pad)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            x0, y0, x1, y1 = 0, 0, w, h
    else:
        x0, y0, x1, y1 = 0, 0, w, h
    scale = min(1.0, max_width / (x1 - x0), max_height / (y1 - y0))
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    return View(box=(x0, y0, x1, y1), size=size)


def data_uri_jpeg(rgb: np.ndarray, quality: int = 85) -> str:
    """``data:image/jpeg;base64,…`` of an (H, W, 3) uint8 RGB array, without metadata."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def data_uri_png(rgba: np.ndarray) -> str:
    """``data:image/png;base64,…`` of an (H, W, 4) uint8 RGBA array."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba), mode="RGBA").save(buf, format="PNG", compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _layer(size: tuple[int, int]) -> np.ndarray:
    return np.zeros((size[1], size[0], 4), np.uint8)


def _paint(layer: np.ndarray, alpha: np.ndarray, rgb: tuple[int, int, int]) -> None:
    """Composite a colour with per-pixel ``alpha`` (float, 0–1) over ``layer`` (in place)."""
    a_new = np.clip(alpha, 0, 1)[..., None]
    a_old = layer[..., 3:4].astype(np.float32) / 255
    a_out = a_new + a_old * (1 - a_new)
    colour = np.asarray(rgb, np.float32)
    mixed = (colour * a_new + layer[..., :3].astype(np.float32) * a_old * (1 - a_new)) / np.maximum(a_out, 1e-6)
    layer[..., :3] = np.clip(np.round(mixed), 0, 255).astype(np.uint8)
    layer[..., 3:4] = np.clip(np.round(a_out * 255), 0, 255).astype(np.uint8)


def _outline(binary: np.ndarray, thickness: int) -> np.ndarray:
    """Anti-aliased outline of a binary mask, float32 alpha in [0, 1]."""
    import cv2

    contours, _ = cv2.findContours(binary.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    canvas = np.zeros(binary.shape, np.uint8)
    cv2.drawContours(canvas, contours, -1, 255, thickness, cv2.LINE_AA)
    return canvas.astype(np.float32) / 255


def wrinkle_layer(view: View, mask: np.ndarray, opacity: float = 0.75) -> np.ndarray:
    """Wrinkle pixels as a semi-transparent colour; thin lines stay visible after downscaling."""
    layer = _layer(view.size)
    _paint(layer, np.minimum(1.0, 2.5 * view.coverage(mask)) * opacity, WRINKLE_RGB)
    return layer


def region_layer(view: View, masks: dict[str, np.ndarray], opacity: float = 0.55) -> np.ndarray:
    """Faint outlines of every region."""
    alpha = np.zeros(view.size[::-1], np.float32)
    for mask in masks.values():
        np.maximum(alpha, _outline(view.coverage(mask) > 0.5, 1), out=alpha)
    layer = _layer(view.size)
    _paint(layer, alpha * opacity, REGION_RGB)
    return layer


def pih_layer(view: View, spots: np.ndarray, erythema: np.ndarray) -> np.ndarray:
    """Erythema filled and outlined in violet, new dark spots in orange on top (small spots kept visible)."""
    import cv2

    layer = _layer(view.size)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    for mask, rgb, fill in ((erythema, ERYTHEMA_RGB, 0.30), (spots, PIH_RGB, 0.45)):
        if not mask.any():
            continue
        cov = view.coverage(mask)
        binary = cv2.dilate((cov > 0.15).astype(np.uint8), kernel) > 0
        _paint(layer, np.minimum(1.0, 2 * cov) * fill, rgb)
        _paint(layer, _outline(binary, 2), rgb)
    return layer


def label_positions(view: View, masks: dict[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Region name → its label's place as ``(x %, y %)`` of the picture (the region's median pixel)."""
    x0, y0, x1, y1 = view.box
    out = {}
    for name, mask in masks.items():
        ys, xs = np.nonzero(view.crop(mask))
        if len(xs):
            out[name] = (100 * float(np.median(xs) + 0.5) / (x1 - x0), 100 * float(np.median(ys) + 0.5) / (y1 - y0))
    return out
