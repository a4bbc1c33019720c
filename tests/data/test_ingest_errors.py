"""Bad input: each case gives a clear error naming file / row / column, and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from levier.data.ingest import import_file
from levier.data.schema import TABLE_NAMES
from levier.errors import (
    DuplicateKeyError,
    FileFormatError,
    IngestError,
    MissingColumnError,
    SchemaError,
    UnknownValueError,
    ValueParseError,
)
from levier.workspace import create_workspace

GOOD = "touch_id,lead_id,at,channel\nt1,L1,2024-01-05 10:20,email\nt2,L1,2024-01-06 10:20,call\n"


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    base = tmp_path_factory.mktemp("errors")
    w = create_workspace(base / "ws", timezone="Europe/Paris")
    good = base / "good.csv"
    good.write_text(GOOD)
    import_file(w, good, "touches")
    yield w
    w.close()


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    """Messages are asserted in English (the source language)."""
    monkeypatch.setenv("LEVIER_LANG", "en")


def snapshot(ws) -> dict[str, list]:
    con = ws.facts.con.con
    return {t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall() for t in (*TABLE_NAMES, "_imports", "_exclusions", "_journal")}


def fails(ws, tmp_path: Path, content: bytes | str, exc: type[Exception], *patterns: str, table: str = "touches", name: str = "bad.csv", **kw) -> str:
    """Import ``content``; assert the error type, message patterns and an unchanged workspace."""
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    before = snapshot(ws)
    with pytest.raises(exc) as info:
        import_file(ws, path, table, **kw)
    assert snapshot(ws) == before
    assert ws.facts.con.con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone()[0] == 0
    message = str(info.value)
    for p in patterns:
        assert p in message, f"{p!r} not in {message!r}"
    return message


def test_empty_file(ws, tmp_path):
    fails(ws, tmp_path, b"", FileFormatError, "bad.csv is empty")
    fails(ws, tmp_path, b"\xef\xbb\xbf \r\n", FileFormatError, "is empty")


def test_header_only(ws, tmp_path):
    fails(ws, tmp_path, "touch_id,lead_id,at,channel\n", FileFormatError, "header but no data rows", "touch_id, lead_id, at, channel")


def test_truncated_last_line(ws, tmp_path):
    text = "touch_id,lead_id,at,channel\nt1,L1,2024-01-05 10:20,email\nt2,L1,2024-01"
    fails(ws, tmp_path, text, FileFormatError, "row 3", "3 fields where the header has 4", "truncated")


def test_row_with_extra_fields_in_the_middle(ws, tmp_path):
    text = "touch_id,lead_id,at,channel\nt1,L1,2024-01-05 10:20,email,extra\nt2,L1,2024-01-05 10:20,email\n"
    fails(ws, tmp_path, text, FileFormatError, "row 2", "5 fields where the header has 4", "--delimiter")


def test_unterminated_quote(ws, tmp_path):
    fails(ws, tmp_path, 'touch_id,lead_id,at,channel\nt1,"L1,2024-01-05,email\nt2,L,2024-01-05,call\n', FileFormatError, "row 2", "quote")


def test_binary_file(ws, tmp_path):
    fails(ws, tmp_path, b"\x00\x01\x02garbage\x00\xff" * 50, FileFormatError, "binary file", "NUL")
    fails(ws, tmp_path, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, FileFormatError, "old Excel .xls", name="old.xls")
    fails(ws, tmp_path, b"PK\x03\x04 not really a zip", FileFormatError, "cannot be read as XLSX", name="fake.xlsx")


def test_wrong_delimiter_guess(ws, tmp_path):
    text = "touch_id|lead_id|at|channel\nt1|L1|2024-01-05 10:20|email\n"
    fails(ws, tmp_path, text, FileFormatError, "only one column", "comma (,)", "touch_id, lead_id, at, channel", "--delimiter")


def test_missing_required_column(ws, tmp_path):
    text = "touch_id,lead,at,channel\nt1,L1,2024-01-05 10:20,email\n"
    fails(ws, tmp_path, text, MissingColumnError, "lead_id", "The file has the columns: touch_id, lead, at, channel")


def test_duplicate_keys_in_file(ws, tmp_path):
    text = "touch_id,lead_id,at,channel\nt1,L1,2024-01-05 10:20,email\nt5,L1,2024-01-05 10:20,email\nt1,L2,2024-01-06 10:20,call\n"
    fails(ws, tmp_path, text, DuplicateKeyError, "key t1: rows 2, 4", "touch_id")


def test_unparseable_values_name_row_column_value(ws, tmp_path):
    text = (
        "lead_id;created_at;score;vip\n"
        "L1;05/01/2024 10:20;12,5;oui\n"
        "L2;31/02/2024 10:00;abc;peut-être\n"
        "L3;hier;3;non\n"
    )
    msg = fails(ws, tmp_path, text, ValueParseError, "bad.csv", "row 3: '31/02/2024 10:00'", "row 4: 'hier'",
                "column 'created_at' (timestamp): 2 value(s)", "column 'score' (float64): 1", "row 3: 'abc'",
                "column 'vip' (boolean)", "row 3: 'peut-être'", table="leads")
    assert msg.count("row ") >= 5


def test_many_bad_values_show_ten_examples_and_the_total(ws, tmp_path):
    rows = "".join(f"t{i},L1,not a date {i},email\n" for i in range(25))
    msg = fails(ws, tmp_path, "touch_id,lead_id,at,channel\n" + rows, ValueParseError, "25 value(s) cannot be read", "row 2: 'not a date 0'", "row 11: 'not a date 9'")
    assert "not a date 10'" not in msg


def test_empty_required_value(ws, tmp_path):
    fails(ws, tmp_path, "touch_id,lead_id,at,channel\nt1,,2024-01-05 10:20,email\n", ValueParseError, "column 'lead_id': 1 required value(s) empty", "row 2: empty")


def test_unknown_enum_values(ws, tmp_path):
    text = "touch_id,lead_id,at,channel\nt1,L1,2024-01-05 10:20,fax\nt2,L1,2024-01-05 10:20,Email\n"
    fails(ws, tmp_path, text, UnknownValueError, "column 'channel'", "row 2: 'fax'", "allowed: email, call, sms, social, meeting, mail, other")


def test_unknown_table_and_missing_file(ws, tmp_path):
    with pytest.raises(SchemaError, match="Unknown table 'touchs'"):
        import_file(ws, tmp_path / "x.csv", "touchs")
    with pytest.raises(FileFormatError, match="not found"):
        import_file(ws, tmp_path / "missing.csv", "touches")


def test_failure_during_write_rolls_back(ws, tmp_path, monkeypatch):
    """A crash after the DELETE of replaced rows must leave the workspace as it was."""
    import levier.data.ingest.load as load

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(load.BatchInfo, "row", boom)
    text = "touch_id,lead_id,at,channel\nt1,L9,2024-02-05 10:20,sms\nt7,L9,2024-02-05 10:20,sms\n"
    fails(ws, tmp_path, text, RuntimeError, "disk full")
    assert ws.facts.count("touches") == 2


def test_every_ingest_error_is_a_levier_error():
    from levier.errors import LevierError

    for cls in (FileFormatError, MissingColumnError, DuplicateKeyError, ValueParseError, UnknownValueError):
        assert issubclass(cls, IngestError) and issubclass(cls, LevierError)
