"""The incremental contact state: what the rules need per lead and per account, kept in SQLite.

Built once from the facts (one engine query for the per-lead state, one small one for the
weekly complaint counters), then updated in O(1) by each new touch: a check reads one lead row
(and one account row when a segment caps accounts) and never rescans history. The file lives in
the workspace (``policy_state.sqlite``, WAL mode) so several web workers share it
(docs/decisions/0100-policy-state-store.md).

Recent outbound touches are encoded as ``epoch_seconds * 8 + channel_code``, newest first,
at most :data:`RECENT_KEPT` of them — enough to decide every cap the rules allow.
"""

from __future__ import annotations

import json
import mmap
import os
import sqlite3
import time
from bisect import insort
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis

from levier.data.schema import TOUCH_CHANNELS
from levier.policy._time import week_start
from levier.policy.rules import RECENT_KEPT
from levier.policy.snapshot import Snapshot, build_snapshot, drop_snapshots, new_generation

__all__ = ["LeadState", "StateStore", "CHANNEL_CODE", "FLAG_BITS", "STATE_FILE", "facts_fingerprint", "encode", "decode"]

STATE_FILE = "policy_state.sqlite"
CHANNEL_CODE = {c: i for i, c in enumerate(TOUCH_CHANNELS)}
FLAG_BITS = {"vip": 1, "litigation": 2, "do_not_contact": 4}
_LEAD_COLS = ("lead_id", "account_id", "tz", "channel", "size", "phase", "owner", "created", "opted_out", "flags",
              "first_out", "last_out", "consec", "recent")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leads (lead_id TEXT PRIMARY KEY, account_id TEXT, tz TEXT, channel TEXT, size TEXT, phase TEXT,
  owner TEXT, created INTEGER, opted_out INTEGER, flags INTEGER NOT NULL, first_out INTEGER, last_out INTEGER,
  consec INTEGER NOT NULL, recent TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_leads_owner ON leads (owner, created);
CREATE INDEX IF NOT EXISTS ix_leads_created ON leads (created);
CREATE TABLE IF NOT EXISTS accounts (account_id TEXT PRIMARY KEY, recent TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS weeks (week INTEGER, channel TEXT, size TEXT, touch_channel TEXT, sent INTEGER NOT NULL,
  complaints INTEGER NOT NULL, PRIMARY KEY (week, channel, size, touch_channel));
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, lead_id TEXT NOT NULL, account_id TEXT);
"""


def encode(ts: int, channel: str) -> int:
    return ts * 8 + CHANNEL_CODE.get(channel, 7)


def decode(code: int) -> tuple[int, int]:
    return code >> 3, code & 7


@dataclass(slots=True)
class LeadState:
    """Everything the rules need to know about one lead."""

    lead_id: str
    account_id: str | None = None
    tz: str | None = None
    channel: str | None = None
    size: str | None = None
    phase: str | None = None
    owner: str | None = None
    created: int | None = None
    opted_out: int | None = None
    flags: int = 0
    first_out: int | None = None
    last_out: int | None = None
    consec: int = 0
    recent: list[int] = field(default_factory=list)  # ascending codes; newest last

    def apply(self, ts: int, channel: str, outbound: bool, outcome: str | None, responses: frozenset[str]) -> None:
        """Fold one new touch into the state (O(1): the list is bounded)."""
        if outcome == "unsubscribed":
            self.opted_out = ts if self.opted_out is None else min(self.opted_out, ts)
        responded = (not outbound) or (outcome in responses)
        if outbound:
            self.first_out = ts if self.first_out is None else min(self.first_out, ts)
            self.last_out = ts if self.last_out is None else max(self.last_out, ts)
            push(self.recent, encode(ts, channel))
        if responded:
            self.consec = 0
        elif outbound:
            self.consec += 1

    def row(self) -> tuple[Any, ...]:
        return (self.lead_id, self.account_id, self.tz, self.channel, self.size, self.phase, self.owner, self.created,
                self.opted_out, self.flags, self.first_out, self.last_out, self.consec, json.dumps(self.recent))


def push(recent: list[int], code: int) -> None:
    insort(recent, code)
    if len(recent) > RECENT_KEPT:
        del recent[0]


def _lead(row: tuple[Any, ...]) -> LeadState:
    return LeadState(*row[:13], recent=json.loads(row[13]))


def facts_fingerprint(ws: Any) -> str:
    """Row counts and highest row ids of the tables the state reads (cheap engine aggregates)."""
    parts = []
    for name in ("leads", "touches", "stage_events"):
        raw = ws.facts.raw(name)
        r = raw.aggregate(n=raw.count(), m=raw._row_id.max()).to_pyarrow().to_pylist()[0]
        parts.append(f"{name}:{r['n']}:{r['m']}")
    ex = ws.facts.con.table("_exclusions")
    parts.append(f"excl:{int(ex.count().execute())}")
    return "|".join(parts)


class StateStore:
    """The SQLite state file (one connection per process; WAL lets workers read while one writes).

    A check reads a lead through :meth:`cached_lead`: from the memory-mapped :class:`Snapshot`
    of the state's generation, unless the lead changed after the snapshot (the ``changes`` log),
    in which case from SQLite through a bounded per-process LRU. Every write made through a store
    (record, replace_all, forget) logs its change and then puts a new random token in the
    8-byte ``<state>.version`` file, which every store maps: a check compares 8 bytes (~0.1 µs)
    and, when they moved, reads the new changes, so a touch posted in one worker is seen by the
    next check in any other. ``PRAGMA data_version`` is also compared at most once a second, for
    writers that bypass this class.
    """

    #: Lead rows kept by the per-process LRU (leads changed since the snapshot, or no snapshot).
    LEAD_CACHE = 32_768  # ~1.1 KB each: ~37 MB per process
    #: Read leads from a memory-mapped snapshot (False: every read goes to SQLite through the LRU).
    use_snapshot = True

    def __init__(self, path: str | Path, *, snapshot: bool = True) -> None:
        self.path = Path(path)
        self.use_snapshot = snapshot
        self.con = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=NORMAL")
        self.con.execute("PRAGMA cache_size=-131072")  # 128 MiB page cache per connection
        self.con.execute("PRAGMA mmap_size=2147483648")  # reads straight from the OS page cache
        self.con.executescript(_SCHEMA)
        self.con.execute("INSERT OR IGNORE INTO meta VALUES ('generation', ?)", (new_generation(),))
        self._weeks: dict[int, dict[tuple[str, str, str], tuple[int, int]]] = {}
        self._weeks_at = 0.0
        self._totals: dict[tuple[Any, ...], tuple[int, int]] = {}
        self._cache: OrderedDict[str, LeadState] = OrderedDict()
        self._version = self._data_version()
        self._token = _token_map(self.path)
        self._tok: bytes | None = None  # the token when this store last read the changes
        self._synced = 0.0
        self._snap: Snapshot | None = None
        self._seq = 0  # the last change folded into _dirty
        self._dirty: set[str] = set()  # leads changed after the snapshot
        self._dirty_acc: set[str] = set()

    def _data_version(self) -> int:
        return int(self.con.execute("PRAGMA data_version").fetchone()[0])

    def invalidate(self) -> None:
        """Forget every cached lead row (after a write; also called when another connection wrote)."""
        self._cache.clear()
        self._version = self._data_version()

    def _bump(self) -> None:
        """Tell every store mapping the version file that the state changed (after the commit)."""
        self._token[:8] = os.urandom(8)

    def close(self) -> None:
        self.con.close()
        self._token.close()
        self._snap = None

    # -- coherence with other connections -------------------------------------------------
    def sync(self) -> None:
        """Catch up with writes committed by any connection (cheap when nothing moved)."""
        tok = self._token[:8]
        if tok == self._tok:
            now = time.monotonic()
            if now - self._synced < 1.0:
                return
            self._synced = now
            if self._data_version() == self._version:
                return
        self._catch_up(tok)

    def _catch_up(self, tok: bytes) -> None:
        self._tok, self._synced = tok, time.monotonic()
        self.invalidate()
        self.con.execute("BEGIN")
        try:
            generation = self.meta("generation") or ""
            if self._snap is None or self._snap.generation != generation:
                self.con.execute("COMMIT")
                self._load_snapshot(generation)
                self.con.execute("BEGIN")
            rows = self.con.execute("SELECT seq, lead_id, account_id FROM changes WHERE seq > ? ORDER BY seq", (self._seq,)).fetchall()
        finally:
            self.con.execute("COMMIT")
        for seq, lead_id, account_id in rows:
            self._dirty.add(lead_id)
            if account_id:
                self._dirty_acc.add(account_id)
            self._seq = seq

    def _load_snapshot(self, generation: str) -> None:
        self._snap, self._seq, self._dirty, self._dirty_acc = None, 0, set(), set()
        if not self.use_snapshot or not generation:
            return
        snap = None
        try:
            snap = build_snapshot(self.path, generation)
        except (OSError, ValueError):  # a snapshot deleted while mapped, a full disk: read SQLite instead
            snap = None
        if snap is not None:
            self._snap, self._seq = snap, snap.seq

    def snapshot(self) -> Snapshot | None:
        """The snapshot checks read (built from the state file when missing; None if disabled)."""
        self.sync()
        return self._snap

    # -- meta ---------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, **values: str) -> None:
        self.con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))

    # -- reads --------------------------------------------------------------------------
    def lead(self, lead_id: str) -> LeadState | None:
        row = self.con.execute("SELECT * FROM leads WHERE lead_id = ?", (lead_id,)).fetchone()
        return _lead(row) if row else None

    def cached_lead(self, lead_id: str) -> LeadState | None:
        """:meth:`lead`, coherent with every writer, from the snapshot or the LRU (do not mutate the result)."""
        self.sync()
        snap = self._snap
        if snap is not None and lead_id not in self._dirty:
            row = snap.lead_row(lead_id)
            return None if row is None else LeadState(*row)  # the 14 fields in order
        cache = self._cache
        found = cache.get(lead_id)
        if found is not None:
            cache.move_to_end(lead_id)
            return found
        found = self.lead(lead_id)
        if found is not None:
            cache[lead_id] = found
            if len(cache) > self.LEAD_CACHE:
                cache.popitem(last=False)
        return found

    def cached_account(self, account_id: str | None) -> list[int]:
        """:meth:`account` from the snapshot when it is current for this account (call after :meth:`cached_lead`)."""
        if not account_id:
            return []
        if self._snap is not None and account_id not in self._dirty_acc:
            return self._snap.account(account_id)
        return self.account(account_id)

    def account(self, account_id: str | None) -> list[int]:
        if not account_id:
            return []
        row = self.con.execute("SELECT recent FROM accounts WHERE account_id = ?", (account_id,)).fetchone()
        return json.loads(row[0]) if row else []

    def week_counts(self, week: int) -> dict[tuple[str, str, str], tuple[int, int]]:
        """(acquisition channel, size, touch channel) → (outbound touches, complaints) of ``week``."""
        if time.monotonic() - self._weeks_at > 60:
            self._weeks, self._totals, self._weeks_at = {}, {}, time.monotonic()
        if week not in self._weeks:
            rows = self.con.execute("SELECT channel, size, touch_channel, sent, complaints FROM weeks WHERE week = ?", (week,))
            self._weeks[week] = {(c or "", s or "", t): (n, k) for c, s, t, n, k in rows}
        return self._weeks[week]

    def leads_where(self, sql: str, params: tuple[Any, ...]) -> list[LeadState]:
        """Leads matching a WHERE clause over the state columns (queues; indexed on owner, created)."""
        return [_lead(r) for r in self.con.execute(f"SELECT * FROM leads WHERE {sql}", params)]

    def week_totals(self, week: int, channels: tuple[str, ...], acq: str | None, size: str | None) -> tuple[int, int]:
        """(outbound touches, complaints) of ``week`` on ``channels`` for a cell (None = any); memoised."""
        key = (week, channels, acq, size)
        cache = self._totals
        if key not in cache or time.monotonic() - self._weeks_at > 60:
            sent = bad = 0
            for (ch, sz, tch), (n, k) in self.week_counts(week).items():
                if tch in channels and (acq is None or acq == ch) and (size is None or size == sz):
                    sent, bad = sent + n, bad + k
            cache[key] = (sent, bad)
        return cache[key]

    def count(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM leads").fetchone()[0])

    # -- writes -------------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One write transaction; caches dropped whatever happens, other workers signalled on commit."""
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.invalidate()
        self._bump()

    def record(self, lead: LeadState, ts: int, channel: str, outbound: bool, outcome: str | None,
               responses: frozenset[str], meta: dict[str, str]) -> LeadState:
        """Apply one touch to the lead, its account and the week counters in one transaction."""
        with self._writing():
            fresh = self.lead(lead.lead_id) or lead
            fresh.apply(ts, channel, outbound, outcome, responses)
            self.con.execute(f"INSERT OR REPLACE INTO leads VALUES ({','.join('?' * len(_LEAD_COLS))})", fresh.row())
            if outbound and fresh.account_id:
                recent = self.account(fresh.account_id)
                push(recent, encode(ts, channel))
                self.con.execute("INSERT OR REPLACE INTO accounts VALUES (?, ?)", (fresh.account_id, json.dumps(recent)))
            self.con.execute("INSERT INTO changes (lead_id, account_id) VALUES (?, ?)",
                             (fresh.lead_id, fresh.account_id if outbound else None))
            if outbound or outcome == "complaint":
                self.con.execute(
                    "INSERT INTO weeks VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (week, channel, size, touch_channel) DO UPDATE SET "
                    "sent = sent + excluded.sent, complaints = complaints + excluded.complaints",
                    (week_start(ts), fresh.channel or "", fresh.size or "", channel, int(outbound), int(outcome == "complaint")))
            self.set_meta(**meta)
        self._weeks.pop(week_start(ts), None)
        self._totals = {}
        return fresh

    def replace_all(self, leads: Iterable[tuple[Any, ...]], accounts: Iterable[tuple[str, str]],
                    weeks: Iterable[tuple[Any, ...]], meta: dict[str, str]) -> None:
        """Swap the whole state in one transaction (readers keep the old one until commit)."""
        generation = new_generation()
        with self._writing():
            for table in ("leads", "accounts", "weeks", "meta", "changes"):
                self.con.execute(f"DELETE FROM {table}")
            self.con.executemany(f"INSERT INTO leads VALUES ({','.join('?' * len(_LEAD_COLS))})", leads)
            self.con.executemany("INSERT INTO accounts VALUES (?, ?)", accounts)
            self.con.executemany("INSERT INTO weeks VALUES (?, ?, ?, ?, ?, ?)", weeks)
            self.set_meta(**meta, generation=generation)
        drop_snapshots(self.path, keep=generation)
        self._weeks, self._totals = {}, {}

    def forget(self, lead_id: str) -> None:
        """Remove one lead (erasure): a new generation, and no snapshot or change row keeps its id."""
        with self._writing():
            self.con.execute("DELETE FROM leads WHERE lead_id = ?", (lead_id,))
            self.con.execute("DELETE FROM changes")
            self.set_meta(generation=new_generation())
        drop_snapshots(self.path)


def _token_map(state_path: Path) -> mmap.mmap:
    """The shared 8-byte change token next to the state file, mapped read-write."""
    fd = os.open(str(state_path.with_name(state_path.name + ".version")), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size < 8:
            os.ftruncate(fd, 8)
        return mmap.mmap(fd, 8)
    finally:
        os.close(fd)


# -- building from the facts -------------------------------------------------------------
def lead_state_query(ws: Any, responses: frozenset[str]) -> ibis.Table:
    """One engine query: per lead, its attributes and the touch summary the rules need."""
    t = ws.table("touches")
    is_out = t.direction.isnull() | (t.direction != "in")
    resp = (t.direction == "in") | t.outcome.isin(sorted(responses))
    code = t.channel.cases(*[(c, i) for c, i in CHANNEL_CODE.items()], else_=7)
    t1 = t.mutate(is_out=is_out, resp=resp.fill_null(False), ts=t.at.epoch_seconds().cast("int64"), code=code)
    t1 = t1.mutate(
        last_resp=ibis.ifelse(t1.resp, t1.ts, None).max().over(group_by=t1.lead_id),
        rn=ibis.row_number().over(group_by=[t1.lead_id, t1.is_out], order_by=ibis.desc(t1.ts)),
    )
    nonresp = t1.is_out & ~t1.resp & (t1.last_resp.isnull() | (t1.ts > t1.last_resp))
    agg = t1.group_by("lead_id").aggregate(
        first_out=t1.ts.min(where=t1.is_out), last_out=t1.ts.max(where=t1.is_out),
        consec=nonresp.cast("int64").sum(), unsub=t1.ts.min(where=t1.outcome == "unsubscribed"),
        recent=(t1.ts * 8 + t1.code).collect(where=t1.is_out & (t1.rn < RECENT_KEPT)),
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


def _lead_rows(batch: dict[str, list[Any]]) -> Iterable[tuple[Any, ...]]:
    for i, lead_id in enumerate(batch["lead_id"]):
        recent = sorted(batch["recent"][i] or [])
        opted, unsub = batch["opted_out"][i], batch["unsub"][i]
        opt = unsub if opted is None else (opted if unsub is None else min(opted, unsub))
        yield (lead_id, batch["account_id"][i], batch["tz"][i], batch["channel"][i], batch["size"][i], batch["phase"][i],
               batch["owner"][i], batch["created"][i], opt, batch["flags"][i], batch["first_out"][i], batch["last_out"][i],
               batch["consec"][i], json.dumps(recent))


def _account_rows(table: Any) -> list[tuple[str, str]]:
    """Per account, its newest outbound touch codes (from every lead's bounded list; numpy)."""
    import numpy as np
    import pyarrow.compute as pc

    acc = table.column("account_id").combine_chunks()
    rec = table.column("recent").combine_chunks()
    keep = pc.and_(pc.is_valid(acc), pc.greater(pc.list_value_length(rec).fill_null(0), 0))
    acc, rec = pc.filter(acc, keep), pc.filter(rec, keep)
    if len(acc) == 0:
        return []
    parents = pc.list_parent_indices(rec).to_numpy()
    codes = pc.list_flatten(rec).to_numpy().astype(np.int64)
    ids, inverse = np.unique(acc.to_numpy(zero_copy_only=False).astype(str), return_inverse=True)
    owner = inverse[parents]
    order = np.lexsort((-codes, owner))
    owner, codes = owner[order], codes[order]
    first = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    rank = np.arange(owner.size) - np.repeat(first, np.diff(np.r_[first, owner.size]))
    sel = rank < RECENT_KEPT
    owner, codes = owner[sel], codes[sel]
    out: list[tuple[str, str]] = []
    bounds = np.r_[np.flatnonzero(np.diff(owner)) + 1, owner.size]
    start = 0
    for end in bounds:
        out.append((str(ids[owner[start]]), json.dumps(sorted(codes[start:end].tolist()))))
        start = end
    return out


def build_state(ws: Any, store: StateStore, responses: frozenset[str], progress: Callable[[str], None] | None = None) -> int:
    """(Re)build the whole state from the facts; returns the number of leads."""
    fingerprint = facts_fingerprint(ws)
    table = lead_state_query(ws, responses).to_pyarrow()
    if progress:
        progress("leads")
    accounts = _account_rows(table)
    weeks = week_counts_query(ws).to_pyarrow().to_pylist()
    rows = (row for batch in table.to_batches(max_chunksize=100_000) for row in _lead_rows(batch.to_pydict()))
    week_rows = [(w["week"], w["channel"], w["size"], w["touch_channel"], w["sent"], w["complaints"]) for w in weeks]
    store.replace_all(rows, accounts, week_rows, {
        "fingerprint": fingerprint, "responses": ",".join(sorted(responses)), "built_at": str(to_epoch_now())})
    return table.num_rows


def to_epoch_now() -> int:
    return int(time.time())

