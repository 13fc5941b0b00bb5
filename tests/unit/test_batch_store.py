"""The batch output folder (resume bookkeeping) and its tables, on hand-made records."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote

import fastparquet
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from outcomes.batch.jobs import PairOutcome, PairTask
from outcomes.batch.store import ResultStore, key_stem
from outcomes.batch.tables import (
    ASSESSMENT_COLUMNS,
    CONTRACT_COLUMNS,
    assessment_row,
    pair_result,
    region_rows,
    write_tables,
)
from outcomes.errors import BatchError

IDENTITY = {"package_version": "0.1.0", "config_sha256": "c" * 64, "wrinkle_detector": "classical",
            "wrinkle_cnn_sha256": None, "gais_scorer_sha256": None, "mediapipe": "0.10.14"}


def _task(subject: str = "S1", visit: str = "day90", sha: str = "a") -> PairTask:
    return PairTask(subject, visit, "frontal", "baseline", 90.0, 0.0, 3, f"/x/{subject}_b.jpg", f"/x/{subject}_f.jpg",
                    f"{subject}_b.jpg", f"{subject}_f.jpg", sha * 64, "f" * 64, "IV")


def _success_record(task: PairTask, config_sha: str = "c" * 64) -> dict:
    regions = {
        "cheek_left": {"wrinkle_before": 1.0, "wrinkle_after": 0.6, "laxity_before": None, "laxity_after": None,
                       "wrinkle_detail_before": {"area_fraction": 0.1, "length_per_cm2": 2.0, "depth": 3.0},
                       "wrinkle_detail_after": {"area_fraction": 0.05, "length_per_cm2": 1.0, "depth": 2.0}},
        "nasolabial_right": {"wrinkle_before": 0.5, "wrinkle_after": 0.5, "laxity_before": 4.0, "laxity_after": 3.0,
                             "wrinkle_detail_before": {}, "wrinkle_detail_after": {}},
    }
    return {
        "schema_version": "1",
        "gais": {"grade": 2, "label": "Much improved", "improvement_score": 0.33,
                 "components": {"wrinkle": 0.3, "laxity": 0.25}, "scorer": "default:default-1"},
        "skin": {"ita_deg_before": 12.5, "ita_category_before": "tan", "fitzpatrick": "IV",
                 "fitzpatrick_source": "reported"},
        "pih": {"flag": False, "severity": "none", "area_fraction": 0.0},
        "regions": regions,
        "qc": {"usable": True, "flags": []},
        "provenance": {"config_sha256": config_sha},
        "batch": {**task.batch_fields(), "error": None, "seconds": 1.0, "worker": "h:1"},
    }


def _error_record(task: PairTask) -> dict:
    return {"schema_version": "1", "batch": {**task.batch_fields(), "error": "S1_f.jpg: no face found",
                                             "seconds": 0.2, "worker": "h:1"}}


@given(st.lists(st.text(min_size=1, max_size=8), min_size=3, max_size=3),
       st.lists(st.text(min_size=1, max_size=8), min_size=3, max_size=3))
def test_key_stem_is_a_safe_reversible_file_name(a, b):
    stem = key_stem(tuple(a))
    assert "/" not in stem and "\\" not in stem and "\0" not in stem
    assert [unquote(p) for p in stem.split("__")] == a
    assert (stem == key_stem(tuple(b))) == (a == b)


def test_open_refuses_an_existing_job_without_resume_and_a_different_one_with_it(tmp_path):
    store = ResultStore(tmp_path / "out")
    assert store.open(IDENTITY, resume=False) is False
    with pytest.raises(BatchError, match="holds a batch job already.*--resume"):
        ResultStore(tmp_path / "out").open(IDENTITY, resume=False)
    assert ResultStore(tmp_path / "out").open(IDENTITY, resume=True) is True
    with pytest.raises(BatchError, match=r"cannot resume.*config_sha256 'c+' -> 'd+'"):
        ResultStore(tmp_path / "out").open({**IDENTITY, "config_sha256": "d" * 64}, resume=True)


def test_resume_into_an_empty_folder_starts_afresh(tmp_path):
    assert ResultStore(tmp_path / "new").open(IDENTITY, resume=True) is False


def _save(store: ResultStore, record: dict, thumbnail: bytes | None = b"jpeg") -> None:
    task = _task(record["batch"]["subject_id"], record["batch"]["visit"])
    store.save(PairOutcome(task, record, thumbnail, "h:1", 100.0))


def test_a_saved_record_is_finished_until_a_photo_or_the_config_changes(tmp_path):
    store = ResultStore(tmp_path)
    store.open(IDENTITY, resume=False)
    task = _task()
    assert store.finished(task, "c" * 64) is None
    _save(store, _success_record(task))
    assert store.thumbnail_path(task.key).read_bytes() == b"jpeg"
    assert store.finished(task, "c" * 64)["gais"]["grade"] == 2
    assert store.finished(_task(sha="b"), "c" * 64) is None  # the baseline photo was replaced
    assert store.finished(task, "e" * 64) is None  # assessed with another configuration


def test_torn_or_foreign_records_are_redone(tmp_path):
    store = ResultStore(tmp_path)
    store.open(IDENTITY, resume=False)
    task = _task()
    store.record_path(task.key).write_text('{"gais": {"gra')
    assert store.finished(task, "c" * 64) is None
    store.record_path(task.key).write_text(json.dumps(_success_record(_task("S2"))))
    assert store.finished(task, "c" * 64) is None


def test_an_error_record_is_finished_and_drops_an_old_thumbnail(tmp_path):
    store = ResultStore(tmp_path)
    store.open(IDENTITY, resume=False)
    task = _task()
    _save(store, _success_record(task))
    _save(store, _error_record(task), thumbnail=None)
    assert not store.thumbnail_path(task.key).exists()
    assert store.finished(task, "c" * 64)["batch"]["error"].endswith("no face found")


def test_assessment_rows_have_the_contract_columns_first():
    ok, bad = assessment_row(_success_record(_task())), assessment_row(_error_record(_task("S2")))
    assert tuple(ok)[: len(CONTRACT_COLUMNS)] == CONTRACT_COLUMNS
    assert (ok["gais_grade"], ok["pih_flag"], ok["fitzpatrick"], ok["error"], ok["regions_scored"]) == \
        (2, False, "IV", "", 2)
    assert bad["gais_grade"] is None and bad["error"].endswith("no face found")
    assert (bad["fitzpatrick"], bad["fitzpatrick_source"]) == ("IV", "reported")


def test_region_rows_are_long_format_with_change():
    rows = region_rows(_success_record(_task()))
    by = {(r["region"], r["feature"]): r for r in rows}
    assert by[("cheek_left", "wrinkle")]["change"] == pytest.approx(-0.4)
    assert by[("cheek_left", "wrinkle")]["side"] == "left"
    assert by[("nasolabial_right", "laxity")]["change"] == pytest.approx(-1.0)
    assert ("cheek_left", "laxity") not in by  # not measured there
    assert by[("nasolabial_right", "wrinkle_depth")]["before"] is None
    assert region_rows(_error_record(_task())) == []


def test_pair_result_averages_wrinkles_over_regions_scored_twice():
    r = pair_result(_success_record(_task()))
    assert (r.wrinkle_before, r.wrinkle_after, r.grade, r.counted) == (0.75, 0.55, 2, True)
    assert not pair_result(_error_record(_task())).counted


def test_written_tables_read_back_typed(tmp_path: Path):
    records = [_success_record(_task("S1")), _error_record(_task("S2"))]
    write_tables(records, tmp_path)
    csv = pd.read_csv(tmp_path / "assessments.csv", keep_default_na=False)
    assert list(csv.columns) == list(ASSESSMENT_COLUMNS)
    assert list(csv["subject_id"]) == ["S1", "S2"] and list(csv["pih_flag"]) == ["false", ""]
    table = fastparquet.ParquetFile(tmp_path / "assessments.parquet").to_pandas()
    assert str(table["gais_grade"].dtype) == "Int64" and table["gais_grade"].isna().tolist() == [False, True]
    regions = fastparquet.ParquetFile(tmp_path / "regions.parquet").to_pandas()
    assert set(regions["subject_id"]) == {"S1"} and len(regions) == 4 + 5  # cheek: 4 wrinkle features; fold: + laxity
    assert list(regions.columns)[:7] == ["subject_id", "visit", "visit_day", "view", "region", "side", "feature"]


def test_pairs_are_grouped_by_baseline_photo_in_manifest_order():
    from outcomes.batch.jobs import group_by_baseline

    tasks = [_task("S1", "day30"), _task("S2", "day30"), _task("S1", "day90"), _task("S2", "day90", sha="b")]
    assert group_by_baseline(tasks) == [[tasks[0], tasks[2]], [tasks[1]], [tasks[3]]]
    assert group_by_baseline([]) == []
