"""A patient's course over visits: one point per follow-up (its assessment against the current
baseline), and the chart of improvement score, GAIS and PIH drawn as inline SVG."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape

from sqlalchemy import select
from sqlalchemy.orm import Session

from outcomes.service.db import Assessment, Photo, Visit


@dataclass(frozen=True)
class TimelinePoint:
    day: int
    visit: str
    view: str
    photo_id: int
    assessment_id: int | None
    status: str  # "baseline", queued, running, done, failed
    grade: int | None = None
    label: str | None = None
    score: float | None = None
    pih: bool = False
    usable: bool = True


def timeline_points(session: Session, patient_id: int) -> list[TimelinePoint]:
    """The baseline and every later photo of each view, with its assessment against that baseline."""
    rows = session.execute(select(Photo, Visit).join(Visit, Photo.visit_id == Visit.id)
                           .where(Photo.patient_id == patient_id).order_by(Visit.day, Photo.id)).all()
    assessments = {(a.photo_id, a.baseline_photo_id): a for a in session.scalars(
        select(Assessment).where(Assessment.patient_id == patient_id))}
    baselines: dict[str, tuple[int, int]] = {}
    points = []
    for photo, visit in rows:
        if photo.view not in baselines:
            baselines[photo.view] = (photo.id, visit.day)
            points.append(TimelinePoint(visit.day, visit.name, photo.view, photo.id, None, "baseline", score=0.0))
            continue
        base_id, base_day = baselines[photo.view]
        a = assessments.get((photo.id, base_id))
        if a is None:
            continue
        if a.status == "done" and a.result:
            r = json.loads(a.result)
            g = r.get("gais", {})
            points.append(TimelinePoint(visit.day, visit.name, photo.view, photo.id, a.id, a.status, g.get("grade"),
                                        g.get("label"), g.get("improvement_score"),
                                        bool(r.get("pih", {}).get("flag")), bool(r.get("qc", {}).get("usable"))))
        else:
            points.append(TimelinePoint(visit.day, visit.name, photo.view, photo.id, a.id, a.status))
    return points


def timeline_svg(points: list[TimelinePoint], width: int = 720, height: int = 260) -> str:
    """Improvement score against visit day (frontal view): filled dots usable, hollow not usable,
    the GAIS grade above each, an orange ring and "PIH" where PIH was found."""
    shown = [p for p in points if p.view == "frontal" and p.score is not None]
    # a pair that is not usable has no score to trust: it is drawn hollow on the zero line, "retake"
    shown = [p if p.usable else TimelinePoint(**{**p.__dict__, "score": 0.0}) for p in shown]
    if len(shown) < 2:
        return ""
    left, right, top, bottom = 56, 44, 24, 40
    days = [p.day for p in shown]
    lo_day, hi_day = min(days), max(days)
    span = max(abs(p.score) for p in shown)
    limit = max(0.2, min(1.5, round(span * 1.25 + 0.05, 1)))

    def x(day: float) -> float:
        return left + (day - lo_day) / max(hi_day - lo_day, 1) * (width - left - right)

    def y(score: float) -> float:
        return top + (limit - max(-limit, min(limit, score))) / (2 * limit) * (height - top - bottom)

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             'aria-label="Improvement score over visits">']
    for tick in (-limit, -limit / 2, 0.0, limit / 2, limit):
        cls = "axis zero" if tick == 0 else "axis"
        parts.append(f'<line class="{cls}" x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
                     f'<text class="tick" x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:+.2f}</text>')
    parts.append(f'<text class="tick" x="{left}" y="{height - 8}">day {lo_day}</text>'
                 f'<text class="tick" x="{width - right}" y="{height - 8}" text-anchor="end">day {hi_day}</text>'
                 f'<text class="tick" x="{(left + width - right) / 2:.0f}" y="{height - 8}" text-anchor="middle">'
                 'improvement score (above 0: better)</text>')
    trusted = [p for p in shown if p.usable]
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(p.day):.1f},{y(p.score):.1f}" for i, p in enumerate(trusted))
    parts.append(f'<path class="line" d="{path}"/>')
    for p in shown:
        cx, cy = x(p.day), y(p.score)
        dot = "dot" if p.usable else "dot hollow"
        if p.status == "baseline":
            what = "baseline"
        elif not p.usable:
            what = "not usable: the photos cannot be compared; retake"
        else:
            what = f"GAIS {p.grade} {p.label}, score {p.score:+.2f}" + (", PIH" if p.pih else "")
        title = escape(f"{p.visit} (day {p.day}): {what}")
        parts.append(f'<g><title>{title}</title><circle class="{dot}" cx="{cx:.1f}" cy="{cy:.1f}" r="6"/>')
        if p.pih:
            parts.append(f'<circle class="pih-ring" cx="{cx:.1f}" cy="{cy:.1f}" r="11"/>'
                         f'<text class="pih-label" x="{cx:.1f}" y="{cy + 26:.1f}" text-anchor="middle">PIH</text>')
        if p.grade is not None:
            label = f"GAIS {p.grade}" if p.usable else "retake"
            parts.append(f'<text class="grade-label" x="{cx:.1f}" y="{cy - 12:.1f}" text-anchor="middle">'
                         f'{label}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
