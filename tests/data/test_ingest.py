"""Importer: canonical CSV end to end, types, time zones, idempotence, upsert, formats, CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from levier.cli import app
from levier.data.ingest import ImportResult, import_file
from levier.errors import OptionError

T = dt.datetime

TOUCHES_CSV = """touch_id,lead_id,at,channel,direction,owner,outcome,campaign_id
t1,L1,2024-01-05 10:20:00,email,out,Ann,delivered,c1
t2,L1,2024-07-01 12:00:00,Call,IN,Bob,no_answer,
t3,L2,2024-07-01T12:00:00Z,call,out,,,c2
"""


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    """Messages are asserted in English (the source language)."""
    monkeypatch.setenv("LEVIER_LANG", "en")


def _rows(ws, table: str, cols: str = "*", order: str = "1") -> list[tuple]:
    quoted = ", ".join(c if c == "*" else f'"{c.strip()}"' for c in cols.split(","))
    return ws.facts.con.con.execute(f"SELECT {quoted} FROM {table} ORDER BY {order}").fetchall()


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_canonical_csv_end_to_end(workspace, tmp_path):
    path = write(tmp_path, "touches.csv", TOUCHES_CSV)
    seen: list[str] = []
    result = import_file(workspace, path, "touches", progress=lambda phase, f: seen.append(phase))
    assert isinstance(result, ImportResult)
    assert (result.rows_read, result.rows_inserted, result.rows_replaced, result.batch_id) == (3, 3, 0, 1)
    assert not result.skipped_as_duplicate_file
    assert result.dialect.delimiter == "," and result.dialect.encoding == "utf-8"
    assert seen[0] == "read" and seen[-1] == "write" and {"convert", "check"} <= set(seen)
    rows = _rows(workspace, "touches", "touch_id, lead_id, at, channel, direction, owner, outcome, campaign_id, _row_id, _batch")
    assert rows == [
        ("t1", "L1", T(2024, 1, 5, 9, 20), "email", "out", "Ann", "delivered", "c1", 2, 1),  # Paris winter: UTC+1
        ("t2", "L1", T(2024, 7, 1, 10, 0), "call", "in", "Bob", "no_answer", None, 3, 1),  # summer: UTC+2; enums lower-cased
        ("t3", "L2", T(2024, 7, 1, 12, 0), "call", "out", None, None, "c2", 4, 1),  # explicit Z: already UTC
    ]
    imp = _rows(workspace, "_imports", "batch_id, table_name, rows_read, rows_inserted, rows_replaced, timezone, file_hash")
    assert imp == [(1, "touches", 3, 3, 0, "Europe/Paris", result.file_hash)]
    d = result.to_dict()
    assert json.loads(json.dumps(d))["rows_inserted"] == 3 and d["dialect"]["columns"][0] == "touch_id"


def test_same_file_twice_is_skipped(workspace, tmp_path):
    path = write(tmp_path, "touches.csv", TOUCHES_CSV)
    first = import_file(workspace, path, "touches")
    second = import_file(workspace, path, "touches")
    assert second.skipped_as_duplicate_file and second.batch_id == first.batch_id and second.rows_inserted == 0
    assert workspace.facts.count("touches") == 3
    assert len(_rows(workspace, "_imports")) == 1
    # A different time zone is a different import of the same file: it replaces the rows.
    third = import_file(workspace, path, "touches", timezone="UTC")
    assert not third.skipped_as_duplicate_file and third.rows_replaced == 3 and workspace.facts.count("touches") == 3
    assert _rows(workspace, "touches", "at", "touch_id")[0] == (T(2024, 1, 5, 10, 20),)


def test_keyed_upsert_replaces_and_counts(workspace, tmp_path):
    import_file(workspace, write(tmp_path, "a.csv", TOUCHES_CSV), "touches")
    newer = "touch_id,lead_id,at,channel\nt2,L1,2024-07-02 09:00,sms\nt9,L3,2024-07-03 09:00,email\n"
    result = import_file(workspace, write(tmp_path, "b.csv", newer), "touches")
    assert (result.rows_inserted, result.rows_replaced, result.batch_id) == (2, 1, 2)
    rows = _rows(workspace, "touches", "touch_id, channel, owner, _batch, _row_id", "touch_id")
    assert rows == [("t1", "email", "Ann", 1, 2), ("t2", "sms", None, 2, 4 + 2), ("t3", "call", None, 1, 4), ("t9", "email", None, 2, 4 + 3)]


def test_dst_edges_and_timezone_option(workspace, tmp_path):
    text = (
        "touch_id;lead_id;at;channel\n"
        "a;L;31/03/2024 01:59;call\n"  # last minute of winter time → 00:59 UTC
        "b;L;31/03/2024 03:00;call\n"  # first minute of summer time → 01:00 UTC
        "c;L;31/03/2024 02:30;call\n"  # does not exist in Paris: shifted forward by the gap → 01:30 UTC
        "d;L;27/10/2024 01:59;call\n"  # summer time → 23:59 UTC the day before
        "e;L;27/10/2024 02:30;call\n"  # happens twice: read as the second one (standard time) → 01:30 UTC
        "f;L;27/10/2024 03:00;call\n"  # winter time → 02:00 UTC
        "g;L;27/10/2024;call\n"  # a date alone is local midnight
        "h;L;45292.4375;call\n"  # Excel serial: 2024-01-01 10:30 local
        "i;L;2024-06-01T10:00:00+05:30;call\n"  # explicit offset wins over the time zone
    )
    import_file(workspace, write(tmp_path, "dst.csv", text), "touches")
    got = dict(_rows(workspace, "touches", "touch_id, at"))
    assert got == {
        "a": T(2024, 3, 31, 0, 59), "b": T(2024, 3, 31, 1, 0), "c": T(2024, 3, 31, 1, 30),
        "d": T(2024, 10, 26, 23, 59), "e": T(2024, 10, 27, 1, 30), "f": T(2024, 10, 27, 2, 0),
        "g": T(2024, 10, 26, 22, 0), "h": T(2024, 1, 1, 9, 30), "i": T(2024, 6, 1, 4, 30),
    }


def test_new_york_timezone_and_date_format(workspace, tmp_path):
    text = "touch_id,lead_id,at,channel\nx,L,03/10/2024 03:30,call\ny,L,11/03/2024 01:30,call\n"
    import_file(workspace, write(tmp_path, "us.csv", text), "touches", timezone="America/New_York", date_format="%m/%d/%Y %H:%M")
    got = dict(_rows(workspace, "touches", "touch_id, at"))
    assert got == {"x": T(2024, 3, 10, 7, 30), "y": T(2024, 11, 3, 6, 30)}  # EDT then (second 01:30) EST


def test_types_booleans_decimal_comma_and_latin1(workspace, tmp_path):
    text = (
        "lead_id;created_at;owner;score;vip;litigation;do_not_contact;channel;company_size\n"
        "L1;05/01/2024 10:20;Hélène Müller;12,5;oui;non;vrai;Inbound;SMB\n"
        "L2;06/01/2024;Zoë Œuvre;1 234,75;1;0;faux;;\n"
        "L3;07/01/2024 08:00:05;José;;Yes;No;;partner;Enterprise\n"
        "L4;08/01/2024 08:00;Ann;-3;true;false;FALSE;outbound;mid\n"
    )
    result = import_file(workspace, write(tmp_path, "leads.csv", text, "cp1252"), "leads")
    assert result.dialect.encoding == "cp1252" and result.dialect.decimal == "," and result.dialect.delimiter == ";"
    rows = _rows(workspace, "leads", "lead_id, created_at, owner, score, vip, litigation, do_not_contact, channel, company_size")
    assert rows == [
        ("L1", T(2024, 1, 5, 9, 20), "Hélène Müller", 12.5, True, False, True, "inbound", "smb"),
        ("L2", T(2024, 1, 5, 23, 0), "Zoë Œuvre", 1234.75, True, False, False, None, None),
        ("L3", T(2024, 1, 7, 7, 0, 5), "José", None, True, False, None, "partner", "enterprise"),
        ("L4", T(2024, 1, 8, 7, 0), "Ann", -3.0, True, False, False, "outbound", "mid"),
    ]


def test_options_override_detection(workspace, tmp_path):
    text = "touch_id|lead_id|at|channel\nt1|L1|2024-01-05 10:20|email\n"
    result = import_file(workspace, write(tmp_path, "pipe.txt", text), "touches", delimiter="|", timezone="UTC")
    assert result.dialect.delimiter == "|" and "delimiter" not in result.dialect.detected
    tab = "touch_id\tlead_id\tat\tchannel\nt2\tL1\t2024-01-05 10:20\temail\n"
    assert import_file(workspace, write(tmp_path, "tab.tsv", tab, "utf-16"), "touches").dialect.delimiter == "\t"
    with pytest.raises(OptionError, match="--decimal"):
        import_file(workspace, write(tmp_path, "x.csv", TOUCHES_CSV), "touches", decimal=";")
    with pytest.raises(OptionError, match="Unknown time zone"):
        import_file(workspace, write(tmp_path, "y.csv", TOUCHES_CSV), "touches", timezone="Mars/Base")


def test_xlsx_with_dates_and_numbers(workspace, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["deal_id", "created_at", "amount", "won", "closed_at", "currency"])
    ws.append(["D1", dt.datetime(2024, 5, 2, 14, 0), 1500, True, 45432.5, "EUR"])  # serial 45432.5 = 2024-05-20 12:00
    ws.append([42, "02/05/2024 09:00", 99.5, False, None, "USD"])
    ws.append([None, None, None, None, None, None])  # empty row: ignored
    path = tmp_path / "deals.xlsx"
    wb.save(path)
    result = import_file(workspace, path, "deals")
    assert result.dialect.format == "xlsx" and result.rows_read == 2
    rows = _rows(workspace, "deals", "deal_id, created_at, amount, won, closed_at, currency, _row_id")
    assert rows == [
        ("42", T(2024, 5, 2, 7, 0), 99.5, False, None, "USD", 3),
        ("D1", T(2024, 5, 2, 12, 0), 1500.0, True, T(2024, 5, 20, 10, 0), "EUR", 2),
    ]


def test_parquet_typed_columns(workspace, tmp_path):
    table = pa.table({
        "date": pa.array([dt.date(2024, 1, 1), dt.date(2024, 1, 2)]),
        "source": ["google_ads", "linkedin"],
        "campaign_id": ["c1", None],
        "cost": [12.25, 3.0],
        "currency": ["EUR", "EUR"],
    })
    path = tmp_path / "spend.parquet"
    pq.write_table(table, path)
    result = import_file(workspace, path, "spend")
    assert result.dialect.format == "parquet"
    assert _rows(workspace, "spend", "date, source, campaign_id, cost, _row_id") == [
        (dt.date(2024, 1, 1), "google_ads", "c1", 12.25, 1), (dt.date(2024, 1, 2), "linkedin", None, 3.0, 2)]


def test_parquet_timestamptz_is_converted_from_utc(workspace, tmp_path):
    at = pa.array([dt.datetime(2024, 7, 1, 12, 0, tzinfo=dt.UTC)], type=pa.timestamp("us", tz="UTC"))
    path = tmp_path / "touches.parquet"
    pq.write_table(pa.table({"touch_id": ["t1"], "lead_id": ["L"], "at": at, "channel": ["call"]}), path)
    import_file(workspace, path, "touches")
    assert _rows(workspace, "touches", "at") == [(T(2024, 7, 1, 12, 0),)]


def test_cli_import_text_and_json(workspace, tmp_path, runner):
    path = write(tmp_path, "touches.csv", TOUCHES_CSV)
    res = runner.invoke(app, ["import", str(path), "--table", "touches", "-w", str(workspace.path), "--json", "--no-validate"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["rows_inserted"] == 3 and payload["table"] == "touches" and payload["validation"] is None
    assert set(payload) >= {"batch_id", "file_hash", "rows_read", "rows_replaced", "skipped_as_duplicate_file", "dialect", "warnings", "validation_note"}
    again = runner.invoke(app, ["import", str(path), "--table", "touches", "-w", str(workspace.path), "--no-validate"], env={"LEVIER_LANG": "en"})
    assert again.exit_code == 0 and "Already imported" in again.stdout


def test_cli_error_is_one_line_not_traceback(workspace, tmp_path, runner):
    path = write(tmp_path, "touches.csv", "touch_id,lead_id,at,channel\nt1,L1,hier,email\n")
    res = runner.invoke(app, ["import", str(path), "--table", "touches", "-w", str(workspace.path)], env={"LEVIER_LANG": "en"})
    assert res.exit_code == 1
    assert "Error:" in res.stderr and "row 2: 'hier'" in res.stderr and "Traceback" not in res.output
