"""Data protection: retention (purge or anonymise), erasure of one person, export, minimisation.

Every action is written to the loop's access journal. Records never hold personal data: the
person is named by a salted SHA-256 (the salt is the workspace's ``.privacy_salt`` file, so the
same id always maps to the same hash and an erasure can be confirmed later) plus row counts.

Facts are changed with SQL ``DELETE`` / ``UPDATE`` (DuckDB, PostgreSQL …); an embedded DuckDB
file is then rewritten so freed blocks keep no copy. The loop (SQLite) and the policy state are
vacuumed for the same reason. Plain-text files of the workspace (reports) are redacted.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from levier.errors import EngineError, OptionError
from levier.i18n import gettext as _
from levier.loop.services import audit_log

__all__ = ["subject_hash", "hash_identifier", "minimise", "erase_person", "export_person", "retention"]

ERASED = "[erased]"
_PERSON_TABLES = {"leads": "lead_id", "touches": "lead_id", "stage_events": "lead_id", "deals": "lead_id",
                  "web_events": "lead_id", "assignments": "unit_id"}
_DB_SUFFIXES = (".duckdb", ".sqlite", ".db", ".wal", "-wal", "-shm", "-journal")


def _salt(ws: Any) -> str:
    path = Path(ws.path) / ".privacy_salt"
    if not path.exists():
        path.write_text(secrets.token_hex(32), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def subject_hash(ws: Any, identifier: str) -> str:
    """Salted SHA-256 of an identifier (the only trace an erasure record keeps)."""
    return hashlib.sha256((_salt(ws) + "\x00" + identifier).encode()).hexdigest()


def hash_identifier(value: Any, salt: str, kind: str = "email") -> str | None:
    """Minimisation at import: a normalised e-mail (lower case) or phone (digits) → ``h:`` + SHA-256."""
    if value is None or (isinstance(value, float) and value != value) or str(value).strip() == "":
        return None
    text = str(value).strip().lower() if kind == "email" else re.sub(r"\D", "", str(value))
    return "h:" + hashlib.sha256((salt + "\x00" + text).encode()).hexdigest()[:32]


def minimise(frame: Any, salt: str, columns: dict[str, str] | None = None) -> Any:
    """Hash the e-mail / phone columns of a pandas frame before import (``{"email": "email", "phone": "phone"}``)."""
    cols = columns or {c: ("phone" if "phone" in c.lower() or "tel" in c.lower() else "email")
                       for c in frame.columns if any(k in c.lower() for k in ("email", "mail", "phone", "tel"))}
    out = frame.copy()
    for col, kind in cols.items():
        out[col] = [hash_identifier(v, salt, kind) for v in out[col].tolist()]
    return out


def _journal(ws: Any, user: Any, action: str, target: str, detail: dict[str, Any]) -> None:
    with ws.session() as s:
        audit_log.record(s, user, action, target, detail)
        s.commit()


def _sql(ws: Any, query: str) -> Any:
    try:
        return ws.facts.con.raw_sql(query)
    except Exception as exc:  # backends raise their own types
        raise EngineError(_("The facts engine refused a data-protection statement: {problem}", problem=exc)) from None


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _facts_text_columns(ws: Any) -> dict[str, list[str]]:
    out = {}
    rows = _sql(ws, "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
                    "AND table_catalog = current_database() AND table_schema = current_schema()").fetchall()
    for (name,) in rows:
        schema = ws.facts.con.table(name).schema()
        out[name] = [c for c, t in schema.items() if t.is_string()]
    return out


def _count(ws: Any, table: str, where: str) -> int:
    return int(_sql(ws, f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])


def _erase_facts(ws: Any, idents: list[str]) -> dict[str, int]:
    lead = idents[0]
    counts: dict[str, int] = {}
    anon = f"SELECT anonymous_id FROM web_events WHERE lead_id = {_lit(lead)}"
    n = _count(ws, "web_events", f"anonymous_id IN ({anon}) AND (lead_id IS NULL OR lead_id <> {_lit(lead)})")
    if n:
        _sql(ws, f"DELETE FROM web_events WHERE anonymous_id IN ({anon})")
        counts["web_events (same visitor)"] = n
    for table, col in _PERSON_TABLES.items():
        n = _count(ws, table, f"{col} = {_lit(lead)}")
        if n:
            _sql(ws, f"DELETE FROM {table} WHERE {col} = {_lit(lead)}")
            counts[table] = counts.get(table, 0) + n
    for table, cols in _facts_text_columns(ws).items():
        for col in cols:
            for ident in idents:
                n = _count(ws, table, f"contains({col}, {_lit(ident)})")
                if n:
                    _sql(ws, f"UPDATE {table} SET {col} = replace({col}, {_lit(ident)}, {_lit(ERASED)}) WHERE contains({col}, {_lit(ident)})")
                    counts[f"{table}.{col} (redacted)"] = counts.get(f"{table}.{col} (redacted)", 0) + n
    return counts


def _compact_duckdb(ws: Any) -> None:
    """Rewrite an embedded DuckDB file so deleted values leave no copy in freed blocks."""
    if ws.facts.backend_name != "duckdb":
        return
    row = _sql(ws, "SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    if not row or not row[0]:
        return
    path = Path(row[0])
    tmp = path.with_name(path.name + ".compact")
    tmp.unlink(missing_ok=True)
    name = _sql(ws, "SELECT current_database()").fetchone()[0]
    _sql(ws, f"ATTACH {_lit(str(tmp))} AS levier_compact")
    _sql(ws, f'COPY FROM DATABASE "{name}" TO levier_compact')
    _sql(ws, "DETACH levier_compact")
    import ibis

    ws.facts.con.disconnect()
    os.replace(tmp, path)
    Path(str(path) + ".wal").unlink(missing_ok=True)
    ws.facts.con = ibis.duckdb.connect(str(path))


def _erase_loop(ws: Any, idents: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    insp = sa.inspect(ws.engine)
    with ws.engine.begin() as con:
        for table in insp.get_table_names():
            if table == "alembic_version":
                continue
            cols = [c["name"] for c in insp.get_columns(table) if isinstance(c["type"], (sa.String, sa.Text, sa.JSON))]
            pk = insp.get_pk_constraint(table)["constrained_columns"]
            if not cols or not pk:
                continue
            t = sa.table(table, *[sa.column(c) for c in {*cols, *pk}])
            for ident in idents:
                cond = sa.or_(*[sa.cast(t.c[c], sa.Text).contains(ident) for c in cols])
                for row in con.execute(sa.select(*[t.c[c] for c in {*cols, *pk}]).where(cond)).mappings().all():
                    key = {k: row[k] for k in pk}
                    if any(row.get(c) == ident for c in ("lead_id", "unit_id", "account_id") if c in cols):
                        con.execute(sa.delete(t).where(*[t.c[k] == v for k, v in key.items()]))
                    else:
                        values = {c: _redact(row[c], ident) for c in cols if row[c] is not None and ident in str(row[c])}
                        con.execute(sa.update(t).where(*[t.c[k] == v for k, v in key.items()]).values(**values))
                    counts[table] = counts.get(table, 0) + 1
    return counts


def _redact(value: Any, ident: str) -> Any:
    if isinstance(value, str):
        return value.replace(ident, ERASED)
    return json.loads(json.dumps(value).replace(ident, ERASED))


def _vacuum_sqlite(url_or_path: str | Path) -> None:
    import sqlite3

    path = str(url_or_path)
    if path.startswith("sqlite:///"):
        path = path[len("sqlite:///"):]
    if not Path(path).exists():
        return
    con = sqlite3.connect(path, timeout=30)
    try:
        con.execute("VACUUM")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def _redact_files(ws: Any, idents: list[str]) -> list[str]:
    changed = []
    for path in Path(ws.path).rglob("*"):
        if not path.is_file() or path.name.endswith(_DB_SUFFIXES) or path.name == ".privacy_salt":
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if any(i in text for i in idents):
            for ident in idents:
                text = text.replace(ident, ERASED)
            path.write_text(text, encoding="utf-8")
            changed.append(str(path.relative_to(ws.path)))
    return changed


def erase_person(ws: Any, lead_id: str, *, also: list[str] | None = None, user: Any = None, dry_run: bool = False) -> dict[str, Any]:
    """Right to be forgotten: delete or redact every trace of ``lead_id`` (and ``also`` identifiers)."""
    lead_id = str(lead_id).strip()
    if not lead_id:
        raise OptionError(_("lead_id must not be empty."))
    idents = [lead_id, *[a.strip() for a in (also or []) if a and a.strip()]]
    found = {t: _count(ws, t, f"{c} = {_lit(lead_id)}") for t, c in _PERSON_TABLES.items()}
    record: dict[str, Any] = {"subject": subject_hash(ws, lead_id), "dry_run": dry_run, "found": found}
    if not dry_run:
        record["facts"] = _erase_facts(ws, idents)
        _compact_duckdb(ws)
        record["loop"] = _erase_loop(ws, idents)
        from levier.policy.state import STATE_FILE, StateStore

        state = Path(ws.path) / STATE_FILE
        if state.exists():
            store = StateStore(state)
            store.forget(lead_id)
            store.close()
            _vacuum_sqlite(state)
        _vacuum_sqlite(ws.db_url)
        record["files"] = len(_redact_files(ws, idents))
        record["at"] = datetime.now().replace(microsecond=0).isoformat()
    _journal(ws, user, "run", "privacy.erase", record)
    return record


def export_person(ws: Any, lead_id: str, *, user: Any = None) -> dict[str, Any]:
    """Every row about one person (facts, loop notes, policy state) as JSON-safe data."""
    out: dict[str, Any] = {"lead_id": lead_id, "exported_at": datetime.now().replace(microsecond=0).isoformat(), "facts": {}}
    for table, col in _PERSON_TABLES.items():
        t = ws.table(table, cleaned=False)
        rows = t.filter(t[col] == lead_id).to_pyarrow().to_pylist()
        out["facts"][table] = [{k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in r.items()} for r in rows]
    insp = sa.inspect(ws.engine)
    out["loop"] = {}
    with ws.engine.connect() as con:
        for table in insp.get_table_names():
            cols = [c["name"] for c in insp.get_columns(table)]
            if "lead_id" in cols:
                rows = con.execute(sa.text(f'SELECT * FROM "{table}" WHERE lead_id = :v'), {"v": lead_id}).mappings().all()
                if rows:
                    out["loop"][table] = [{k: (v.isoformat() if isinstance(v, (date, datetime)) else v) for k, v in r.items()} for r in rows]
    _journal(ws, user, "export", "privacy.export", {"subject": subject_hash(ws, lead_id),
                                                     "rows": {k: len(v) for k, v in out["facts"].items()}})
    return out


def _expired_leads_sql(cutoff: datetime) -> str:
    c = _lit(cutoff.isoformat(sep=" "))
    return (f"SELECT lead_id FROM leads WHERE created_at < {c} AND lead_id NOT IN ("
            f"SELECT lead_id FROM touches WHERE \"at\" >= {c} AND lead_id IS NOT NULL UNION "
            f"SELECT lead_id FROM stage_events WHERE \"at\" >= {c})")


def retention(ws: Any, months: int, *, mode: str = "purge", apply: bool = False, user: Any = None, today: date | None = None) -> dict[str, Any]:
    """Leads inactive for ``months``: count (dry run) then purge or anonymise them (``apply=True``)."""
    if months < 1:
        raise OptionError(_("months must be at least 1 (got {n}).", n=months))
    if mode not in ("purge", "anonymise"):
        raise OptionError(_("mode: '{value}' is not one of {allowed}.", value=mode, allowed="purge, anonymise"))
    day = today or date.today()
    cutoff = datetime.combine(day - timedelta(days=round(months * 30.4375)), datetime.min.time())
    expired = _expired_leads_sql(cutoff)
    counts = {t: _count(ws, t, f"{c} IN ({expired})") for t, c in _PERSON_TABLES.items()}
    record = {"months": months, "mode": mode, "cutoff": cutoff.isoformat(), "applied": apply, "rows": counts}
    if apply:
        if mode == "purge":
            for table, col in [(t, c) for t, c in _PERSON_TABLES.items() if t != "leads"] + [("leads", "lead_id")]:
                _sql(ws, f"DELETE FROM {table} WHERE {col} IN ({expired})")
        else:
            salt = _lit(_salt(ws))
            _sql(ws, f"CREATE TEMP TABLE levier_expired AS {expired}")
            for table, col in _PERSON_TABLES.items():
                _sql(ws, f"UPDATE {table} SET {col} = 'anon-' || substr(sha256({salt} || {col}), 1, 20) WHERE {col} IN (SELECT lead_id FROM levier_expired)")
            _sql(ws, "UPDATE leads SET account_id = 'anon-' || substr(sha256(" + salt + " || account_id), 1, 20) WHERE lead_id LIKE 'anon-%' AND account_id IS NOT NULL")
            _sql(ws, "DROP TABLE levier_expired")
        _compact_duckdb(ws)
    _journal(ws, user, "run", "privacy.retention", record)
    return record
