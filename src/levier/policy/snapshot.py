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

A snapshot is written from SQLite :data:`CHUNK` rows at a time, each array appended to its file
as it goes: building one holds no array whole in memory, whatever the number of leads
(docs/decisions/0185-policy-streamed-build.md). When the ``changes`` log grows past its bound it
is folded into a new snapshot of the same generation (``meta.folded``; decision 0186).
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


# -- building (streamed: bounded memory whatever the number of leads) -----------------------------------
#: The last change a snapshot written now contains: the newest change logged, or the last one folded
#: into a snapshot when the log has been compacted since (``meta.folded``).
LAST_SEQ = ("SELECT max(coalesce((SELECT max(seq) FROM changes), 0), "
            "coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'folded'), 0))")
#: Rows read from SQLite and written to the arrays at a time.
CHUNK = 50_000


def _bytes_array(values: list[bytes], width: int | None = None) -> np.ndarray:
    if width is None:
        width = max((len(v) for v in values), default=1) or 1
    return np.array(values, dtype=f"S{width}")


def _codes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(codes per row, all codes) of JSON integer lists such as ``[1, 2]`` (one parse for all rows)."""
    counts = np.fromiter((0 if len(t) <= 2 else t.count(",") + 1 for t in texts), dtype=np.int64, count=len(texts))
    body = ",".join(t[1:-1] for t in texts if len(t) > 2)
    flat = np.array(json.loads(f"[{body}]"), dtype=np.int64) if body else np.zeros(0, np.int64)
    return counts, flat


def _read_header(con: sqlite3.Connection) -> tuple[str, int]:
    row = con.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
    return (row[0] if row else ""), int(con.execute(LAST_SEQ).fetchone()[0])


class _NpyWriter:
    """One ``.npy`` file written chunk by chunk: the rows go to a side file, the header (whose
    shape is known only at the end) is written first on :meth:`close`, then the rows are copied
    behind it by the kernel (``os.sendfile``: no copy through this process's memory)."""

    def __init__(self, path: Path, dtype: Any, row_shape: tuple[int, ...] = ()) -> None:
        self.path, self.dtype, self.row_shape, self.rows = path, np.dtype(dtype), row_shape, 0
        self._raw = open(path.with_suffix(".raw"), "wb")  # noqa: SIM115 - closed in close()

    def write(self, chunk: np.ndarray) -> None:
        chunk = np.ascontiguousarray(chunk, dtype=self.dtype)
        self._raw.write(chunk.tobytes())
        self.rows += len(chunk)

    def close(self) -> None:
        self._raw.close()
        raw = self.path.with_suffix(".raw")
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": (self.rows, *self.row_shape)}
        with open(self.path, "wb") as out, open(raw, "rb") as src:
            np.lib.format.write_array_header_1_0(out, header)
            out.flush()
            size, offset = os.fstat(src.fileno()).st_size, 0
            while offset < size:
                offset += os.sendfile(out.fileno(), src.fileno(), offset, size - offset)
        raw.unlink()


class _Factor:
    """Integer codes of a category column, chunk by chunk (-1 for None; names in first-seen order)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def codes(self, values: list[Any]) -> np.ndarray:
        import pandas as pd

        local, uniques = pd.factorize(np.array(values, dtype=object), use_na_sentinel=True)
        if not len(values):
            return np.zeros(0, np.int32)
        glob = np.array([self.index.setdefault(str(u), len(self.index)) for u in uniques] + [-1], dtype=np.int32)
        return glob[local]  # -1 (None) picks the trailing -1

    def names(self) -> list[str]:
        return list(self.index)


def _width(con: sqlite3.Connection, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0] or 1) or 1


def _write_accounts(con: sqlite3.Connection, tmp: Path, chunk: int) -> None:
    """``acc_ids`` (every account of the leads and of the accounts table, byte order), ``acc_off``, ``acc_rec``."""
    width = _width(con, "SELECT max(length(CAST(account_id AS BLOB))) FROM (SELECT account_id FROM accounts "
                        "UNION ALL SELECT account_id FROM leads)")
    ids, off, rec = _NpyWriter(tmp / "acc_ids.npy", f"S{width}"), _NpyWriter(tmp / "acc_off.npy", np.int64), _NpyWriter(tmp / "acc_rec.npy", np.int64)
    off.write(np.zeros(1, np.int64))
    total = 0
    cur = con.execute("SELECT k.account_id, a.recent FROM (SELECT account_id FROM accounts UNION "
                      "SELECT account_id FROM leads WHERE account_id IS NOT NULL) k "
                      "LEFT JOIN accounts a ON a.account_id = k.account_id ORDER BY k.account_id")
    while rows := cur.fetchmany(chunk):
        counts, codes = _codes([r[1] or "[]" for r in rows])
        ids.write(_bytes_array([r[0].encode() for r in rows], width))
        off.write(total + np.cumsum(counts))
        rec.write(codes)
        total += int(counts.sum())
    for w in (ids, off, rec):
        w.close()


def _write_leads(con: sqlite3.Connection, tmp: Path, chunk: int) -> dict[str, Any]:
    """``ids``, ``cat``, ``num``, ``rec`` of the leads in byte order of their id; returns the category names."""
    width = _width(con, "SELECT max(length(CAST(lead_id AS BLOB))) FROM leads")
    acc_ids = np.load(tmp / "acc_ids.npy", mmap_mode="r", allow_pickle=False)
    ids, cat, num, rec = (_NpyWriter(tmp / "ids.npy", f"S{width}"), _NpyWriter(tmp / "cat.npy", np.int32, (6,)),
                          _NpyWriter(tmp / "num.npy", np.int64, (8,)), _NpyWriter(tmp / "rec.npy", np.int64))
    factors = [_Factor() for _c in _CATS]
    total, last = 0, b""
    cur = con.execute("SELECT lead_id, account_id, tz, channel, size, phase, owner, coalesce(created, ?1), coalesce(opted_out, ?1), "
                      "flags, coalesce(first_out, ?1), coalesce(last_out, ?1), consec, recent FROM leads ORDER BY lead_id", (NONE,))
    while rows := cur.fetchmany(chunk):
        cols = list(zip(*rows, strict=True))
        keys = _bytes_array([v.encode() for v in cols[0]], width)
        if bool((keys[1:] <= keys[:-1]).any()) or keys[0] <= last:  # SQLite's BINARY order is the UTF-8 byte order
            raise ValueError("policy state: lead ids are not in byte order")
        last = keys[-1]
        c = np.full((len(rows), 6), -1, dtype=np.int32)
        for j, f in enumerate(factors):
            c[:, 1 + j] = f.codes(list(cols[2 + j]))
        acc = [a.encode() if a is not None else None for a in cols[1]]
        has = np.array([a is not None for a in acc], dtype=bool)
        if has.any():
            c[has, 0] = acc_ids.searchsorted(_bytes_array([a for a in acc if a is not None], acc_ids.dtype.itemsize))
        counts, codes = _codes(list(cols[13]))
        n = np.empty((len(rows), 8), dtype=np.int64)
        n[:, :6] = np.array(list(zip(*cols[7:13], strict=True)), dtype=np.int64)
        ends = total + np.cumsum(counts)
        n[:, 6], n[:, 7] = ends - counts, ends
        total = int(ends[-1])
        for w, arr in ((ids, keys), (cat, c), (num, n), (rec, codes)):
            w.write(arr)
    for w in (ids, cat, num, rec):
        w.close()
    return {c: f.names() for c, f in zip(_CATS, factors, strict=True)}


def _write_all(con: sqlite3.Connection, tmp: Path, chunk: int) -> tuple[str, int, dict[str, Any]]:
    """Every array of a snapshot written into ``tmp`` from one consistent read transaction."""
    con.execute("BEGIN")
    try:
        generation, seq = _read_header(con)
        _write_accounts(con, tmp, chunk)
        names = _write_leads(con, tmp, chunk)
    finally:
        con.execute("COMMIT")
    return generation, seq, names


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
        con.execute("PRAGMA cache_size=-16384")  # 16 MiB: the rows stream through, nothing is kept
        tmp = directory / f".{generation}.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            gen, seq, cats = _write_all(con, tmp, CHUNK)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            con.close()
        if gen != generation:
            shutil.rmtree(tmp, ignore_errors=True)
            return None
        cats.update(generation=gen, seq=seq)
        final = directory / f"{gen}-{seq}"
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
