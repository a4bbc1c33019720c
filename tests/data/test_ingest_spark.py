"""The importer on a PySpark facts engine (parse in DuckDB, write through Ibis): same rows as DuckDB."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from levier.data.ingest import import_file
from levier.workspace import create_workspace

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]

FIRST = "touch_id;lead_id;at;channel;direction;owner\nt1;L1;05/01/2024 10:20;Email;out;Hélène\nt2;L1;27/10/2024 02:30;call;in;Zoé\n"
SECOND = "touch_id,lead_id,at,channel\nt2,L1,2024-07-01T12:00:00Z,sms\nt3,L2,2024-03-31 03:00,meeting\n"


@pytest.fixture(scope="module")
def spark(tmp_path_factory) -> Any:
    """The shared local session (same settings as tests/parity/conftest.py; never stopped here)."""
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[1]").appName("levier-parity")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false").config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def _rows(ws) -> list[tuple]:
    t = ws.facts.raw("touches")
    df = t.select("touch_id", "lead_id", "at", "channel", "direction", "owner", "_row_id", "_batch").order_by("touch_id").to_pyarrow()
    return [tuple(r.values()) for r in df.to_pylist()]


def test_import_on_spark_matches_duckdb(spark, tmp_path):
    database = f"levier_ingest_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE {database}")
    spark.catalog.setCurrentDatabase(database)
    sws = create_workspace(tmp_path / "spark", facts_url="pyspark://local[1]", timezone="Europe/Paris")
    dws = create_workspace(tmp_path / "duck", timezone="Europe/Paris")
    (tmp_path / "a.csv").write_bytes(FIRST.encode("cp1252"))
    (tmp_path / "b.csv").write_text(SECOND)
    results = {}
    for name, ws in (("spark", sws), ("duck", dws)):
        a = import_file(ws, tmp_path / "a.csv", "touches")
        b = import_file(ws, tmp_path / "b.csv", "touches")
        again = import_file(ws, tmp_path / "b.csv", "touches")
        results[name] = (a.rows_inserted, b.rows_inserted, b.rows_replaced, b.batch_id, again.skipped_as_duplicate_file)
    assert results["spark"] == results["duck"] == (2, 2, 1, 2, True)
    expected = [
        ("t1", "L1", dt.datetime(2024, 1, 5, 9, 20), "email", "out", "Hélène", 2, 1),
        ("t2", "L1", dt.datetime(2024, 7, 1, 12, 0), "sms", None, None, 3 + 2, 2),
        ("t3", "L2", dt.datetime(2024, 3, 31, 1, 0), "meeting", None, None, 3 + 3, 2),
    ]
    assert _rows(dws) == expected
    assert _rows(sws) == expected
    imports = sws.facts.imports().order_by("batch_id").to_pyarrow().to_pylist()
    assert [(r["batch_id"], r["rows_inserted"], r["rows_replaced"]) for r in imports] == [(1, 2, 0), (2, 2, 1)]
    dws.close()  # never close the Spark workspace: it would stop the shared session
