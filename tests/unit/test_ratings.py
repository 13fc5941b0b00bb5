"""Ratings CSV: grades, labels and every problem reported at once with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from outcomes.errors import RatingsError
from outcomes.ratings import read_ratings
from outcomes.scoring import parse_grade


def _images(folder: Path, *names: str) -> None:
    (folder / "img").mkdir(exist_ok=True)
    for name in names:
        (folder / "img" / name).write_bytes(b"x")


def _write(folder: Path, text: str) -> Path:
    path = folder / "ratings.csv"
    path.write_text(text)
    return path


GOOD = """subject_id,before,after,gais,rater_id
S1,img/a0.jpg,img/a1.jpg,2,R1
S1,img/a0.jpg,img/a1.jpg,Much improved,R2
S1,img/a0.jpg,img/a2.jpg,no  CHANGE,R1
S2,img/b0.jpg,img/b1.jpg,5,R1
S2,img/b0.jpg,img/b2.jpg, Worse ,R1
"""


def test_reads_numbers_and_labels(tmp_path):
    _images(tmp_path, "a0.jpg", "a1.jpg", "a2.jpg", "b0.jpg", "b1.jpg", "b2.jpg")
    ratings = read_ratings(_write(tmp_path, GOOD))
    assert [r.grade for r in ratings.rows] == [2, 2, 4, 5, 5]
    assert [r.line for r in ratings.rows] == [2, 3, 4, 5, 6]
    assert ratings.subjects == ["S1", "S2"] and ratings.raters == ["R1", "R2"]
    assert len(ratings.pairs) == 4
    assert ratings.rows[0].before == tmp_path / "img" / "a0.jpg"  # relative to the CSV
    assert len(ratings.sha256) == 64


def test_rater_column_is_optional(tmp_path):
    _images(tmp_path, "a0.jpg", "a1.jpg", "a2.jpg")
    text = "subject_id,before,after,gais\nS1,img/a0.jpg,img/a1.jpg,3\nS1,img/a0.jpg,img/a2.jpg,4\n"
    ratings = read_ratings(_write(tmp_path, text))
    assert ratings.raters == [""]


@pytest.mark.parametrize("text,grade", [("1", 1), ("5", 5), ("+3", 3), ("Very much improved", 1),
                                        ("IMPROVED", 3), ("no change", 4)])
def test_parse_grade(text, grade):
    assert parse_grade(text) == grade


@pytest.mark.parametrize("text", ["0", "6", "-1", "3.5", "better", "", "+3 much improved"])
def test_parse_grade_refuses(text):
    with pytest.raises(ValueError):
        parse_grade(text)


def test_all_problems_at_once_with_line_numbers(tmp_path):
    _images(tmp_path, "a0.jpg", "a1.jpg", "a2.jpg", "c0.jpg", "c1.jpg")
    text = ("subject_id,before,after,gais,rater_id,comment\n"
            "S1,img/a0.jpg,img/a1.jpg,7,R1,\n"                 # 2: grade outside 1-5
            "S1,img/a0.jpg,img/a2.jpg,Superb,R1,\n"            # 3: unknown label
            "S1,img/a0.jpg,img/missing.jpg,3,R1,\n"            # 4: missing image
            "S2,img/c0.jpg,img/c1.jpg,3,R1,\n"                 # 5: S2 has one pair
            "S1,img/a0.jpg,img/a2.jpg,3,,\n")                  # 6: empty rater
    with pytest.raises(RatingsError) as info:
        read_ratings(_write(tmp_path, text))
    problems = info.value.problems
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "ratings.csv"))
    assert any(p.startswith("line 1: unknown column 'comment'") for p in problems)
    assert any(p.startswith("line 2: gais: grade 7 is outside 1–5") for p in problems)
    assert any(p.startswith("line 3: gais: 'Superb'") for p in problems)
    assert any(p.startswith("line 4: after image 'img/missing.jpg' not found") for p in problems)
    assert any(p.startswith("line 5: subject 'S2' has 1 rated pair") for p in problems)
    assert any(p.startswith("line 6: empty rater_id") for p in problems)
    assert len(problems) == 6
    lines = [int(p.split(":")[0].split()[1].rstrip(",")) for p in problems]
    assert lines == sorted(lines)


def test_missing_columns_stop_early(tmp_path):
    with pytest.raises(RatingsError, match=r"line 1: missing columns after, gais"):
        read_ratings(_write(tmp_path, "subject_id,before\nS1,a.jpg\n"))


def test_duplicate_rating_and_pair_under_two_subjects(tmp_path):
    _images(tmp_path, "a0.jpg", "a1.jpg", "a2.jpg")
    text = ("subject_id,before,after,gais,rater_id\n"
            "S1,img/a0.jpg,img/a1.jpg,3,R1\n"
            "S1,img/a0.jpg,img/a2.jpg,3,R1\n"
            "S1,img/a0.jpg,img/a1.jpg,2,R1\n"
            "S9,img/a0.jpg,img/a2.jpg,3,R2\n")
    with pytest.raises(RatingsError) as info:
        read_ratings(_write(tmp_path, text))
    text = str(info.value)
    assert "line 4: the same pair is rated again by rater 'R1' (first on line 2)" in text
    assert "line 5: this pair belongs to subject 'S1' on line 3, not 'S9'" in text


@pytest.mark.parametrize("content,problem", [
    (b"", "the file is empty"),
    (b"subject_id,before,after,gais\n", "no ratings below the header"),
    (b"\xff\xfe\x00bad", "not UTF-8"),
])
def test_empty_or_not_text(tmp_path, content, problem):
    path = tmp_path / "r.csv"
    path.write_bytes(content)
    with pytest.raises(RatingsError, match=problem):
        read_ratings(path)


def test_missing_file(tmp_path):
    with pytest.raises(RatingsError, match="cannot read the file"):
        read_ratings(tmp_path / "nope.csv")


def test_images_not_checked_when_asked(tmp_path):
    text = "subject_id,before,after,gais\nS1,x0.jpg,x1.jpg,3\nS1,x0.jpg,x2.jpg,4\n"
    assert len(read_ratings(_write(tmp_path, text), check_images=False).rows) == 2
