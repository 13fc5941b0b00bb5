"""The public API: every exported name resolves, and importing loads nothing heavy."""

from __future__ import annotations

import subprocess
import sys

import outcomes


def test_every_exported_name_resolves():
    for name in outcomes.__all__:
        assert getattr(outcomes, name) is not None


def test_import_is_light():
    code = "import sys, outcomes; print(sorted(m for m in ('cv2', 'mediapipe', 'numpy', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_json_writer_keeps_points_on_one_line(tmp_path):
    from outcomes.io import write_json

    path = write_json(tmp_path / "p.json", {"points": [[1.5, 2.0], [3.0, 4.25]], "ok": True, "empty": {}})
    text = path.read_text()
    assert "[1.5, 2.0]" in text and text.count("\n") == 8
    import json

    assert json.loads(text) == {"points": [[1.5, 2.0], [3.0, 4.25]], "ok": True, "empty": {}}
