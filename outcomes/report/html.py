"""The clinician's report: one self-contained HTML file per assessed pair.

Everything is inline (style sheet, a little script, the pictures as data
URIs), so the file can be mailed or archived and opened offline. Photos are
identified by their sha256 only, never by file name (names of clinical photos
may carry a patient's name). Every piece of text from the assessment is
HTML-escaped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from outcomes.assessment import Assessment
from outcomes.report import assets, figures, tables
from outcomes.report.text import esc, flag_words, num, pct, region_title
from outcomes.scoring import GRADE_LABELS


def _probabilities(probs: dict) -> dict[int, float]:
    out = {}
    for g in GRADE_LABELS:
        v = probs.get(str(g), probs.get(g, 0.0))
        try:
            out[g] = max(0.0, float(v))
        except (TypeError, ValueError):
            out[g] = 0.0
    return out


def _change_words(fraction: float | None, what: str) -> str | None:
    """0.31 → "wrinkle severity 31 % lower than baseline"."""
    if fraction is None or fraction != fraction:
        return None
    if abs(fraction) < 0.005:
        return f"{what} essentially unchanged from baseline"
    return f"{what} {pct(abs(fraction), 0)} {'lower' if fraction > 0 else 'higher'} than baseline"


def not_usable_banner(a: Assessment) -> str:
    if a.usable:
        return ""
    items = "".join(f"<li>{esc(flag_words(f))}</li>" for f in a.qc_flags) or "<li>no reason recorded</li>"
    return ('<div class="banner" role="alert"><strong>Not usable: do not trust this estimate.</strong> '
            'The pair could not be assessed reliably, so the grade and numbers below may be wrong. '
            f'Retake the follow-up photo under the baseline\'s conditions.<ul>{items}</ul></div>')


def header(a: Assessment) -> str:
    g = a.gais
    probs = _probabilities(g.probabilities)
    bars = "".join(
        f'<div class="{"on" if k == g.grade else ""}" style="display:contents">'
        f'<span>{k} · {esc(label)}</span><span class="bar"><i style="width:{100 * min(p, 1.0):.1f}%"></i></span>'
        f'<span class="num">{esc(pct(p, 0))}</span></div>'
        for k, label, p in ((k, GRADE_LABELS[k], probs[k]) for k in GRADE_LABELS)
    )
    phrases = [s for s in (_change_words(g.wrinkle_component, "wrinkle severity"),
                           _change_words(g.laxity_component, "fold depth and jowl bulge")) if s]
    explain = "; ".join(phrases) if phrases else "no regions could be compared"
    override = ('<p class="score"><strong>Set to "Worse" because new hyperpigmentation (PIH) was found</strong>, '
                'whatever the wrinkle change.</p>' if g.override == "pih" else "")
    untrusted = "" if a.usable else " untrusted"
    return (
        f'<section class="head{untrusted}" id="summary"><div>'
        '<div class="sub">Estimated GAIS (automatic)</div>'
        f'<div class="grade"><div class="gnum g{esc(g.grade)}">{esc(g.grade)}</div>'
        f'<div class="glabel">{esc(g.label)}</div></div>'
        f'<p class="score"><strong>Improvement score {esc(num(g.improvement_score, 2, signed=True))}</strong>: '
        f'{esc(explain)}.</p>'
        '<p class="note">0 is no change, positive is improvement (0.31 ≈ 31 % less wrinkle severity), negative is '
        'worsening. The grade is an ordinal mapping of this score, not an investigator\'s rating.</p>'
        f'{override}</div>'
        f'<div><div class="sub" style="margin-bottom:6px">Probability of each grade</div><div class="bars">{bars}</div>'
        '</div></section>'
    )


def _skin_total(a: Assessment) -> int:
    return max(1, sum(int(np.count_nonzero(m)) for m in a.region_masks.values()))


def pih_alerts(a: Assessment) -> str:
    p = a.pih
    out = []
    if p.flag:
        worst = sorted((r for r in p.regions if r.area_fraction > 0), key=lambda r: -r.area_fraction)[:4]
        where = ", ".join(f"{region_title(r.region).lower()} ({pct(r.area_fraction, 1)} of the region)" for r in worst)
        out.append(
            '<div class="alert pih" role="alert"><strong>⚠ Possible post-inflammatory hyperpigmentation (PIH): '
            f'{esc(p.severity)}</strong><br>New or increased dark spots at follow-up cover '
            f'<strong>{esc(pct(p.area_fraction, 2))}</strong> of the scored skin, with a mean colour change of '
            f'<strong>ΔE*ab {esc(num(p.delta_e, 1))}</strong> (2.3 is just noticeable, above 5 clearly different).'
            + (f"<br>Most affected: {esc(where)}." if where else "")
            + '<br>See the pigment map below and examine the patient; PIH is more frequent and lasts longer in '
            'Fitzpatrick III–VI.</div>')
    ery = float(np.count_nonzero(p.erythema_mask)) / _skin_total(a)
    if ery > 0:
        out.append(
            '<div class="alert ery"><strong>Redness (erythema) seen</strong>, not counted as PIH: '
            f'{esc(pct(ery, 2))} of the scored skin changed mainly towards red (a* up) rather than darker. '
            'Post-procedure redness usually settles; reassess PIH once it has (≥ 4 weeks after a session).</div>')
    if not p.flag and ery == 0:
        out.append('<div class="alert ok">No new hyperpigmentation or redness found.</div>')
    elif not p.flag:
        out.append('<div class="alert ok">No new hyperpigmentation (PIH) found.</div>')
    return "".join(out)


def render_report(assessment: Assessment) -> str:
    """The clinician's report for one assessed pair, as one self-contained HTML document.

    Parameters
    ----------
    assessment : Assessment
        From :func:`outcomes.pipeline.assess_pair`.

    Returns
    -------
    str
        HTML5 with inline CSS, a little inline script and the pictures as
        data URIs; no external references, no file names of the photos.
    """
    a = assessment
    pics = figures.make_pictures(a)
    title = f"Treatment outcome report: GAIS {a.gais.grade}, {a.gais.label}" + ("" if a.usable else " (NOT USABLE)")
    short = f"BEFORE {a.pair.before.sha256[:12]}… · AFTER {a.pair.after.sha256[:12]}…"
    body = "".join([
        f'<header><h1>{esc(title)}</h1><div class="sub">Photos (sha256): {esc(short)}</div></header>',
        not_usable_banner(a),
        header(a),
        pih_alerts(a),
        figures.comparison_section(a, pics),
        figures.wrinkle_section(a, pics),
        figures.pih_section(a, pics),
        tables.region_table(a),
        tables.skin_section(a),
        tables.qc_section(a),
        tables.provenance_section(a),
        '<footer>Automatic measurement for decision support. GAIS is a clinical judgement; this estimate maps measured '
        'change to the scale and should be read with the photos. Sides are the subject\'s.</footer>',
    ])
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f'<title>{esc(title)}</title><style>{assets.CSS}\n{pics.css()}</style></head>'
        f'<body><main>{body}</main><script>{assets.JS}</script></body></html>\n'
    )


def write_report(path: str | Path, assessment: Assessment) -> Path:
    """Render the report and write it to ``path`` atomically (UTF-8); returns the path."""
    from outcomes.io import _write_atomic

    text = render_report(assessment)
    return _write_atomic(path, lambda p: p.write_bytes(text.encode("utf-8")))
