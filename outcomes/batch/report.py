"""``report.html``: the trial report for people, one self-contained file.

Built from the summary and the per-pair records only (no timings), so an
interrupted-and-resumed job writes the same report as an uninterrupted one.
Plots are drawn with matplotlib's object API (no pyplot state) and embedded
as PNG; thumbnails are linked from ``thumbnails/`` beside the report.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

from outcomes.batch.stats import Proportion, TrialSummary
from outcomes.batch.store import key_stem
from outcomes.batch.tables import assessment_row
from outcomes.report.assets import CSS
from outcomes.report.text import esc, num, pct
from outcomes.scoring import GRADE_LABELS

GRADE_COLOURS = {1: "#12804a", 2: "#3f9e5a", 3: "#8cc08f", 4: "#9aa3ae", 5: "#c0352b"}
EXTRA_CSS = """
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid var(--line);
padding:4px 8px;text-align:left;vertical-align:top}th{background:var(--bg)}td.n,th.n{text-align:right;
font-variant-numeric:tabular-nums}.small{color:var(--warn)}.warn{background:var(--warnbg);border-radius:10px;
padding:10px 16px;margin:14px 0}.warn ul{margin:4px 0 0 18px;padding:0}img.plot{max-width:100%}
img.thumb{height:64px}.err{color:var(--bad)}
"""


def _png(fig) -> str:  # noqa: ANN001 - matplotlib Figure
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return f'<img class="plot" alt="" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _figure(width: float, height: float):  # noqa: ANN202
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    return fig, fig.add_subplot()


def _rate_plot(title: str, tables: dict[str, dict[str, Proportion]]) -> str:
    """Rates with Wilson intervals, one bar per stratum, strata grouped by table."""
    labels, rates, lows, highs = [], [], [], []
    for group, table in tables.items():
        for name, p in table.items():
            if p.n:
                labels.append(f"{group}\n{name}\n(n={p.n})" if group else f"{name}\n(n={p.n})")
                rates.append(p.rate)
                lows.append(p.rate - p.ci_low)
                highs.append(p.ci_high - p.rate)
    if not labels:
        return ""
    fig, ax = _figure(max(4.0, 0.9 * len(labels) + 1), 3.2)
    ax.bar(range(len(labels)), rates, yerr=[lows, highs], capsize=4, color="#2458a6", alpha=0.8)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("rate (Wilson 95 % CI)")
    ax.set_title(title, fontsize=10)
    return _png(fig)


def _gais_plot(summary: TrialSummary) -> str:
    visits = list(summary.gais_by_visit)
    if not visits:
        return ""
    fig, ax = _figure(max(4.0, 1.2 * len(visits) + 2), 3.2)
    bottom = [0.0] * len(visits)
    for grade in range(1, 6):
        shares = [summary.gais_by_visit[v][grade] / max(1, sum(summary.gais_by_visit[v].values())) for v in visits]
        ax.bar(visits, shares, bottom=bottom, color=GRADE_COLOURS[grade], label=f"{grade} {GRADE_LABELS[grade]}")
        bottom = [b + s for b, s in zip(bottom, shares)]
    ax.set_ylabel("share of pairs")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    ax.set_title("GAIS estimate by visit", fontsize=10)
    return _png(fig)


def _change_plot(results: Sequence, summary: TrialSummary) -> str:  # PairResult rows
    visits = [v for v in summary.wrinkle_change]
    data = [[r.wrinkle_after - r.wrinkle_before for r in results if r.counted and r.view == summary.view
             and r.visit == v and r.wrinkle_before is not None and r.wrinkle_after is not None] for v in visits]
    if not any(data):
        return ""
    fig, ax = _figure(max(4.0, 1.2 * len(visits) + 1), 3.2)
    ax.boxplot(data, tick_labels=visits)
    ax.axhline(0, color="#5d6b7e", lw=0.8)
    ax.set_ylabel("mean wrinkle severity, after − before")
    ax.set_title("Per-subject wrinkle change (lower = fewer wrinkles)", fontsize=10)
    return _png(fig)


def _rate_table(title: str, table: dict[str, Proportion]) -> str:
    rows = "".join(
        f"<tr{' class=small' if p.too_small else ''}><td>{esc(name)}</td><td class=n>{p.count}</td>"
        f"<td class=n>{p.n}</td><td class=n>{pct(p.rate)}</td><td class=n>{pct(p.ci_low)} – {pct(p.ci_high)}</td>"
        f"<td>{'too few to conclude' if p.too_small else ''}</td></tr>" for name, p in table.items())
    return (f"<h3>{esc(title)}</h3><table><tr><th></th><th class=n>count</th><th class=n>n</th><th class=n>rate</th>"
            f"<th class=n>Wilson 95 % CI</th><th></th></tr>{rows}</table>")


def _warnings(summary: TrialSummary) -> str:
    if not summary.warnings:
        return ""
    items = "".join(f"<li>{esc(w)}</li>" for w in summary.warnings)
    return f'<div class="warn"><strong>Read with care</strong><ul>{items}</ul></div>'


def _problems(records: Sequence[dict]) -> str:
    rows = []
    for rec in records:
        b = rec["batch"]
        if b.get("error"):
            why, cls = b["error"], "err"
        elif not rec["qc"]["usable"]:
            why, cls = "not usable: " + "; ".join(rec["qc"]["flags"]), ""
        else:
            continue
        rows.append(f"<tr><td>{esc(b['subject_id'])}</td><td>{esc(b['visit'])}</td><td>{esc(b['view'])}</td>"
                    f"<td class={cls or 'x'}>{esc(why)}</td></tr>")
    if not rows:
        return "<section><h2>QC failures and errors</h2><p>None: every pair was assessed and usable.</p></section>"
    return (f"<section><h2>QC failures and errors ({len(rows)})</h2><table><tr><th>subject</th><th>visit</th>"
            f"<th>view</th><th>reason</th></tr>{''.join(rows)}</table></section>")


def _pairs_table(records: Sequence[dict]) -> str:
    rows = []
    for rec in records:
        row, b = assessment_row(rec), rec["batch"]
        stem = key_stem((b["subject_id"], b["visit"], b["view"]))
        thumb = "" if row["error"] else f'<img class="thumb" loading="lazy" alt="" src="thumbnails/{esc(stem)}.jpg">'
        grade = "—" if row["gais_grade"] is None else f"{row['gais_grade']} {esc(row['gais_label'])}"
        rows.append(
            f"<tr><td>{esc(b['subject_id'])}</td><td>{esc(b['visit'])}</td><td>{esc(b['view'])}</td><td>{grade}</td>"
            f"<td class=n>{num(row['improvement_score'], 3)}</td><td>{'PIH' if row['pih_flag'] else ''}</td>"
            f"<td>{esc(row['fitzpatrick'] or '—')} <span class=sub>{esc(row['fitzpatrick_source'] or '')}</span></td>"
            f"<td>{'' if row['qc_usable'] is None else 'yes' if row['qc_usable'] else 'no'}</td>"
            f"<td><a href=\"pairs/{esc(stem)}.json\">JSON</a></td><td>{thumb}</td></tr>")
    return ("<section><h2>Pairs</h2><table><tr><th>subject</th><th>visit</th><th>view</th><th>GAIS estimate</th>"
            "<th class=n>improvement</th><th>PIH</th><th>Fitzpatrick</th><th>usable</th><th></th><th>baseline | aligned "
            f"follow-up</th></tr>{''.join(rows)}</table></section>")


def render_trial_report(summary: TrialSummary, records: Sequence[dict], results: Sequence,
                        title: str, job: dict) -> str:
    """The trial report's HTML. ``results`` are the records' :class:`PairResult` rows."""
    c = summary.counts
    change_rows = "".join(
        f"<tr{' class=small' if ch.too_small else ''}><td>{esc(v)}</td><td class=n>{ch.n}</td>"
        f"<td class=n>{num(ch.median_before, 3)}</td><td class=n>{num(ch.median_after, 3)}</td>"
        f"<td class=n>{num(ch.median_change, 3, signed=True)}</td><td class=n>{num(ch.statistic, 1)}</td>"
        f"<td class=n>{'—' if ch.p_value is None else f'{ch.p_value:.2g}'}</td></tr>"
        for v, ch in summary.wrinkle_change.items())
    gais_rows = "".join(
        f"<tr><td>{esc(v)}</td>" + "".join(f"<td class=n>{d[g]}</td>" for g in range(1, 6)) + "</tr>"
        for v, d in summary.gais_by_visit.items())
    scorer = job.get("gais_scorer") or "default (uncalibrated) scorer"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{esc(title)}</title>
<style>{CSS}{EXTRA_CSS}</style></head><body><main>
<h1>{esc(title)}</h1>
<div class="sub">{c['subjects']} subjects, {c['pairs']} pairs ({c['pairs_in_statistics']} in the statistics,
{c['not_usable']} not usable, {c['errors']} errors); statistics on the {esc(summary.view)} view.
GAIS: {esc(scorer)}; wrinkle detector {esc(job.get('wrinkle_detector'))}; configuration
{esc(str(job.get('config_sha256', ''))[:12])}; outcomes {esc(job.get('package_version'))}.
Automatic estimates, not investigator ratings.</div>
{_warnings(summary)}
<section><h2>Responders (GAIS ≤ 3, "Improved" or better)</h2>
<p class="sub">Overall and by group: each subject's last usable follow-up. By visit: the pairs of that visit.</p>
{_rate_plot("Responder rate", {"": {"overall": summary.responders_overall}, "visit": summary.responders_by_visit,
                                "Fitzpatrick": summary.responders_by_group})}
{_rate_table("Overall", {"all subjects": summary.responders_overall})}
{_rate_table("By visit", summary.responders_by_visit)}
{_rate_table("By Fitzpatrick group", summary.responders_by_group)}
{_rate_table("By ITA category (baseline)", summary.responders_by_ita)}</section>
<section><h2>Post-inflammatory hyperpigmentation</h2>
<p class="sub">Subjects with PIH flagged at any usable follow-up. By visit: the pairs of that visit.</p>
{_rate_plot("PIH incidence", {"": {"overall": summary.pih_overall}, "type": summary.pih_by_type})}
{_rate_table("Overall", {"all subjects": summary.pih_overall})}
{_rate_table("By Fitzpatrick type", summary.pih_by_type)}
{_rate_table("By Fitzpatrick group", summary.pih_by_group)}
{_rate_table("By visit", summary.pih_by_visit)}</section>
<section><h2>GAIS estimate by visit</h2>{_gais_plot(summary)}
<table><tr><th>visit</th>{''.join(f'<th class=n>{g} {esc(GRADE_LABELS[g])}</th>' for g in range(1, 6))}</tr>{gais_rows}
</table></section>
<section><h2>Wrinkle change per subject (Wilcoxon signed-rank)</h2>{_change_plot(results, summary)}
<table><tr><th>visit</th><th class=n>n</th><th class=n>median before</th><th class=n>median after</th>
<th class=n>median change</th><th class=n>W</th><th class=n>p (two-sided)</th></tr>{change_rows}</table></section>
{_problems(records)}
{_pairs_table(records)}
</main></body></html>
"""


def write_trial_report(path: str | Path, html: str) -> Path:
    from outcomes.io import write_bytes

    return write_bytes(path, html.encode())
