"""validate and clean give the same results on DuckDB and on Spark (local mode)."""

from __future__ import annotations

from datetime import datetime

import pytest

from levier.data.clean import clean_workspace
from levier.data.journal import journal_summary
from levier.data.validate import extraction_time, validate_workspace

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def test_extraction_time(parity_check) -> None:  # noqa: ANN001
    duck, _spark = parity_check(lambda ws: list(extraction_time(ws)))
    assert duck == [datetime(2026, 9, 26), "data"]


def test_validate(parity_check) -> None:  # noqa: ANN001
    duck, _spark = parity_check(validate_workspace)
    codes = {(i.code, i.table, i.column): i.count for i in duck.issues}
    assert codes[("future_date", "touches", "at")] == 1
    assert codes[("orphan", "touches", "lead_id")] == 1
    assert codes[("before_2000", "leads", "created_at")] == 1
    assert codes[("out_of_range", "leads", "score")] == 1
    assert codes[("negative_value", "deals", "amount")] == 1
    assert codes[("negative_value", "spend", "cost")] == 1
    assert codes[("orphan", "web_events", "lead_id")] == 6  # L080..L089 do not exist
    shift = duck.by_code("timezone_shift")
    assert [(i.params["owner"], i.params["week"], i.params["shift_hours"]) for i in shift] == [("bob", "2026-W35", -2)]


def test_clean_cleaned_views_and_journal(parity_check) -> None:  # noqa: ANN001
    as_of = datetime(2026, 11, 1)

    def cleaned(ws):  # noqa: ANN001, ANN202
        run = clean_workspace(ws, as_of=as_of)
        t = ws.table("touches")
        return {"run": run.to_dict(),
                "rows": {n: int(ws.table(n).count().execute()) for n in ("leads", "touches", "deals", "spend")},
                "row_id_sum": int(t._row_id.sum().execute()),
                "journal": journal_summary(ws).to_dict()}

    duck, _spark = parity_check(cleaned)
    got = {(e["rule"], e["table_name"], e["category"]): e["rows_affected"] for e in duck["run"]["entries"]}
    assert got[("exact_duplicates", "touches", "duplicate")] == 5
    assert got[("near_duplicates", "touches", "duplicate")] == 4
    assert got[("future_dates", "touches", "impossible")] == 1
    assert got[("orphans", "touches", "missing")] == 1
    assert got[("rep_day_outliers", "touches", "error")] == 260
    assert got[("timezone_shift", "touches", "error")] == 34
    assert got[("stage_skipped", "leads", "missing")] >= 1
    assert {c for (r, _t, c) in got if r == "lead_outliers"} >= {"risk"}
    assert duck["rows"]["touches"] == 928 - 5 - 4 - 1 - 1 - 260
    assert duck["journal"]["excluded"]["touches"] == 271


def test_loaded_data_is_identical(parity_check) -> None:  # noqa: ANN001
    """The harness itself: both engines hold the same rows (counts, NULLs, time sums, text)."""
    from levier.data.schema import TABLES

    def fingerprint(ws):  # noqa: ANN001, ANN202
        out = {}
        for name, spec in TABLES.items():
            t = ws.facts.raw(name)
            aggs = {"n": t.count(), "ids": t._row_id.sum()}
            for col in spec.columns:
                c = t[col.name]
                aggs[f"{col.name}_nulls"] = c.isnull().ifelse(1, 0).sum()
                if col.dtype == "timestamp":
                    aggs[f"{col.name}_s"] = c.epoch_seconds().sum()
                elif col.dtype == "string":
                    aggs[f"{col.name}_len"] = c.length().sum()
                elif col.dtype == "float64":
                    aggs[f"{col.name}_sum"] = c.sum()
            row = t.aggregate(**aggs).execute().iloc[0]
            out[name] = {k: (None if v is None or v != v else float(v)) for k, v in row.items()}
        return out

    duck, _spark = parity_check(fingerprint)
    assert duck["touches"]["n"] == 928.0
