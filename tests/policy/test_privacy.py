"""Erasure leaves no trace; export; retention dry run then apply; minimisation; every action journaled."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from levier.data._frames import insert_frames
from levier.loop.models import AccessLog, CustomerNote
from levier.policy import Policy
from levier.policy.privacy import (
    erase_person,
    export_person,
    hash_identifier,
    minimise,
    retention,
    subject_hash,
)

PERSON = "LEAD-ZOE-4242"
EMAIL = "zoe.martin@example.fr"


def _seed(ws) -> None:  # noqa: ANN001
    leads = [{"lead_id": PERSON, "account_id": "ACC-1", "created_at": "2026-03-02 08:00:00", "channel": "inbound", "company_size": "smb"},
             {"lead_id": "KEEP-1", "account_id": "ACC-1", "created_at": "2020-01-02 08:00:00"}]
    touches = [{"touch_id": f"T{i}", "lead_id": PERSON, "at": f"2026-03-0{i + 2} 09:00:00", "channel": "email", "outcome": "no_answer"} for i in range(3)]
    touches += [{"touch_id": "T9", "lead_id": "KEEP-1", "at": "2020-01-03 09:00:00", "channel": "call"}]
    web = [{"event_id": "W1", "anonymous_id": "cookie-zoe", "lead_id": PERSON, "at": "2026-03-01 10:00:00", "type": "form_submit"},
           {"event_id": "W2", "anonymous_id": "cookie-zoe", "lead_id": None, "at": "2026-02-28 10:00:00", "type": "page_view", "referrer": EMAIL}]
    insert_frames(ws.facts, {"leads": leads, "touches": touches, "web_events": web,
                             "stage_events": [{"lead_id": PERSON, "stage": "mql", "at": "2026-03-05 10:00:00"}],
                             "assignments": [{"experiment_key": "x", "unit_id": PERSON, "variant": "b", "assigned_at": "2026-03-02 08:00:00"}]})
    ws.facts.con.raw_sql(f"INSERT INTO _journal VALUES (1, TIMESTAMP '2026-03-06', 'touches', 'r', 'flag', 'risk', 1, 'x', '[\"{PERSON}\"]', '{{}}')")
    with ws.session() as s:
        s.add(CustomerNote(lead_id=PERSON, text="Called Zoe"))
        s.add(CustomerNote(lead_id="KEEP-1", text=f"Colleague of {PERSON}, {EMAIL}"))
        s.commit()
    (Path(ws.path) / "reports").mkdir()
    (Path(ws.path) / "reports" / "note.md").write_text(f"Outlier: {PERSON}\n", encoding="utf-8")


def _traces(ws, needles: list[str]) -> list[str]:  # noqa: ANN001
    found = []
    for name in ws.facts.con.list_tables():
        t = ws.facts.con.table(name)
        for col, typ in t.schema().items():
            if typ.is_string():
                for n in needles:
                    if int(t.filter(t[col].contains(n)).count().execute()):
                        found.append(f"facts {name}.{col}")
    insp = sa.inspect(ws.engine)
    with ws.engine.connect() as con:
        for table in insp.get_table_names():
            for row in con.execute(sa.text(f'SELECT * FROM "{table}"')):
                if any(n in str(v) for v in row for n in needles):
                    found.append(f"loop {table}")
    for path in Path(ws.path).rglob("*"):
        if path.is_file() and any(n.encode() in path.read_bytes() for n in needles):
            found.append(f"file {path.name}")
    return found


def test_erasure_leaves_no_trace(workspace) -> None:  # noqa: ANN001
    ws = workspace
    _seed(ws)
    Policy.load(ws).close()  # the state file holds the lead too
    assert _traces(ws, [PERSON, EMAIL])  # the search does see them before
    dry = erase_person(ws, PERSON, dry_run=True)
    assert dry["found"] == {"leads": 1, "touches": 3, "stage_events": 1, "deals": 0, "web_events": 1, "assignments": 1}
    assert _traces(ws, [PERSON])  # a dry run changes nothing
    record = erase_person(ws, PERSON, also=[EMAIL])
    assert record["facts"]["touches"] == 3 and record["facts"]["web_events (same visitor)"] == 1
    assert _traces(ws, [PERSON, EMAIL]) == []
    assert record["subject"] == subject_hash(ws, PERSON) and PERSON not in str(record)
    assert int(ws.table("touches").count().execute()) == 1  # the other lead is untouched
    with ws.session() as s:
        logs = s.scalars(sa.select(AccessLog).where(AccessLog.target == "privacy.erase")).all()
        assert len(logs) == 2 and all(PERSON not in str(log.detail) for log in logs)
        assert s.scalars(sa.select(CustomerNote.text)).all() == ["Colleague of [erased], [erased]"]


def test_export_lists_the_person_rows_and_is_journaled(workspace) -> None:  # noqa: ANN001
    _seed(workspace)
    out = export_person(workspace, PERSON)
    assert len(out["facts"]["touches"]) == 3 and out["facts"]["leads"][0]["account_id"] == "ACC-1"
    assert out["loop"]["customer_notes"][0]["text"] == "Called Zoe"
    with workspace.session() as s:
        log = s.scalars(sa.select(AccessLog).where(AccessLog.target == "privacy.export")).one()
        assert log.action == "export" and PERSON not in str(log.detail)


def test_retention_dry_run_then_purge(workspace) -> None:  # noqa: ANN001
    _seed(workspace)
    dry = retention(workspace, 24, today=date(2026, 3, 10))
    assert dry["rows"]["leads"] == 1 and dry["rows"]["touches"] == 1 and not dry["applied"]
    assert int(workspace.table("leads").count().execute()) == 2
    done = retention(workspace, 24, apply=True, today=date(2026, 3, 10))
    assert done["applied"] and workspace.table("leads").lead_id.execute().tolist() == [PERSON]
    assert int(workspace.table("touches").count().execute()) == 3


def test_retention_anonymise_keeps_the_rows(workspace) -> None:  # noqa: ANN001
    _seed(workspace)
    retention(workspace, 24, mode="anonymise", apply=True, today=date(2026, 3, 10))
    ids = set(workspace.table("leads").lead_id.execute().tolist())
    (anon,) = ids - {PERSON}
    assert anon.startswith("anon-") and "KEEP-1" not in anon
    t = workspace.table("touches")
    assert t.filter(t.touch_id == "T9").lead_id.execute()[0] == anon


def test_minimisation_hashes_emails_and_phones() -> None:
    df = pd.DataFrame({"email": [" Zoe@Example.fr", None], "phone": ["+33 6 12 34 56 78", "06.12.34.56.78"], "x": [1, 2]})
    out = minimise(df, "salt")
    assert out["email"][0] == hash_identifier("zoe@example.fr", "salt") and pd.isna(out["email"][1])
    assert out["phone"][0].startswith("h:") and out["x"].tolist() == [1, 2]
    assert hash_identifier("0612345678", "salt", "phone") == hash_identifier("06 12 34 56 78", "salt", "phone")
