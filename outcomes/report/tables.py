"""The report's tables: per-region changes, skin tone, alignment and lighting QC, provenance."""

from __future__ import annotations

import json

from outcomes.assessment import Assessment
from outcomes.report.text import esc, flag_words, num, pct, region_order, region_title

JND_DELTA_E = 2.3  # just-noticeable colour difference, ΔE*ab


def _cls(change: float | None, tol: float = 1e-9) -> str:
    """"better" for a fall, "worse" for a rise (wrinkles, laxity: lower is better)."""
    if change is None or change != change:
        return ""
    return " better" if change < -tol else " worse" if change > tol else ""


def _td(text: str, cls: str = "", title: str = "") -> str:
    t = f' title="{esc(title)}"' if title else ""
    return f'<td class="num{cls}"{t}>{esc(text)}</td>'


def _detail(d: dict[str, float]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {num(v, 3)}" for k, v in d.items())


def region_table(a: Assessment) -> str:
    colour = {p.region: p for p in a.pih.regions}
    rows = []
    for name in region_order([*a.regions, *colour]):
        c, p = a.regions.get(name), colour.get(name)
        cells = [f'<th scope="row">{esc(region_title(name))}<br><span class="code">{esc(name)}</span></th>']
        if c is not None:
            rel = c.wrinkle_change / c.wrinkle_before if c.wrinkle_before > 0 else None
            change = num(c.wrinkle_change, 3, signed=True)
            if rel is not None:
                change += f" ({pct(rel, 0, signed=True)})"
            cells += [_td(num(c.wrinkle_before, 3), title=_detail(c.wrinkle_detail_before)),
                      _td(num(c.wrinkle_after, 3), title=_detail(c.wrinkle_detail_after)),
                      _td(change, _cls(c.wrinkle_change)),
                      _td(num(c.laxity_before, 2)), _td(num(c.laxity_after, 2)),
                      _td(num(c.laxity_change, 2, signed=True), _cls(c.laxity_change)),
                      _td(num(c.laxity_confidence, 2))]
        else:
            cells.append('<td class="num" colspan="7">—</td>')
        if p is not None:
            dark = p.delta_e >= JND_DELTA_E and p.delta_L < 0
            cells += [_td(num(p.delta_L, 1, signed=True), " flagc" if dark else ""),
                      _td(num(p.delta_a, 1, signed=True)), _td(num(p.delta_b, 1, signed=True)),
                      _td(num(p.delta_e, 1), " flagc" if p.delta_e >= JND_DELTA_E else ""),
                      _td(pct(p.area_fraction, 2), " flagc" if p.area_fraction > 0 else "")]
        else:
            cells.append('<td class="num" colspan="5">—</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    for name in region_order(a.omitted_regions):
        rows.append(f'<tr class="omit"><th scope="row">{esc(region_title(name))}<br><span class="code">{esc(name)}'
                    f'</span></th><td colspan="12">not scored: {esc(a.omitted_regions[name])}</td></tr>')
    for name in region_order(a.not_assessable):
        rows.append(f'<tr class="omit"><th scope="row">{esc(region_title(name))}<br><span class="code">{esc(name)}'
                    f'</span></th><td colspan="12">not assessable: {esc(a.not_assessable[name])}</td></tr>')
    head = (
        '<thead><tr class="grp"><th></th><th colspan="3">Wrinkle severity</th><th colspan="4">Laxity</th>'
        '<th colspan="4">Colour change, AFTER − BEFORE</th><th>PIH</th></tr>'
        '<tr><th>Region</th><th class="num">before</th><th class="num">after</th><th class="num">change</th>'
        '<th class="num">before</th><th class="num">after</th><th class="num">change</th>'
        '<th class="num">confidence</th><th class="num">ΔL*</th><th class="num">Δa*</th><th class="num">Δb*</th>'
        '<th class="num">ΔE*ab</th><th class="num">new dark spots</th></tr></thead>'
    )
    return (
        '<section id="regions"><h2>Regions</h2><div class="scroll"><table>'
        f'{head}<tbody>{"".join(rows)}</tbody></table></div>'
        '<p class="note">Sides are the subject\'s (the subject\'s right is on the image\'s left). Changes are AFTER '
        'minus BEFORE: <span class="better">green</span> is a fall (better), <span class="worse">red</span> a rise. '
        'Wrinkle severity is the detector\'s per-region score (hover a value for area fraction, length per cm² and '
        'depth). Laxity: jawline = jowl bulge beyond the jaw line (% of the inter-pupil distance); nasolabial and '
        'marionette = depth of the fold\'s shading (% of the skin\'s luminance); confidence 0–1 falls with an open '
        'mouth or a turned head; a fold no darker than the cheek beside it reads 0 (no shading seen). '
        f'ΔE*ab ≥ {JND_DELTA_E} is a just-noticeable colour difference (marked in orange, '
        'with ΔL* when the skin got darker); ΔL* &lt; 0 is darker, Δa* &gt; 0 redder, Δb* &gt; 0 yellower. '
        '"New dark spots" is the share of the region covered by new or increased hyperpigmentation.</p></section>'
    )


def _kv(items: list[tuple[str, str]]) -> str:
    return '<dl class="kv">' + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def skin_section(a: Assessment) -> str:
    from outcomes.color import ita_category

    tone = a.skin_before
    cat_after = None
    if a.ita_after is not None and a.ita_after == a.ita_after:
        try:
            cat_after = ita_category(a.ita_after)
        except (ValueError, TypeError):
            cat_after = None

    def ita(value: float | None, category: str | None) -> str:
        return esc(num(value, 1, suffix="°") + (f" ({category})" if category and value is not None else ""))

    change = (None if tone.ita_deg is None or a.ita_after is None else a.ita_after - tone.ita_deg)
    if tone.fitzpatrick_source == "reported":
        source = "reported by the clinic"
        caveat = ""
    elif tone.fitzpatrick is None:
        source = "not measured: no usable skin for ITA and no type reported"
        caveat = ""
    else:
        source = "estimated from ITA"
        caveat = ('<p class="note"><strong>Caveat:</strong> a Fitzpatrick type estimated from an ordinary photo is a '
                  'weak proxy: it is within one type of an expert\'s rating in only about half of clinical photos. '
                  'Enter the clinic\'s recorded type (<span class="code">--fitzpatrick</span>) for PIH-risk '
                  'stratification.</p>')
    items = [
        ("ITA before", ita(tone.ita_deg, tone.category)),
        ("ITA after", ita(a.ita_after, cat_after)),
        ("ITA change", esc(num(change, 1, signed=True, suffix="°"))),
        ("Fitzpatrick type", f"<strong>{esc(tone.fitzpatrick or '—')}</strong> — {esc(source)}"),
    ]
    return ('<section id="skin"><h2>Skin tone</h2>' + _kv(items) + caveat +
            '<p class="note">ITA (individual typology angle) from the cheeks and forehead; higher is lighter. AFTER is '
            'measured after lighting normalisation, so a change reflects the skin, within the normalisation\'s '
            'accuracy.</p></section>')


def qc_section(a: Assessment) -> str:
    reg, ill = a.pair.registration, a.illumination
    pose = reg.pose_change
    ok = '<span class="better">passed</span>' if reg.ok else '<span class="worse">failed</span>'
    to_file_px = 1.0 / a.frames[0].mean_scale  # the photos may be worked at a smaller scale
    align = [
        ("Alignment", ok),
        ("Residual misfit", esc(f"{num(reg.residual_px * to_file_px, 1)} px ({pct(reg.residual_rel_ipd, 2)} of the "
                                "inter-pupil distance)")),
        ("Pose change (AFTER − BEFORE)", esc(", ".join(f"{k} {num(v, 1, True, '°')}"
                                                       for k, v in pose.as_dict().items()))),
        ("Local (non-rigid) correction", esc("none" if reg.local_flow is None and not reg.local_max_px
                                             else f"up to {num(reg.local_max_px * to_file_px, 1)} px")),
        ("Photo sizes", esc(f"BEFORE {a.pair.before.width}×{a.pair.before.height}, "
                            f"AFTER {a.pair.after.width}×{a.pair.after.height}"
                            + ("" if all(f.is_identity for f in a.frames) else " (the face cropped and resampled "
                               "to an inter-pupil distance of at most 320 px)"))),
    ]
    stops = ill.exposure_stops
    direction = "" if not stops or abs(stops) < 0.005 else " (AFTER brightened)" if stops > 0 else " (AFTER darkened)"
    light = [
        ("Lighting correction", '<span class="better">applied</span>' if ill.correctable
         else f'<span class="worse">not trustworthy</span>: {esc(ill.reason)}'),
        ("Exposure", esc(f"{num(stops, 2, signed=True)} stops{direction}")),
        ("White balance", esc(f"channel gains differ by {pct(ill.white_balance, 1)}")),
        ("Non-uniformity", esc(f"{pct(ill.nonuniformity, 1)} between halves of the face")),
        ("Colour misfit left", esc(f"median ΔE*ab {num(ill.residual_delta_e, 2)}")),
    ]
    flags = "".join(f"<li>{esc(flag_words(f))} <span class=\"code\">{esc(f)}</span></li>" for f in a.qc_flags)
    flags = f"<h3>Quality notes</h3><ul>{flags}</ul>" if flags else '<p class="note">No quality notes.</p>'
    return ('<div class="cols"><section id="alignment"><h2>Alignment QC</h2>' + _kv(align) + flags +
            '</section><section id="lighting"><h2>Lighting QC</h2>' + _kv(light) + "</section></div>")


def provenance_section(a: Assessment) -> str:
    prov = dict(a.provenance or {})
    secrets = {s for p in (a.pair.before, a.pair.after) for s in (p.source, p.source.replace("\\", "/").split("/")[-1])
               if s and len(s) > 3}

    def scrub(text: str) -> str:  # file names of clinical photos may carry a patient's name
        for s in sorted(secrets, key=len, reverse=True):
            text = text.replace(s, "[file name withheld]")
        return text

    items = [("Package version", esc(prov.pop("package_version", "—"))),
             ("Config sha256", f'<span class="mono">{esc(prov.pop("config_sha256", "—"))}</span>'),
             ("BEFORE sha256", f'<span class="mono">{esc(a.pair.before.sha256)}</span>'),
             ("AFTER sha256", f'<span class="mono">{esc(a.pair.after.sha256)}</span>')]
    prov.pop("inputs_sha256", None)
    models = prov.pop("models", None) or {}
    if isinstance(models, dict):
        items += [(f"Model: {scrub(str(k))}", f'<span class="mono">{esc(scrub(str(v)))}</span>')
                  for k, v in models.items()]
    else:
        items.append(("Models", f'<span class="mono">{esc(scrub(str(models)))}</span>'))
    items += [(scrub(str(k)), f'<span class="mono">{esc(scrub(json.dumps(v, default=str)))}</span>')
              for k, v in prov.items()]
    stages = [(k, v) for k, v in a.stage_ms.items()]
    times = "".join(f"<tr><td>{esc(k)}</td>{_td(num(v, 1))}</tr>" for k, v in stages)
    top = sum(v for k, v in stages if "." not in k)
    return (
        '<section id="provenance"><details><summary>Provenance and timings</summary>'
        f'<h3>Provenance</h3>{_kv(items)}'
        '<h3>Stage timings (ms)</h3><table style="max-width:480px"><tbody>'
        f'{times}<tr><th>total (top-level stages)</th>{_td(num(top, 1))}</tr></tbody></table>'
        '<p class="note">Photos are identified by the sha256 of their files only; file names are not '
        'included.</p></details></section>'
    )
