"""The batch's tables, built from its per-pair records.

- ``assessments.csv`` / ``.parquet``: one row per subject × follow-up visit ×
  view; the contract's columns first, then context. A failed pair is a row
  with its ``error``.
- ``regions.parquet``: long format, one row per subject × visit × view ×
  region × feature, with ``before``, ``after`` and ``change``.

Rows follow the manifest's order, so the tables do not depend on which
worker finished first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from outcomes.batch.stats import PairResult

CONTRACT_COLUMNS = ("subject_id", "visit", "view", "gais_grade", "gais_label", "improvement_score", "pih_flag",
                    "fitzpatrick", "fitzpatrick_source", "ita_deg_before", "qc_usable", "error")
EXTRA_COLUMNS = ("visit_day", "baseline_visit", "wrinkle_component", "laxity_component", "pih_severity",
                 "pih_area_fraction", "ita_category_before", "regions_scored", "qc_flags", "gais_scorer",
                 "before_image", "after_image")
ASSESSMENT_COLUMNS = CONTRACT_COLUMNS + EXTRA_COLUMNS
REGION_COLUMNS = ("subject_id", "visit", "visit_day", "view", "region", "side", "feature", "before", "after",
                  "change", "fitzpatrick", "ita_deg_before")
# regions[...] keys of the assessment JSON → feature name in regions.parquet
REGION_FEATURES = {"wrinkle": ("wrinkle_before", "wrinkle_after"), "laxity": ("laxity_before", "laxity_after")}
WRINKLE_DETAIL_FEATURES = ("area_fraction", "length_per_cm2", "depth")


def assessment_row(record: dict) -> dict:
    """One ``assessments.csv`` row from a per-pair record."""
    b = record["batch"]
    row = dict.fromkeys(ASSESSMENT_COLUMNS)
    row.update(subject_id=b["subject_id"], visit=b["visit"], view=b["view"], error=b.get("error") or "",
               visit_day=b.get("visit_day"), baseline_visit=b.get("baseline_visit"),
               before_image=b.get("before_image"), after_image=b.get("after_image"))
    if row["error"]:
        row["fitzpatrick"] = b.get("fitzpatrick_reported")
        row["fitzpatrick_source"] = "reported" if row["fitzpatrick"] else None
        return row
    gais, skin, pih, qc = record["gais"], record["skin"], record["pih"], record["qc"]
    row.update(
        gais_grade=gais["grade"], gais_label=gais["label"], improvement_score=gais["improvement_score"],
        pih_flag=pih["flag"], fitzpatrick=skin["fitzpatrick"], fitzpatrick_source=skin["fitzpatrick_source"],
        ita_deg_before=skin["ita_deg_before"], qc_usable=qc["usable"],
        wrinkle_component=gais["components"]["wrinkle"], laxity_component=gais["components"]["laxity"],
        pih_severity=pih["severity"], pih_area_fraction=pih["area_fraction"],
        ita_category_before=skin["ita_category_before"], regions_scored=len(record["regions"]),
        qc_flags="; ".join(qc["flags"]), gais_scorer=gais.get("scorer"),
    )
    return row


def region_rows(record: dict) -> list[dict]:
    """Long-format rows of one record's regions (none for a failed pair)."""
    b = record["batch"]
    if b.get("error"):
        return []
    skin = record["skin"]
    common = {"subject_id": b["subject_id"], "visit": b["visit"], "visit_day": b.get("visit_day"),
              "view": b["view"], "fitzpatrick": skin["fitzpatrick"], "ita_deg_before": skin["ita_deg_before"]}
    rows = []
    for region, values in record["regions"].items():
        side = "right" if region.endswith("_right") else "left" if region.endswith("_left") else "midline"

        def add(feature: str, before: float | None, after: float | None) -> None:
            change = None if before is None or after is None else round(after - before, 6)
            rows.append({**common, "region": region, "side": side, "feature": feature, "before": before,
                         "after": after, "change": change})

        for feature, (kb, ka) in REGION_FEATURES.items():
            if values.get(kb) is not None or values.get(ka) is not None:
                add(feature, values.get(kb), values.get(ka))
        for detail in WRINKLE_DETAIL_FEATURES:
            add(f"wrinkle_{detail}", values["wrinkle_detail_before"].get(detail),
                values["wrinkle_detail_after"].get(detail))
    return rows


def pair_result(record: dict) -> PairResult:
    """The statistics' view of one record."""
    b = record["batch"]
    if b.get("error"):
        return PairResult(b["subject_id"], b["visit"], b["view"], b.get("visit_day"), error=b["error"],
                          usable=False, fitzpatrick=b.get("fitzpatrick_reported"))
    both = [(r["wrinkle_before"], r["wrinkle_after"]) for r in record["regions"].values()
            if r["wrinkle_before"] is not None and r["wrinkle_after"] is not None]
    wb = sum(x for x, _ in both) / len(both) if both else None
    wa = sum(y for _, y in both) / len(both) if both else None
    return PairResult(
        subject_id=b["subject_id"], visit=b["visit"], view=b["view"], visit_day=b.get("visit_day"),
        grade=record["gais"]["grade"], pih=bool(record["pih"]["flag"]), fitzpatrick=record["skin"]["fitzpatrick"],
        ita_category=record["skin"]["ita_category_before"], usable=bool(record["qc"]["usable"]),
        wrinkle_before=wb, wrinkle_after=wa,
    )


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def write_tables(records: Sequence[dict], out_dir: str | Path) -> dict[str, Path]:
    """Write ``assessments.csv``, ``assessments.parquet`` and ``regions.parquet`` (atomically)."""
    import csv
    import io

    import pandas as pd

    from outcomes.io import write_bytes

    out = Path(out_dir)
    rows = [assessment_row(r) for r in records]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(ASSESSMENT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _csv_value(v) for k, v in row.items()} for row in rows)
    paths = {"assessments_csv": write_bytes(out / "assessments.csv", text.getvalue().encode())}
    frame = pd.DataFrame(rows, columns=list(ASSESSMENT_COLUMNS)).astype({
        "gais_grade": "Int64", "regions_scored": "Int64", "pih_flag": "boolean", "qc_usable": "boolean",
        "improvement_score": "Float64", "ita_deg_before": "Float64", "visit_day": "Float64",
        "wrinkle_component": "Float64", "laxity_component": "Float64", "pih_area_fraction": "Float64",
    })
    paths["assessments_parquet"] = write_bytes(out / "assessments.parquet", _parquet(frame))
    regions = pd.DataFrame([r for rec in records for r in region_rows(rec)], columns=list(REGION_COLUMNS)).astype(
        {"before": "Float64", "after": "Float64", "change": "Float64", "visit_day": "Float64",
         "ita_deg_before": "Float64"})
    paths["regions_parquet"] = write_bytes(out / "regions.parquet", _parquet(regions))
    return paths


def _parquet(frame) -> bytes:  # noqa: ANN001 - pandas.DataFrame
    """The frame as Parquet bytes, written by fastparquet (pyarrow is ten times its size).

    Read back with ``pandas.read_parquet`` (pyarrow or fastparquet) or any Parquet reader.
    """
    import tempfile

    import fastparquet

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.parquet"
        fastparquet.write(str(path), frame, write_index=False)
        return path.read_bytes()
