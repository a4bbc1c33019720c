"""Hypothesis round trips: tables written as real exports come (French and English conventions)
import back to the same values — timestamps converted from Europe/Paris to UTC exactly."""

from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levier.data.ingest import import_file
from levier.workspace import create_workspace

PARIS = ZoneInfo("Europe/Paris")
UTC = dt.UTC
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Latin-1-encodable names, with the characters that force CSV quoting.
NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéèêëàâçôöûüÿÉÈÀÇñß' -;,\""
names = st.text(NAME_CHARS, min_size=1, max_size=12).map(str.strip).filter(lambda s: s and s.lower() not in ("-", "na", "n/a", "nan", "null", "none"))
ids = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=8)
local_times = st.datetimes(min_value=dt.datetime(2001, 1, 1), max_value=dt.datetime(2035, 12, 31))
CHANNELS = ("email", "call", "sms", "social", "meeting", "mail", "other")


def paris_to_utc(local: dt.datetime) -> dt.datetime:
    """Reference conversion: DST gaps shift forward; the repeated hour is read as its 2nd occurrence."""
    first, second = local.replace(tzinfo=PARIS, fold=0), local.replace(tzinfo=PARIS, fold=1)
    chosen = first
    if first.utcoffset() != second.utcoffset():
        exists = first.astimezone(UTC).astimezone(PARIS).replace(tzinfo=None) == local
        chosen = second if exists else first
    return chosen.astimezone(UTC).replace(tzinfo=None)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = create_workspace(tmp_path_factory.mktemp("roundtrip") / "ws", timezone="Europe/Paris")
    yield w
    w.close()


def _reset(ws) -> None:
    for t in ("touches", "leads", "_imports"):
        ws.facts.con.con.execute(f"DELETE FROM {t}")


def _csv(rows: list[list[str]], delimiter: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


touch_rows = st.lists(
    st.tuples(ids, ids, local_times, st.sampled_from(CHANNELS), st.sampled_from(("out", "in", None)), st.one_of(st.none(), names)),
    min_size=1, max_size=30, unique_by=lambda r: r[0],
)


@SETTINGS
@given(rows=touch_rows, french=st.booleans(), bom=st.booleans())
def test_touches_round_trip(ws, tmp_path, rows, french, bom):
    _reset(ws)
    fmt, delimiter, encoding = ("%d/%m/%Y %H:%M", ";", "latin-1") if french else ("%Y-%m-%dT%H:%M:%S", ",", "utf-8-sig" if bom else "utf-8")
    rows = [(t, lead, at.replace(microsecond=0, second=0 if french else at.second), ch, d, o) for t, lead, at, ch, d, o in rows]
    header = ["touch_id", "lead_id", "at", "channel", "direction", "owner"]
    body = [[t, lead, at.strftime(fmt), ch.upper() if i % 2 else ch, d or "", o or ""] for i, (t, lead, at, ch, d, o) in enumerate(rows)]
    path = tmp_path / "touches.csv"
    path.write_bytes(_csv([header, *body], delimiter).encode(encoding))
    result = import_file(ws, path, "touches")
    assert result.rows_inserted == len(rows) and result.dialect.delimiter == delimiter
    got = ws.facts.con.con.execute('SELECT touch_id, lead_id, "at", channel, direction, owner FROM touches ORDER BY touch_id').fetchall()
    expected = sorted((t, lead, paris_to_utc(at), ch, d, o) for t, lead, at, ch, d, o in rows)
    assert got == expected


lead_rows = st.lists(
    st.tuples(ids, local_times, st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)), st.one_of(st.none(), st.booleans()), names),
    min_size=1, max_size=30, unique_by=lambda r: r[0],
)


def _french_number(x: float) -> str:
    return repr(x).replace(".", ",")


@SETTINGS
@given(rows=lead_rows, french=st.booleans())
def test_leads_round_trip(ws, tmp_path, rows, french):
    _reset(ws)
    yes, no = ("oui", "non") if french else ("true", "false")
    fmt, delimiter, encoding = ("%d/%m/%Y %H:%M", ";", "cp1252") if french else ("%Y-%m-%d %H:%M:%S", ",", "utf-8")
    rows = [(lid, at.replace(microsecond=0, second=0 if french else at.second), score, vip, owner) for lid, at, score, vip, owner in rows]
    body = [[lid, at.strftime(fmt), "" if s is None else (_french_number(s) if french else repr(s)), "" if v is None else (yes if v else no), o]
            for lid, at, s, v, o in rows]
    path = tmp_path / "leads.csv"
    path.write_bytes(_csv([["lead_id", "created_at", "score", "vip", "owner"], *body], delimiter).encode(encoding))
    result = import_file(ws, path, "leads")
    if french and any(s is not None and "." in repr(s) for _l, _a, s, _v, _o in rows):
        assert result.dialect.decimal == ","
    got = ws.facts.con.con.execute("SELECT lead_id, created_at, score, vip, owner FROM leads ORDER BY lead_id").fetchall()
    assert got == sorted((lid, paris_to_utc(at), s, v, o) for lid, at, s, v, o in rows)
