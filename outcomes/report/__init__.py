"""Reports for people: the clinician's self-contained HTML report of one assessed pair."""

from __future__ import annotations

from outcomes.report.html import render_report, write_report

__all__ = ["render_report", "write_report"]
