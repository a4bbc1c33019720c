"""Building the policy state from the facts, streamed: memory bounded whatever the number of leads.

One engine query gives, per lead, its attributes and the touch summary the rules need
(:func:`lead_state_query`); its result is read in Arrow record batches of :data:`CHUNK` leads
and written batch by batch to a *staged* SQLite file next to the state (leads, and per account
its newest outbound codes, merged in SQLite when an account spans two batches). The state then
swaps to the staged tables in one short transaction (:meth:`StateStore.replace_from`), with the
touches still queued in the facts inbox folded on top, and the snapshot is written from SQLite
chunk by chunk too (:mod:`levier.policy.snapshot`). No step holds one row per lead in Python
(docs/decisions/0185-policy-streamed-build.md).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

from levier.policy._time import to_epoch
from levier.policy.recent import (
    account_codes_query,
    coded_touches,
    codes_json,
    lead_codes_query,
    top_per_key,
)
from levier.policy.rules import RECENT_KEPT
from levier.policy.state import FLAG_BITS, LEAD_INDEXES, SCHEMA, StateStore, facts_fingerprint

__all__ = ["CHUNK", "build_state", "stage_state", "lead_state_query", "week_counts_query", "pending_touches"]

#: Leads per Arrow record batch read from the engine and written to SQLite.
CHUNK = 50_000
_LEAD_INSERT = f"INSERT INTO leads VALUES ({','.join('?' * 14)})"
_ACCOUNT_UPSERT = ("INSERT INTO accounts VALUES (?, ?) ON CONFLICT (account_id) DO UPDATE SET "
                   "recent = levier_merge_recent(recent, excluded.recent)")
def _windowed(ws: Any, windows: bool | None) -> bool:
    """Whether the newest codes come from a window in the lead query (engines whose windows spill) or
    from the sorted streams of :mod:`levier.policy.recent` (DuckDB)."""
    return ws.facts.backend_name != "duckdb" if windows is None else windows


def lead_state_query(ws: Any, responses: frozenset[str], windows: bool | None = None) -> ibis.Table:
    """One engine query: per lead, its attributes and the touch summary the rules need.

    On DuckDB (``windows`` false) every step is a GROUP BY or a hash join, which spill to disk, so
    the query runs whole at any size: the last response per lead is grouped and joined back, and
    ``recent`` is null — the newest outbound codes come from a sorted stream
    (:mod:`levier.policy.recent`, decision 0234). With ``windows`` (other engines, whose windows
    spill) a window gives each, and ``recent`` is the newest :data:`RECENT_KEPT` codes. Both ways
    give the same state, ties included.
    """
    t1 = coded_touches(ws, responses)
    if _windowed(ws, windows):
        t1 = t1.mutate(
            last_resp=ibis.ifelse(t1.resp, t1.ts, None).max().over(group_by=t1.lead_id),
            rn=ibis.row_number().over(group_by=[t1.lead_id, t1.is_out], order_by=[ibis.desc(t1.ts), ibis.desc(t1.code)]),
        )
        recent = t1.packed.collect(where=t1.is_out & (t1.rn < RECENT_KEPT))
    else:
        last = t1.group_by(r_lead=t1.lead_id).aggregate(last_resp=t1.ts.max(where=t1.resp))
        t1 = t1.left_join(last, t1.lead_id == last.r_lead).drop("r_lead")
        recent = ibis.null("array<int64>")
    nonresp = t1.is_out & ~t1.resp & (t1.last_resp.isnull() | (t1.ts > t1.last_resp))
    agg = t1.group_by("lead_id").aggregate(
        first_out=t1.ts.min(where=t1.is_out), last_out=t1.ts.max(where=t1.is_out),
        consec=nonresp.cast("int64").sum(), unsub=t1.ts.min(where=t1.outcome == "unsubscribed"), recent=recent,
    )
    st = ws.table("stage_events")
    phase = st.group_by(p_lead=st.lead_id).aggregate(phase=st.stage.argmax(st.at))
    agg = agg.rename(a_lead="lead_id")
    le = ws.table("leads")
    q = le.left_join(agg, le.lead_id == agg.a_lead)
    q = q.left_join(phase, q.lead_id == phase.p_lead)
    flags = sum((ibis.ifelse(q[f].fill_null(False), bit, 0) for f, bit in FLAG_BITS.items()), ibis.literal(0))
    return q.select(
        lead_id=q.lead_id, account_id=q.account_id, tz=q.timezone, channel=q.channel, size=q.company_size,
        phase=q.phase, owner=q.owner, created=q.created_at.epoch_seconds().cast("int64"),
        opted_out=q.opted_out_at.epoch_seconds().cast("int64"), flags=flags.cast("int64"), first_out=q.first_out,
        last_out=q.last_out, consec=q.consec.fill_null(0), unsub=q.unsub, recent=q.recent,
    )


def week_counts_query(ws: Any) -> ibis.Table:
    """Outbound touches and complaints per ISO week (UTC), acquisition channel, size, touch channel."""
    t, le = ws.table("touches"), ws.table("leads")
    ts = t.at.epoch_seconds().cast("int64")
    t = t.mutate(week=ts - (ts - 4 * 86_400) % (7 * 86_400), is_out=t.direction.isnull() | (t.direction != "in"))
    le = le.select(l_lead=le.lead_id, acq=le.channel.fill_null(""), size=le.company_size.fill_null(""))
    j = t.join(le, t.lead_id == le.l_lead)
    return j.group_by(week=j.week, channel=j.acq, size=j.size, touch_channel=j.channel).aggregate(
        sent=j.is_out.cast("int64").sum(), complaints=(j.outcome == "complaint").fill_null(False).cast("int64").sum())


def _lead_rows(batch: dict[str, list[Any]], codes: dict[str, str] | None = None) -> Iterable[tuple[Any, ...]]:
    """SQLite rows of a batch of the lead query; ``codes``: the newest codes per lead (JSON) when the query has none."""
    for i, lead_id in enumerate(batch["lead_id"]):
        recent = codes_json(sorted(batch["recent"][i] or [])) if codes is None else codes.get(lead_id, "[]")
        opted, unsub = batch["opted_out"][i], batch["unsub"][i]
        opt = unsub if opted is None else (opted if unsub is None else min(opted, unsub))
        yield (lead_id, batch["account_id"][i], batch["tz"][i], batch["channel"][i], batch["size"][i], batch["phase"][i],
               batch["owner"][i], batch["created"][i], opt, batch["flags"][i], batch["first_out"][i], batch["last_out"][i],
               batch["consec"][i], recent)


def _account_rows(table: pa.Table) -> list[tuple[str, str]]:
    """Per account of a batch of the windowed lead query, its newest outbound codes (JSON): every lead's
    bounded list flattened, sorted by account then newest first, cut by :func:`top_per_key`."""
    import pyarrow.compute as pc

    acc = table.column("account_id").combine_chunks()
    rec = table.column("recent").combine_chunks()
    keep = pc.and_(pc.is_valid(acc), pc.greater(pc.list_value_length(rec).fill_null(0), 0))
    acc, rec = pc.filter(acc, keep), pc.filter(rec, keep)
    flat = pa.table({"key": acc.take(pc.list_parent_indices(rec)), "code": pc.list_flatten(rec).cast(pa.int64())})
    flat = flat.sort_by([("key", "ascending"), ("code", "descending")])
    return [(key, codes_json(codes)) for key, codes in top_per_key(flat.to_batches(), RECENT_KEPT)]


def merge_recent(old: str, new: str) -> str:
    """Two accounts' code lists (JSON, ascending) as one: the newest :data:`RECENT_KEPT` of both."""
    return json.dumps(sorted(json.loads(old) + json.loads(new))[-RECENT_KEPT:])


def _batches(expr: ibis.Table, chunk: int) -> Iterator[pa.RecordBatch]:
    """The result of ``expr`` in record batches of the expression's own types (an engine may stream
    wider ones, e.g. DuckDB's HUGEINT sums)."""
    schema = expr.schema().to_pyarrow()
    for batch in expr.to_pyarrow_batches(chunk_size=chunk):
        if batch.num_rows:
            yield batch if batch.schema.equals(schema) else batch.cast(schema)


def _stage_windowed(ws: Any, con: sqlite3.Connection, responses: frozenset[str], chunk: int) -> int:
    """Leads (with their newest codes) from the windowed query, ordered by account; the accounts'
    newest codes merged in SQLite when an account spans two batches."""
    n = 0
    for batch in _batches(lead_state_query(ws, responses, windows=True).order_by("account_id"), chunk):
        con.executemany(_LEAD_INSERT, _lead_rows(batch.to_pydict()))
        con.executemany(_ACCOUNT_UPSERT, _account_rows(pa.Table.from_batches([batch])))
        n += batch.num_rows
    return n


def _stage_sorted(ws: Any, con: sqlite3.Connection, responses: frozenset[str], chunk: int) -> int:
    """The newest codes per lead, cut from the engine's sorted stream, into a scratch table of the staged
    file; then the leads, ordered by id, each batch taking its codes by one range read; then the
    accounts' newest codes from their own sorted stream (decision 0234). One engine query at a time."""
    con.execute("CREATE TABLE lead_codes (lead_id TEXT PRIMARY KEY, recent TEXT NOT NULL) WITHOUT ROWID")
    con.executemany("INSERT INTO lead_codes VALUES (?, ?)",
                    ((key, codes_json(codes)) for key, codes in top_per_key(_batches(lead_codes_query(ws), chunk))))
    n = 0
    for batch in _batches(lead_state_query(ws, responses, windows=False).order_by("lead_id"), chunk):
        rows = batch.to_pydict()
        ids = rows["lead_id"]
        codes = dict(con.execute("SELECT lead_id, recent FROM lead_codes WHERE lead_id BETWEEN ? AND ?", (min(ids), max(ids))))
        con.executemany(_LEAD_INSERT, _lead_rows(rows, codes))
        n += batch.num_rows
    con.execute("DROP TABLE lead_codes")
    accounts = ((key, codes_json(codes)) for key, codes in top_per_key(_batches(account_codes_query(ws), chunk)))
    con.executemany("INSERT INTO accounts VALUES (?, ?)", accounts)
    return n


def stage_state(ws: Any, path: Path, responses: frozenset[str], chunk: int = CHUNK, windows: bool | None = None) -> int:
    """Write the state of the facts to a fresh SQLite file ``path`` batch by batch; returns the leads.

    ``windows``: the windowed query (default on engines other than DuckDB) or the sorted streams.
    """
    path.unlink(missing_ok=True)
    con = sqlite3.connect(str(path), isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=OFF")  # a scratch file: deleted if anything fails
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-32768")
        con.executescript(SCHEMA)
        for name in LEAD_INDEXES:  # the swap builds them in the state (StateStore.replace_from)
            con.execute(f"DROP INDEX {name}")
        con.create_function("levier_merge_recent", 2, merge_recent, deterministic=True)
        weeks = week_counts_query(ws).to_pyarrow().to_pylist()  # one row per (week, cell): small
        con.execute("BEGIN")
        con.executemany("INSERT INTO weeks VALUES (?, ?, ?, ?, ?, ?)", [
            (w["week"], w["channel"], w["size"], w["touch_channel"], w["sent"], w["complaints"]) for w in weeks])
        n = _stage_windowed(ws, con, responses, chunk) if _windowed(ws, windows) else _stage_sorted(ws, con, responses, chunk)
        con.execute("COMMIT")
    finally:
        con.close()
    return n


def pending_touches(ws: Any) -> list[tuple[str, int, str, bool, str | None]]:
    """Touches queued in the facts inbox (not in the facts yet), oldest first, as the state folds them."""
    from levier.data.inbox import pending_facts

    rows = pending_facts(ws, "touches")
    rows.sort(key=lambda r: (r["at"], r.get("touch_id") or ""))
    return [(str(r["lead_id"]), to_epoch(r["at"]), r["channel"], r.get("direction") != "in", r.get("outcome")) for r in rows]


def build_state(ws: Any, store: StateStore, responses: frozenset[str], progress: Callable[[str], None] | None = None,
                chunk: int = CHUNK) -> int:
    """(Re)build the whole state from the facts and the inbox; returns the number of leads."""
    fingerprint = facts_fingerprint(ws)
    staged = store.path.with_name(f"{store.path.name}.build-{os.getpid()}")
    try:
        stage_state(ws, staged, responses, chunk)
        if progress:
            progress("leads")
        meta = {"fingerprint": fingerprint, "responses": ",".join(sorted(responses)), "built_at": str(int(time.time()))}
        return store.replace_from(staged, pending_touches(ws), responses, meta)
    finally:
        staged.unlink(missing_ok=True)

