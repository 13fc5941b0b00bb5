"""Batch manifest: baselines, follow-up pairs, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from outcomes.errors import ManifestError
from outcomes.manifest import read_manifest


def _setup(folder: Path, text: str, images: tuple[str, ...]) -> Path:
    for name in images:
        (folder / name).write_bytes(b"x")
    path = folder / "manifest.csv"
    path.write_text(text)
    return path


def test_baseline_is_the_first_day_per_subject_and_view(tmp_path):
    path = _setup(tmp_path, "subject_id,visit,image,visit_day,view,fitzpatrick\n"
                  "S1,d90,c.jpg,90,,v\n"
                  "S1,base,a.jpg,0,,\n"
                  "S1,d30,b.jpg,30,,\n"
                  "S1,base,p.jpg,0,profile,\n"
                  "S1,d30,q.jpg,30,profile,\n", ("a.jpg", "b.jpg", "c.jpg", "p.jpg", "q.jpg"))
    m = read_manifest(path)
    assert [p.key for p in m.pairs] == [("S1", "d90", "frontal"), ("S1", "d30", "frontal"), ("S1", "d30", "profile")]
    assert all(p.baseline.visit == "base" for p in m.pairs)
    assert m.pairs[0].fitzpatrick == "V" and m.pairs[1].fitzpatrick is None
    assert m.pairs[2].baseline.image == tmp_path / "p.jpg"


def test_named_baseline_needs_no_days(tmp_path):
    path = _setup(tmp_path, "subject_id,visit,image\nS1,screen,a.jpg\nS1,week12,b.jpg\n", ("a.jpg", "b.jpg"))
    with pytest.raises(ManifestError, match="no visit_day"):
        read_manifest(path)
    m = read_manifest(path, baseline_visit="screen")
    assert [(p.baseline.visit, p.follow_up.visit) for p in m.pairs] == [("screen", "week12")]


def test_five_problems_reported_together(tmp_path):
    path = _setup(tmp_path, "subject_id,visit,image,visit_day,fitzpatrick,site\n"
                  "S1,base,a.jpg,0,II,x\n"
                  "S1,d90,missing.jpg,90,II,x\n"        # 3: missing file
                  "S1,d90,a.jpg,91,II,x\n"              # 4: duplicate subject/visit/view
                  "S2,base,a.jpg,zero,III,x\n"          # 5: bad visit_day (and S2 has no baseline)
                  "S3,base,a.jpg,0,VII,x\n"             # 6: bad fitzpatrick
                  "S3,d30,a.jpg,30,,x\n", ("a.jpg",))
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    message = str(info.value)
    assert "\n" not in message
    for part in ("line 1: unknown column 'site'", "line 3: image 'missing.jpg' not found",
                 "line 4: subject 'S1' visit 'd90' view 'frontal' repeats line 3",
                 "line 5: visit_day 'zero' is not a number", "line 6: fitzpatrick 'VII' is not one of",
                 "line 5: subject 'S2' view 'frontal' has no baseline"):
        assert part in message
    assert len(info.value.problems) == 6


def test_same_first_day_and_baseline_only(tmp_path):
    path = _setup(tmp_path, "subject_id,visit,image,visit_day\nS1,a,a.jpg,0\nS1,b,a.jpg,0\nS2,a,a.jpg,0\n",
                  ("a.jpg",))
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    assert "share the first visit_day 0" in str(info.value)
    assert "has only its baseline visit 'a'" in str(info.value)


def test_missing_columns(tmp_path):
    with pytest.raises(ManifestError, match="missing column image"):
        read_manifest(_setup(tmp_path, "subject_id,visit\nS1,a\n", ()))
