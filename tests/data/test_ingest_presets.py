"""Presets (shipped samples map to the right values) and user mappings (typos are caught)."""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path

import pytest

from levier.data.ingest import import_file, list_presets, load_preset
from levier.errors import MappingError, MissingColumnError, PresetError
from levier.workspace import create_workspace

T = dt.datetime
SAMPLES = Path(str(resources.files("levier.data") / "samples"))


@pytest.fixture(autouse=True)
def _english(monkeypatch):
    monkeypatch.setenv("LEVIER_LANG", "en")


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = create_workspace(tmp_path_factory.mktemp("presets") / "ws", timezone="Europe/Paris")
    yield w
    w.close()


def rows(ws, sql: str) -> list[tuple]:
    return ws.facts.con.con.execute(sql).fetchall()


def test_presets_listed_and_each_has_a_sample():
    assert list_presets() == ("bitrix24", "hubspot", "pipedrive", "salesforce")
    for name in list_presets():
        assert any(p.name.startswith(name) for p in SAMPLES.iterdir()), name
        assert load_preset(name).tables


def test_hubspot_contacts_to_leads_and_stage_events(ws):
    r = import_file(ws, SAMPLES / "hubspot_contacts.csv", "leads", preset="hubspot")
    assert r.dialect.encoding == "utf-8-sig" and r.rows_inserted == 3
    assert "Number of times contacted" in r.unused_columns
    got = rows(ws, "SELECT lead_id, created_at, source, owner, account_id, country, score FROM leads ORDER BY lead_id")
    assert got == [
        ("101", T(2024, 3, 4, 8, 15), "Organic Search", "Claire Martin", "9001", "FR", 72.0),
        ("102", T(2024, 3, 30, 22, 30), "Paid Social", "Paul Leroy", None, "GB", 15.5),
        ("103", T(2024, 10, 27, 1, 30), "Offline Sources", "Claire Martin", "9002", "FR", 90.0),  # ambiguous hour: 2nd
    ]
    r = import_file(ws, SAMPLES / "hubspot_contacts.csv", "stage_events", preset="hubspot")
    assert r.rows_read == 3 and r.rows_inserted == 10
    got = rows(ws, "SELECT stage, \"at\" FROM stage_events WHERE lead_id = '103' ORDER BY 2")
    assert got == [("lead", T(2024, 10, 27, 1, 30)), ("mql", T(2024, 10, 28, 8)), ("sql", T(2024, 10, 29, 8)),
                   ("opportunity", T(2024, 10, 30, 8)), ("won", T(2024, 11, 4, 16, 20))]
    assert rows(ws, "SELECT count(*) FROM stage_events WHERE lead_id = '102'") == [(1,)]


def test_salesforce_leads_stages_and_opportunities(ws):
    import_file(ws, SAMPLES / "salesforce_leads.csv", "leads", preset="salesforce")
    got = rows(ws, "SELECT lead_id, created_at, source, owner, account_id, country FROM leads WHERE lead_id LIKE '00Q%' ORDER BY 1")
    assert got == [
        ("00Q5g000001AbcDEAA", T(2024, 2, 1, 8, 30), "Web", "0055g000000XyZ1AAK", "0015g000004QwErAAK", "FR"),
        ("00Q5g000001AbcEEAA", T(2024, 2, 3, 15, 45, 10), "Partner Referral", "0055g000000XyZ2AAK", None, "GB"),
    ]
    import_file(ws, SAMPLES / "salesforce_leads.csv", "stage_events", preset="salesforce")
    got = rows(ws, "SELECT lead_id, stage, \"at\" FROM stage_events WHERE lead_id LIKE '00Q%' ORDER BY 1, 3")
    assert got == [("00Q5g000001AbcDEAA", "lead", T(2024, 2, 1, 8, 30)), ("00Q5g000001AbcDEAA", "opportunity", T(2024, 2, 9, 23)),
                   ("00Q5g000001AbcEEAA", "lead", T(2024, 2, 3, 15, 45, 10))]
    import_file(ws, SAMPLES / "salesforce_opportunities.csv", "deals", preset="salesforce")
    got = rows(ws, "SELECT deal_id, stage, amount, currency, closed_at, won FROM deals WHERE deal_id LIKE '0065%' ORDER BY 1")
    assert got == [
        ("0065g00000AbC1AAK", "Closed Won", 12500.5, "EUR", T(2024, 3, 14, 23), True),
        ("0065g00000AbC2AAK", "Negotiation", 4000.0, "EUR", None, None),  # open: no close date, no outcome
        ("0065g00000AbC3AAK", "Closed Lost", 900.0, "GBP", T(2024, 3, 31, 22), False),
    ]


def test_pipedrive_activities_keep_done_only(ws):
    r = import_file(ws, SAMPLES / "pipedrive_activities.csv", "touches", preset="pipedrive")
    assert (r.rows_read, r.rows_inserted, r.rows_filtered) == (4, 3, 1)
    got = rows(ws, "SELECT touch_id, lead_id, \"at\", channel, owner FROM touches WHERE touch_id LIKE '50%' ORDER BY 1")
    assert got == [
        ("5001", "Émilie Durand", T(2024, 4, 2, 8, 12), "call", "Claire Martin"),
        ("5002", "Émilie Durand", T(2024, 4, 3, 6, 0), "email", "Claire Martin"),
        ("5004", "Zoé Bernard", T(2024, 4, 4, 22, 0), "meeting", "Paul Leroy"),  # lunch → meeting; due date at local midnight
    ]


def test_bitrix24_activity_codes(ws):
    r = import_file(ws, SAMPLES / "bitrix24_activities.csv", "touches", preset="bitrix24")
    assert r.dialect.encoding == "cp1252" and r.dialect.delimiter == ";" and r.rows_filtered == 2
    got = rows(ws, "SELECT touch_id, lead_id, \"at\", channel, direction, owner FROM touches WHERE touch_id LIKE '900%' ORDER BY 1")
    assert got == [
        ("9001", "41", T(2024, 5, 6, 6, 0), "call", "out", "7"),  # +03:00 offset honoured
        ("9002", "41", T(2024, 5, 7, 11, 20), "email", "in", "7"),  # no START_TIME: CREATED
        ("9005", "42", T(2024, 5, 11, 13, 30), "call", "in", "8"),
    ]


def test_preset_without_the_table(ws):
    with pytest.raises(MappingError, match="no entry for table 'spend'") as info:
        import_file(ws, SAMPLES / "hubspot_contacts.csv", "spend", preset="hubspot")
    assert "leads, stage_events" in str(info.value)


def test_unknown_preset_lists_presets(ws):
    with pytest.raises(PresetError, match="Unknown preset 'hubspt'") as info:
        import_file(ws, SAMPLES / "hubspot_contacts.csv", "leads", preset="hubspt")
    assert "Did you mean 'hubspot'?" in str(info.value) and "bitrix24, hubspot, pipedrive, salesforce" in str(info.value)


def test_preset_missing_required_column(ws, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("Record ID,Email\n1,a@b.c\n")
    with pytest.raises(MissingColumnError, match="created_at") as info:
        import_file(ws, path, "leads", preset="hubspot")
    assert "Record ID, Email" in str(info.value)


def _mapping(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "my.yaml"
    p.write_text(text)
    return p


def test_user_mapping_rename_values_constants_and_date_format(ws, tmp_path):
    csv = tmp_path / "calls.csv"
    csv.write_text("Call,Who,When,Kind,Rep\nk1,L1,01-15-2024 09:00,Phone,Ann\nk2,L2,01-16-2024 18:30,Mail,Bob\n")
    mapping = _mapping(tmp_path, """
table: touches
columns: {touch_id: Call, lead_id: Who, at: When, channel: Kind, owner: Rep}
values: {channel: {phone: call, mail: email}}
constants: {direction: out, campaign_id: spring}
date_format: "%m-%d-%Y %H:%M"
""")
    r = import_file(ws, csv, "touches", mapping=mapping)
    assert r.mapping.startswith("my.yaml#")
    got = rows(ws, "SELECT touch_id, lead_id, \"at\", channel, direction, owner, campaign_id FROM touches WHERE touch_id LIKE 'k%' ORDER BY 1")
    assert got == [("k1", "L1", T(2024, 1, 15, 8), "call", "out", "Ann", "spring"), ("k2", "L2", T(2024, 1, 16, 17, 30), "email", "out", "Bob", "spring")]


def test_user_mapping_layered_on_preset(ws, tmp_path):
    mapping = _mapping(tmp_path, "tables:\n  leads:\n    columns: {account_id: [ConvertedAccountId, Company]}\n")
    import_file(ws, SAMPLES / "salesforce_leads.csv", "leads", preset="salesforce", mapping=mapping)
    assert rows(ws, "SELECT account_id FROM leads WHERE lead_id = '00Q5g000001AbcEEAA'") == [("Enigma Ltd",)]


@pytest.mark.parametrize(
    ("text", "patterns"),
    [
        ("table: touches\ncolumns: {touch_ids: ID}\n", ["unknown key 'touch_ids'", "Did you mean 'touch_id'?", "lead_id, at, channel"]),
        ("table: touches\ncolumn: {touch_id: ID}\n", ["unknown key 'column'", "Did you mean 'columns'?"]),
        ("tables:\n  touchs: {columns: {touch_id: ID}}\n", ["unknown table 'touchs'", "Did you mean 'touches'?"]),
        ("table: touches\ncolumns: {touch_id: Identifier}\n", ["'touch_id'", "source column 'Identifier'", "not in the file", "Did you mean 'Identifiant'?"]),
        ("table: touches\nconstants: {chanel: call}\n", ["unknown key 'chanel'", "Did you mean 'channel'?"]),
        ("table: leads\ncolumns: {lead_id: x}\n", ["is for table 'leads', not 'touches'"]),
        ("table: [unclosed\n", ["not valid YAML"]),
    ],
)
def test_mapping_typos_are_named(ws, tmp_path, text, patterns):
    csv = tmp_path / "t.csv"
    csv.write_text("Identifiant,lead_id,at,channel\nz1,L,2024-01-01 10:00,call\n")
    before = rows(ws, "SELECT count(*) FROM touches")
    with pytest.raises(MappingError) as info:
        import_file(ws, csv, "touches", mapping=_mapping(tmp_path, text))
    for p in patterns:
        assert p in str(info.value), (p, str(info.value))
    assert rows(ws, "SELECT count(*) FROM touches") == before


def test_missing_mapping_file(ws, tmp_path):
    with pytest.raises(MappingError, match="not found"):
        import_file(ws, SAMPLES / "hubspot_contacts.csv", "leads", mapping=tmp_path / "nope.yaml")


def test_presets_doc_is_generated_from_the_yaml():
    from levier.data.ingest.docs import MARKER, render_presets

    page = Path(__file__).resolve().parents[2] / "docs" / "presets.md"
    text = page.read_text(encoding="utf-8")
    assert MARKER in text and text.split(MARKER)[0] + render_presets() == text, "run: python -m levier.data.ingest.docs"
    for name in list_presets():
        for table, tm in load_preset(name).tables.items():
            assert f"--preset {name} --table {table}" in text
            for source in tm.ignored:
                assert f"`{source}`" in text
