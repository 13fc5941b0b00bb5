"""The report's picture sections: aligned comparison, wrinkle maps, PIH map.

Each picture is embedded once, as a CSS class with a data-URI background, and
stacked in several places (photo below, transparent overlays above), which
keeps the file small while the same photo appears in several views.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from outcomes.assessment import Assessment
from outcomes.report import images
from outcomes.report.text import esc, pct, region_short


@dataclass(frozen=True)
class Pictures:
    view: images.View
    uris: dict[str, str]  # CSS class → data URI
    labels: dict[str, tuple[float, float]]  # region → (x %, y %)

    def css(self) -> str:
        return "\n".join(f'.{cls}{{background-image:url("{uri}")}}' for cls, uri in self.uris.items())


def _as_mask(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    if mask is None or np.shape(mask) != shape:
        return np.zeros(shape, bool)
    return np.asarray(mask, bool)


def report_view(a: Assessment, max_width: int = 700) -> tuple[images.View, dict[str, np.ndarray]]:
    """The pictures' crop of BEFORE's frame (face box, mesh extent and regions, with a margin) and the
    region masks in that frame."""
    shape = a.pair.before.pixels.shape[:2]
    regions = {n: _as_mask(m, shape) for n, m in a.region_masks.items()}
    lm = a.pair.before_landmarks
    boxes = [tuple(map(float, lm.face_box))]
    pts = np.asarray(lm.points, float)
    if pts.ndim == 2 and len(pts) and np.isfinite(pts).all():
        boxes.append((*pts.min(axis=0), *pts.max(axis=0)))
    return images.face_view(shape, boxes, list(regions.values()), max_width=max_width), regions


def make_pictures(a: Assessment, max_width: int = 700, jpeg_quality: int = 85) -> Pictures:
    """Crop, downscale and encode every picture of the report."""
    before = a.pair.before.pixels
    shape = before.shape[:2]
    view, regions = report_view(a, max_width)
    after = a.after_normalised if a.after_normalised.shape == before.shape else a.pair.after_in_before
    uris = {
        "img-before": images.data_uri_jpeg(view.resize_rgb(before), jpeg_quality),
        "img-after": images.data_uri_jpeg(view.resize_rgb(after), jpeg_quality),
        "ov-regions": images.data_uri_png(images.region_layer(view, regions)),
        "ov-wr-before": images.data_uri_png(images.wrinkle_layer(view, _as_mask(a.wrinkle_mask_before, shape))),
        "ov-wr-after": images.data_uri_png(images.wrinkle_layer(view, _as_mask(a.wrinkle_mask_after, shape))),
        "ov-pih": images.data_uri_png(images.pih_layer(
            view, _as_mask(a.pih.spot_mask, shape), _as_mask(a.pih.erythema_mask, shape))),
    }
    return Pictures(view=view, uris=uris, labels=images.label_positions(view, regions))


def _frame(pics: Pictures, layers: list[str], alt: str, labels: bool = False, tags: str = "",
           extra_class: str = "") -> str:
    w, h = pics.view.size
    parts = [f'<div class="frame {extra_class}" style="padding-top:{100 * h / w:.3f}%" role="img" '
             f'aria-label="{esc(alt)}">']
    for layer in layers:
        cls = layer.split()[0]
        group = " ov-wr" if cls.startswith("ov-wr") else ""
        parts.append(f'<div class="layer {esc(layer)}{group}"></div>')
    if labels:
        for name, (x, y) in pics.labels.items():
            parts.append(f'<span class="rl" style="left:{x:.2f}%;top:{y:.2f}%">{esc(region_short(name))}</span>')
    parts.append(tags + "</div>")
    return "".join(parts)


def _tag(text: str, side: str = "l") -> str:
    return f'<span class="tag {side}">{esc(text)}</span>'


def _toggles(*items: tuple[str, str]) -> str:
    """Check boxes placed as siblings before the figures, so CSS alone can hide layers."""
    return "".join(f'<input type="checkbox" class="tg" id="{i}" checked><label class="tg" for="{i}">{esc(t)}</label>'
                   for i, t in items)


def comparison_section(a: Assessment, pics: Pictures) -> str:
    cmp = (
        f'<div class="cmp" id="cmp" style="--pos:50%;max-width:{max(400, min(700, 2 * pics.view.size[0]))}px">'
        + _frame(pics, ["img-before", "img-after after"], "BEFORE and AFTER, slider comparison",
                 tags='<div class="divider"></div><span class="tag l">BEFORE</span><span class="tag r">AFTER</span>')
        + '<div class="controls"><input type="range" id="cmp-range" min="0" max="100" value="50" '
          'aria-label="Slide between BEFORE (left) and AFTER (right)">'
          '<button type="button" id="cmp-flip">Flicker (F)</button>'
          '<button type="button" id="cmp-auto" aria-pressed="false">Auto-flicker</button>'
          '<span class="note" id="cmp-state" aria-live="polite"></span></div></div>'
    )
    side = (
        '<div class="figs" style="margin-top:14px">'
        f'<figure>{_frame(pics, ["img-before"], "BEFORE", tags=_tag("BEFORE"))}'
        '<figcaption>BEFORE (baseline)</figcaption></figure>'
        f'<figure>{_frame(pics, ["img-after"], "AFTER", tags=_tag("AFTER"))}'
        '<figcaption>AFTER (follow-up), aligned to BEFORE and lighting-normalised</figcaption></figure></div>'
    )
    return (
        '<section id="comparison"><h2>Aligned comparison</h2>'
        '<p class="note">AFTER has been warped into BEFORE\'s frame and its global lighting matched to BEFORE, so '
        'differences left are changes of the skin (or residual misalignment; see the QC section). Drag the slider, '
        'or use Flicker (key F) to switch between the two photos in place.</p>'
        f'{cmp}{side}</section>'
    )


def _swatch(rgb: tuple[int, int, int], alpha: float = 1.0) -> str:
    r, g, b = rgb
    return f'<span class="sw" style="background:rgba({r},{g},{b},{alpha})"></span>'


def wrinkle_section(a: Assessment, pics: Pictures) -> str:
    figs = "".join(
        f'<figure>{_frame(pics, [img, "ov-regions", ov], f"{who} with detected wrinkles", labels=True, tags=tag)}'
        f'<figcaption>{cap}</figcaption></figure>'
        for img, ov, who, tag, cap in (
            ("img-before", "ov-wr-before", "BEFORE", '<span class="tag l">BEFORE</span>', "BEFORE: detected wrinkles"),
            ("img-after", "ov-wr-after", "AFTER", '<span class="tag l">AFTER</span>',
             "AFTER (aligned, lighting-normalised): detected wrinkles"),
        )
    )
    return (
        '<section id="wrinkles"><h2>Wrinkle maps</h2>'
        + _toggles(("t-wrinkles", "wrinkles"), ("t-regions", "region outlines and labels")) +
        f'<div class="figs">{figs}</div>'
        f'<div class="legend"><span>{_swatch(images.WRINKLE_RGB, .75)}detected wrinkle</span>'
        f'<span>{_swatch((200, 200, 200))}scored region (outline)</span></div>'
        '<p class="note">Both maps use the same region outlines (BEFORE\'s frame). Per-region numbers are in the '
        'region table.</p></section>'
    )


def pih_section(a: Assessment, pics: Pictures) -> str:
    total = max(1, sum(int(np.count_nonzero(m)) for m in a.region_masks.values()))
    spots = a.pih.area_fraction  # the check's own figure (spot area over all scored skin)
    ery = float(np.count_nonzero(a.pih.erythema_mask)) / total
    marked = _frame(pics, ["img-after", "ov-regions", "ov-pih"], "AFTER with new dark spots and redness marked",
                    tags=_tag("AFTER"))
    figs = (
        f'<figure>{_frame(pics, ["img-before", "ov-regions"], "BEFORE", tags=_tag("BEFORE"))}'
        '<figcaption>BEFORE (baseline), for reference</figcaption></figure>'
        f'<figure>{marked}'
        '<figcaption>AFTER with new dark spots (PIH) and redness marked</figcaption></figure>'
    )
    return (
        '<section id="pih-map"><h2>Pigment: new dark spots and redness</h2>'
        + _toggles(("t-pih", "markings")) +
        f'<div class="figs">{figs}</div>'
        f'<div class="legend"><span>{_swatch(images.PIH_RGB)}new or increased dark spot (PIH): '
        f'{esc(pct(spots, 2))} of scored skin</span>'
        f'<span>{_swatch(images.ERYTHEMA_RGB)}redness (erythema), not counted as PIH: {esc(pct(ery, 2))}</span></div>'
        '</section>'
    )
