"""A read-only columnar snapshot of the policy state, memory-mapped and shared by every process.

The SQLite state (:mod:`levier.policy.state`) stays the truth; a check, however, must not pay a
SQLite point read (~20 µs on a 1M-lead file) for every lead. A snapshot holds the same rows as
NumPy arrays written next to the state file (``policy_state.sqlite.snap/<generation>-<seq>/``)
and opened with ``mmap``: every worker process maps the same pages from the OS cache, so N
workers cost the memory of one, and opening it is instant.

A snapshot is tagged with the state's *generation* (a new one on every full rebuild or erasure)
and the last *change sequence* it contains; leads and accounts changed after it (the state's
``changes`` log) are read from SQLite instead (docs/decisions/0140-policy-snapshot.md).

Layout (N leads sorted by the UTF-8 bytes of their id, A accounts likewise):
``ids`` (N, bytes) · ``cat`` (N × 6 int32: account, tz, channel, size, phase, owner; -1 = None,
strings in ``cats.json``) · ``num`` (N × 8 int64: created, opted_out, flags, first_out, last_out,
consec, start and end of the lead's codes in ``rec``; :data:`NONE` = None) · ``rec`` (codes,
ascending per lead) · ``acc_ids`` (A) · ``acc_off`` (A + 1) · ``acc_rec``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sqlite3
import struct
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Snapshot", "NONE", "snapshot_dir", "build_snapshot", "open_snapshot", "drop_snapshots", "new_generation"]

#: int64 stand-in for SQL NULL in the numeric columns.
NONE = -(2**63)
_CATS = ("tz", "channel", "size", "phase", "owner")
_ARRAYS = ("ids", "cat", "num", "rec", "acc_ids", "acc_off", "acc_rec")
_CAT_ROW = struct.Struct("=6i")  # a row of ``cat`` (native order, as NumPy wrote it)
_NUM_ROW = struct.Struct("=8q")  # a row of ``num``


def snapshot_dir(state_path: Path) -> Path:
    """The directory holding the snapshots of a state file."""
    return state_path.with_name(state_path.name + ".snap")


def new_generation() -> str:
    return uuid.uuid4().hex[:16]


class Snapshot:
    """One snapshot opened read-only (NumPy views over ``mmap``; safe to share between threads)."""

    def __init__(self, path: Path, arrays: dict[str, np.ndarray], cats: dict[str, Any]) -> None:
        self.path = path
        self.generation: str = cats["generation"]
        self.seq: int = int(cats["seq"])
        self.ids, self.cat, self.num, self.rec = arrays["ids"], arrays["cat"], arrays["num"], arrays["rec"]
        self.acc_ids, self.acc_off, self.acc_rec = arrays["acc_ids"], arrays["acc_off"], arrays["acc_rec"]
        self.n = len(self.ids)
        self.names: list[list[str]] = [cats[c] for c in _CATS]
        self.acc_names: dict[int, str] = {}
        # rows decoded with struct from byte views of the same mapped pages (one C call per row)
        self._cat_b = memoryview(np.ascontiguousarray(self.cat)).cast("B")
        self._num_b = memoryview(np.ascontiguousarray(self.num)).cast("B")
        self._rec_q = memoryview(np.ascontiguousarray(self.rec)).cast("B").cast("q")

    def __len__(self) -> int:
        return self.n

    def nbytes(self) -> int:
        """Bytes of the mapped arrays (shared between processes through the OS page cache)."""
        return sum(int(a.nbytes) for a in (self.ids, self.cat, self.num, self.rec, self.acc_ids, self.acc_off, self.acc_rec))

    def lead_row(self, lead_id: str) -> tuple[Any, ...] | None:
        """The 13 scalar fields and the recent codes of a lead, in ``LeadState`` order (None: not here)."""
        key = lead_id.encode()
        ids = self.ids
        i = int(ids.searchsorted(key))
        if i >= self.n or ids[i] != key:
            return None
        acc, tz, ch, size, phase, owner = _CAT_ROW.unpack_from(self._cat_b, i * 24)
        created, opted, flags, first, last, consec, lo, hi = _NUM_ROW.unpack_from(self._num_b, i * 64)
        names = self.names
        return (lead_id, self._account_name(acc) if acc >= 0 else None,
                names[0][tz] if tz >= 0 else None, names[1][ch] if ch >= 0 else None,
                names[2][size] if size >= 0 else None, names[3][phase] if phase >= 0 else None,
                names[4][owner] if owner >= 0 else None,
                None if created == NONE else created, None if opted == NONE else opted, flags,
                None if first == NONE else first, None if last == NONE else last, consec, self._rec_q[lo:hi].tolist())

    def _account_name(self, k: int) -> str:
        name = self.acc_names.get(k)
        if name is None:
            if len(self.acc_names) > 200_000:
                self.acc_names.clear()
            name = self.acc_names[k] = bytes(self.acc_ids[k]).decode()
        return name

    def account(self, account_id: str) -> list[int]:
        """The account's recent codes (ascending; empty when the account has none)."""
        key = account_id.encode()
        i = int(self.acc_ids.searchsorted(key))
        if i >= len(self.acc_ids) or self.acc_ids[i] != key:
            return []
        return self.acc_rec[self.acc_off[i]:self.acc_off[i + 1]].tolist()  # type: ignore[no-any-return]


# -- building ---------------------------------------------------------------------------------------
def _bytes_array(values: list[bytes]) -> np.ndarray:
    width = max((len(v) for v in values), default=1) or 1
    return np.array(values, dtype=f"S{width}")


def _codes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(codes per row, all codes) of JSON integer lists such as ``[1, 2]`` (one parse for all rows)."""
    counts = np.fromiter((0 if len(t) <= 2 else t.count(",") + 1 for t in texts), dtype=np.int64, count=len(texts))
    body = ",".join(t[1:-1] for t in texts if len(t) > 2)
    flat = np.array(json.loads(f"[{body}]"), dtype=np.int64) if body else np.zeros(0, np.int64)
    return counts, flat


def _factor(values: list[Any]) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 for None) and the distinct strings, in first-seen order."""
    import pandas as pd

    codes, uniques = pd.factorize(np.array(values, dtype=object), use_na_sentinel=True)
    return codes.astype(np.int32), [str(u) for u in uniques]


def _read(con: sqlite3.Connection) -> tuple[str, int, dict[str, np.ndarray], dict[str, Any]]:
    """(generation, last change seq, arrays, category names) read in one consistent transaction."""
    con.execute("BEGIN")
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        generation = row[0] if row else ""
        seq = int(con.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0])
        texts = con.execute("SELECT lead_id, account_id, tz, channel, size, phase, owner FROM leads ORDER BY lead_id").fetchall()
        nums = con.execute("SELECT coalesce(created, ?1), coalesce(opted_out, ?1), flags, coalesce(first_out, ?1), "
                           "coalesce(last_out, ?1), consec FROM leads ORDER BY lead_id", (NONE,)).fetchall()
        recent = [r[0] for r in con.execute("SELECT recent FROM leads ORDER BY lead_id")]
        accounts = con.execute("SELECT account_id, recent FROM accounts ORDER BY account_id").fetchall()
    finally:
        con.execute("COMMIT")
    arrays, names = _arrays(texts, nums, recent, accounts)
    return generation, seq, arrays, names


def _arrays(texts: list[tuple[Any, ...]], nums: list[tuple[int, ...]], recent: list[str],
            accounts: list[tuple[str, str]]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    n = len(texts)
    cols = list(zip(*texts, strict=True)) if n else [()] * 7
    ids = _bytes_array([v.encode() for v in cols[0]])
    if n > 1 and not bool((ids[1:] > ids[:-1]).all()):  # SQLite's BINARY order is the UTF-8 byte order
        raise ValueError("policy state: lead ids are not in byte order")
    cat = np.full((n, 6), -1, dtype=np.int32)
    names: dict[str, Any] = {}
    for j, c in enumerate(_CATS):
        cat[:, 1 + j], names[c] = _factor(list(cols[2 + j])) if n else (np.zeros(0, np.int32), [])
    acc_codes, acc_seen = _factor(list(cols[1])) if n else (np.zeros(0, np.int32), [])
    table_ids = [a.encode() for a, _r in accounts]
    acc_ids = _bytes_array(sorted(set(table_ids) | {a.encode() for a in acc_seen}))
    if len(acc_seen):
        where = acc_ids.searchsorted(_bytes_array([a.encode() for a in acc_seen])).astype(np.int32)
        cat[:, 0] = np.where(acc_codes >= 0, where[np.maximum(acc_codes, 0)], -1)
    num = np.empty((n, 8), dtype=np.int64)
    if n:
        num[:, :6] = np.array(nums, dtype=np.int64)
    counts, rec = _codes(recent)
    ends = np.cumsum(counts)
    num[:, 6], num[:, 7] = ends - counts, ends
    acc_counts, acc_rec = _codes([r for _a, r in accounts])
    per_key = np.zeros(len(acc_ids), dtype=np.int64)
    if accounts:  # the accounts table is in byte order too, so its codes are already in key order
        per_key[acc_ids.searchsorted(_bytes_array(table_ids))] = acc_counts
    acc_off = np.concatenate([np.zeros(1, np.int64), np.cumsum(per_key)])
    return {"ids": ids, "cat": cat, "num": num, "rec": rec, "acc_ids": acc_ids, "acc_off": acc_off, "acc_rec": acc_rec}, names


@contextmanager
def _lock(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _newest(directory: Path, generation: str) -> Path | None:
    found = [p for p in directory.glob(f"{generation}-*") if p.is_dir() and (p / "cats.json").exists()] if generation else []
    return max(found, key=lambda p: int(p.name.rsplit("-", 1)[1]), default=None)


def open_snapshot(path: Path) -> Snapshot:
    """Map the arrays of one snapshot directory (raises OSError / ValueError when it is gone or damaged)."""
    cats = json.loads((path / "cats.json").read_text(encoding="utf-8"))
    arrays = {}
    for name in _ARRAYS:
        mm = np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False)
        arrays[name] = mm.view(np.ndarray)  # plain ndarray views: faster indexing than np.memmap
    return Snapshot(path, arrays, cats)


def build_snapshot(state_path: Path, generation: str, *, min_seq: int = 0) -> Snapshot | None:
    """The newest snapshot of ``generation`` with seq ≥ ``min_seq``, written from the state file if none.

    Several processes may ask at once: one builds (under a file lock), the others then map it.
    None when the state file has moved to another generation meanwhile.
    """
    directory = snapshot_dir(state_path)
    with _lock(directory):
        found = _newest(directory, generation)
        if found is not None and int(found.name.rsplit("-", 1)[1]) >= min_seq:
            return open_snapshot(found)
        con = sqlite3.connect(str(state_path), timeout=30, isolation_level=None)
        try:
            gen, seq, arrays, cats = _read(con)
        finally:
            con.close()
        if gen != generation:
            return None
        cats.update(generation=gen, seq=seq)
        final = directory / f"{gen}-{seq}"
        tmp = directory / f".{gen}-{seq}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for name, arr in arrays.items():
            np.save(tmp / f"{name}.npy", arr, allow_pickle=False)
        (tmp / "cats.json").write_text(json.dumps(cats), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in directory.glob(f"{gen}-*"):  # older snapshots of this generation
            if old != final and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
        return open_snapshot(final)


def drop_snapshots(state_path: Path, keep: str | None = None) -> None:
    """Delete every snapshot not of generation ``keep`` (mapped copies stay valid until unmapped)."""
    directory = snapshot_dir(state_path)
    if not directory.exists():
        return
    for old in directory.iterdir():
        if old.is_dir() and (keep is None or not old.name.startswith(f"{keep}-")):
            shutil.rmtree(old, ignore_errors=True)
