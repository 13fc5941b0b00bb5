"""The pictures of a finished assessment for the result page, written by the worker that made it.

All share one crop of BEFORE's frame (the face with a margin) and one size, so the page
stacks them: the baseline, the follow-up aligned and lighting-matched to it, and
transparent overlays (region outlines, wrinkles before / after, lines that faded and lines
that are new, new dark spots). The original follow-up, as uploaded, is kept beside them.
The downloadable HTML report is written with them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# Files a result page may ask for (anything else is 404), and their types.
RESULT_FILES = {
    "before.jpg": "image/jpeg", "after.jpg": "image/jpeg", "after_original.jpg": "image/jpeg",
    "regions.png": "image/png", "wrinkles_before.png": "image/png", "wrinkles_after.png": "image/png",
    "wrinkles_change.png": "image/png", "pih.png": "image/png", "report.html": "text/html",
}
FADED_RGB = (40, 150, 255)  # a line in BEFORE that the follow-up no longer shows
NEW_RGB = (255, 60, 60)  # a line in the follow-up that BEFORE did not show
KEPT_RGB = (255, 230, 80)  # in both


def _jpeg(rgb: np.ndarray, quality: int = 88) -> bytes:
    import cv2

    ok, buffer = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return buffer.tobytes()


def _png(rgba: np.ndarray) -> bytes:
    import cv2

    ok, buffer = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgba), cv2.COLOR_RGBA2BGRA),
                              [cv2.IMWRITE_PNG_COMPRESSION, 3])
    return buffer.tobytes()


def change_layer(view, before: np.ndarray, after: np.ndarray, ipd_px: float, opacity: float = 0.85) -> np.ndarray:  # noqa: ANN001
    """Faded, new and kept lines in three colours; a line moved by less than ~0.02 IPD counts as kept.

    Parameters
    ----------
    view : outcomes.report.images.View
    before, after : ndarray of bool, shape (H, W)
        Wrinkle masks in BEFORE's frame.
    ipd_px : float
        Interpupillary distance in BEFORE's pixels (the matching tolerance's unit).
    """
    import cv2

    from outcomes.report import images

    radius = max(1, int(round(0.02 * ipd_px)))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    near_after = cv2.dilate(after.astype(np.uint8), disk) > 0
    near_before = cv2.dilate(before.astype(np.uint8), disk) > 0
    layer = images._layer(view.size)
    for mask, rgb in ((before & ~near_after, FADED_RGB), (after & ~near_before, NEW_RGB),
                      ((before & near_after) | (after & near_before), KEPT_RGB)):
        images._paint(layer, np.minimum(1.0, 2.5 * view.coverage(mask)) * opacity, rgb)
    return layer


def write_result_pictures(assessment, after_original: np.ndarray, folder: Path, max_width: int = 800) -> None:  # noqa: ANN001
    """Write every picture of :data:`RESULT_FILES` and ``view.json`` (picture size, region label positions);
    the report is :func:`write_report`'s."""
    from outcomes.report import images
    from outcomes.report.figures import _as_mask, report_view

    folder.mkdir(parents=True, exist_ok=True)
    a = assessment
    before = a.pair.before.pixels
    shape = before.shape[:2]
    after = a.after_normalised if a.after_normalised.shape == before.shape else a.pair.after_in_before
    view, regions = report_view(a, max_width)
    wr_before, wr_after = _as_mask(a.wrinkle_mask_before, shape), _as_mask(a.wrinkle_mask_after, shape)
    ipd = a.pair.before_landmarks.inter_pupil_distance
    scale = max_width / max(after_original.shape[1], 1)
    original = after_original
    if scale < 1:
        import cv2

        original = cv2.resize(after_original, (max_width, int(round(after_original.shape[0] * scale))),
                              interpolation=cv2.INTER_AREA)
    files = {
        "before.jpg": _jpeg(view.resize_rgb(before)),
        "after.jpg": _jpeg(view.resize_rgb(after)),
        "after_original.jpg": _jpeg(original),
        "regions.png": _png(images.region_layer(view, regions, opacity=0.8)),
        "wrinkles_before.png": _png(images.wrinkle_layer(view, wr_before)),
        "wrinkles_after.png": _png(images.wrinkle_layer(view, wr_after)),
        "wrinkles_change.png": _png(change_layer(view, wr_before, wr_after, ipd)),
        "pih.png": _png(images.pih_layer(view, _as_mask(a.pih.spot_mask, shape), _as_mask(a.pih.erythema_mask, shape))),
    }
    meta = {"width": view.size[0], "height": view.size[1],
            "labels": {name: [round(x, 2), round(y, 2)]
                       for name, (x, y) in images.label_positions(view, regions).items()}}
    files["view.json"] = json.dumps(meta).encode()
    for name, data in files.items():
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(data)
        tmp.replace(folder / name)


def write_report(assessment, folder: Path, heading: str = "") -> None:  # noqa: ANN001
    """The self-contained HTML report (as ``outcomes assess --report`` writes it) as ``report.html``, with
    ``heading`` (the patient and visits, which the pipeline does not know) at its top."""
    import html
    import re

    from outcomes.report import render_report

    folder.mkdir(parents=True, exist_ok=True)
    page = render_report(assessment)
    if heading:
        banner = (f'<p style="margin:0;padding:8px 16px;background:#24445c;color:#fff;font:15px system-ui">'
                  f"{html.escape(heading)}</p>")
        page = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + banner, page, count=1)
    tmp = folder / ".report.html.tmp"
    tmp.write_bytes(page.encode("utf-8"))
    tmp.replace(folder / "report.html")
