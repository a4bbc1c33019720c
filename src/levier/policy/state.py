"""The incremental contact state: what the rules need per lead and per account, kept in SQLite.

Built from the facts by :mod:`levier.policy.build` (the engine query streamed in record batches
into a staged file, swapped in by :meth:`StateStore.replace_from`), then updated in O(1) by each new touch: a check reads one lead row
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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from levier.data.schema import TOUCH_CHANNELS
from levier.policy._time import week_start
from levier.policy.rules import RECENT_KEPT
from levier.policy.snapshot import (
    LAST_SEQ,
    Snapshot,
    build_snapshot,
    drop_snapshots,
    new_generation,
)

__all__ = ["LeadState", "StateStore", "CHANNEL_CODE", "FLAG_BITS", "STATE_FILE", "SCHEMA", "LEAD_INDEXES", "facts_fingerprint", "encode",
           "decode", "push", "token_map"]

STATE_FILE = "policy_state.sqlite"
_READ_CACHE, _COPY_CACHE = -131072, -16384  # SQLite page cache (KiB) for reads, and while a rebuild copies the state
CHANNEL_CODE = {c: i for i, c in enumerate(TOUCH_CHANNELS)}
FLAG_BITS = {"vip": 1, "litigation": 2, "do_not_contact": 4}
_LEAD_COLS = ("lead_id", "account_id", "tz", "channel", "size", "phase", "owner", "created", "opted_out", "flags",
              "first_out", "last_out", "consec", "recent")
#: the indexes of the leads table (name → statement): a staged state has none, and a swap builds them
#: once after the copy rather than row by row
LEAD_INDEXES = {
    "ix_leads_owner": "CREATE INDEX IF NOT EXISTS ix_leads_owner ON leads (owner, created)",
    "ix_leads_created": "CREATE INDEX IF NOT EXISTS ix_leads_created ON leads (created)",
}
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS leads (lead_id TEXT PRIMARY KEY, account_id TEXT, tz TEXT, channel TEXT, size TEXT, phase TEXT,
  owner TEXT, created INTEGER, opted_out INTEGER, flags INTEGER NOT NULL, first_out INTEGER, last_out INTEGER,
  consec INTEGER NOT NULL, recent TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS accounts (account_id TEXT PRIMARY KEY, recent TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS weeks (week INTEGER, channel TEXT, size TEXT, touch_channel TEXT, sent INTEGER NOT NULL,
  complaints INTEGER NOT NULL, PRIMARY KEY (week, channel, size, touch_channel));
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, lead_id TEXT NOT NULL, account_id TEXT);
""" + "".join(f"{create};\n" for create in LEAD_INDEXES.values())


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
        self.con.execute(f"PRAGMA cache_size={_READ_CACHE}")  # 128 MiB page cache per connection
        self.con.execute("PRAGMA mmap_size=2147483648")  # reads straight from the OS page cache
        self.con.executescript(SCHEMA)
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
            folded = int(self.meta("folded") or 0)
            if self._snap is None or self._snap.generation != generation or self._snap.seq < folded:
                self.con.execute("COMMIT")
                self._load_snapshot(generation, folded)
                self.con.execute("BEGIN")
            rows = self.con.execute("SELECT seq, lead_id, account_id FROM changes WHERE seq > ? ORDER BY seq", (self._seq,)).fetchall()
        finally:
            self.con.execute("COMMIT")
        for seq, lead_id, account_id in rows:
            self._dirty.add(lead_id)
            if account_id:
                self._dirty_acc.add(account_id)
            self._seq = seq

    def _load_snapshot(self, generation: str, folded: int = 0) -> None:
        self._snap, self._seq, self._dirty, self._dirty_acc = None, 0, set(), set()
        if not self.use_snapshot or not generation:
            return
        snap = None
        try:
            snap = build_snapshot(self.path, generation, min_seq=folded)
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
            fresh = self._apply_touch(self.lead(lead.lead_id) or lead, ts, channel, outbound, outcome, responses)
            self.set_meta(**meta)
        self._weeks.pop(week_start(ts), None)
        self._totals = {}
        return fresh

    def _apply_touch(self, fresh: LeadState, ts: int, channel: str, outbound: bool, outcome: str | None,
                     responses: frozenset[str]) -> LeadState:
        """The writes of :meth:`record` (inside a write transaction)."""
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

    def replace_from(self, staged: Path, touches: Iterable[tuple[str, int, str, bool, str | None]],
                     responses: frozenset[str], meta: dict[str, str]) -> int:
        """Swap the whole state for a staged one (a SQLite file of the same schema, :mod:`levier.policy.build`).

        One short write transaction copies the staged tables in key order (C speed, no row in
        Python), then folds ``touches`` — (lead, epoch, channel, outbound, outcome), queued in the
        facts inbox and not yet in the facts — on top. Readers keep the old state until commit.
        """
        generation = new_generation()
        self.con.execute("ATTACH DATABASE ? AS staged", (str(staged),))
        self.con.execute(f"PRAGMA cache_size={_COPY_CACHE}")  # the copy streams through: no 128 MiB page cache
        try:
            with self._writing():
                for table in ("leads", "accounts", "weeks", "meta", "changes"):
                    self.con.execute(f"DELETE FROM {table}")
                for name in LEAD_INDEXES:  # built once after the copy (a sort), not row by row
                    self.con.execute(f"DROP INDEX IF EXISTS main.{name}")
                for table in ("leads", "accounts", "weeks"):
                    self.con.execute(f"INSERT INTO main.{table} SELECT * FROM staged.{table}")
                for create in LEAD_INDEXES.values():
                    self.con.execute(create)
                for lead_id, ts, channel, outbound, outcome in touches:
                    found = self.lead(lead_id)
                    if found is not None:
                        self._apply_touch(found, ts, channel, outbound, outcome, responses)
                self.con.execute("DELETE FROM changes")  # part of the new generation: no change log
                self.set_meta(**meta, generation=generation)
        finally:
            self.con.execute("DETACH DATABASE staged")
            self.con.execute(f"PRAGMA cache_size={_READ_CACHE}")
        drop_snapshots(self.path, keep=generation)
        self._weeks, self._totals = {}, {}
        return self.count()

    # -- the change log -----------------------------------------------------------------
    #: Changes logged after the snapshot beyond which :meth:`compact` folds them into a new one.
    CHANGES_MAX = 50_000

    def pending_changes(self) -> int:
        """Changes logged since the newest snapshot (the rows a compaction would fold)."""
        row = self.con.execute("SELECT count(*) FROM changes").fetchone()
        return int(row[0])

    def compact(self, *, force: bool = False) -> bool:
        """Fold the change log into a new snapshot when it holds more than :attr:`CHANGES_MAX` rows.

        The new snapshot (``<generation>-<seq>``) is written first, from a consistent read of
        the state on its own connection; then the changes it contains are deleted and
        ``meta.folded`` set to its seq in one write transaction, and every store maps it at its
        next check (docs/decisions/0186-policy-change-log-compaction.md). A caller sharing this
        store between threads runs :meth:`compact_due` and :meth:`fold` under its lock and the
        snapshot build (:func:`build_snapshot`) outside it.
        """
        due = self.compact_due(force=force)
        if due is None:
            return False
        snap = build_snapshot(self.path, due[0], min_seq=due[1])
        return snap is not None and self.fold(due[0], snap)

    def compact_due(self, *, force: bool = False) -> tuple[str, int] | None:
        """(generation, last change seq) to fold when the log is over its bound (or ``force``), else None."""
        if not force and self.pending_changes() <= self.CHANGES_MAX:
            return None
        generation = self.meta("generation") or ""
        return (generation, int(self.con.execute(LAST_SEQ).fetchone()[0])) if generation else None

    def fold(self, generation: str, snap: Snapshot) -> bool:
        """Delete the changes ``snap`` contains and publish it (False: the state moved to another generation)."""
        with self._writing():
            if self.meta("generation") != generation:
                return False
            self.con.execute("DELETE FROM changes WHERE seq <= ?", (snap.seq,))
            self.set_meta(folded=str(snap.seq))
        return True


def _token_map(state_path: Path) -> mmap.mmap:
    """The shared 8-byte change token next to the state file, mapped read-write."""
    return token_map(state_path.with_name(state_path.name + ".version"))


def token_map(path: Path) -> mmap.mmap:
    """An 8-byte token file (created if missing) mapped read-write: a writer puts random bytes in it,
    every process mapping it sees them at its next 8-byte comparison."""
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size < 8:
            os.ftruncate(fd, 8)
        return mmap.mmap(fd, 8)
    finally:
        os.close(fd)
