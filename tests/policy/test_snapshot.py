"""The snapshot written chunk by chunk: the same arrays whatever the chunk, readable by NumPy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.policy.conftest import touches

from levier.policy import snapshot
from levier.policy.snapshot import NONE, _NpyWriter, build_snapshot, open_snapshot, snapshot_dir


def test_npy_writer_writes_what_numpy_reads(tmp_path: Path) -> None:
    w = _NpyWriter(tmp_path / "a.npy", np.int64, (2,))
    w.write(np.array([[1, 2], [3, 4]]))
    w.write(np.zeros((0, 2), np.int64))
    w.write(np.array([[5, NONE]]))
    w.close()
    assert np.load(tmp_path / "a.npy").tolist() == [[1, 2], [3, 4], [5, NONE]]
    assert not (tmp_path / "a.raw").exists()


def _arrays(path: Path) -> dict[str, list]:
    snap = open_snapshot(path)
    out = {k: getattr(snap, k).tolist() for k in ("ids", "cat", "num", "rec", "acc_ids", "acc_off", "acc_rec")}
    out["cats"] = json.loads((path / "cats.json").read_text())
    return out


def test_chunks_of_two_rows_write_the_snapshot_of_one_chunk(make_policy, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    p = make_policy(touches("S1", ["2026-03-03 08:30:00", "2026-03-03 09:10:00"]) + touches("E2", ["2026-03-04 01:00:00"], channel="call")
                    + touches("M1", ["2026-03-05 15:00:00"], owner="bob"))
    gen = p.store.meta("generation") or ""
    one = _arrays(snapshot_dir(p.store.path) / f"{gen}-0")
    p.store.con.execute("INSERT INTO changes (lead_id) VALUES ('S1')")  # seq 1: a new snapshot is written
    monkeypatch.setattr(snapshot, "CHUNK", 2)
    small = build_snapshot(p.store.path, gen, min_seq=1)
    assert small is not None and small.seq == 1
    two = _arrays(small.path)
    assert {k: v for k, v in two.items() if k != "cats"} == {k: v for k, v in one.items() if k != "cats"}
    assert two["cats"] == {**one["cats"], "seq": 1}
    assert one["ids"][:3] == [b"E1", b"E2", b"L1"] and one["acc_ids"] == [b"A1", b"A2", b"A3", b"A4", b"A5", b"A6"]
    assert one["acc_off"] == [0, 2, 3, 4, 4, 4, 4]  # A1: S1's two, A2: M1, A3: E2, the others none
    assert one["cats"]["owner"] == ["bob", "carol", "alice", "dave"]  # first seen in lead id order (E1 bob, E2 carol, L1 alice)
    s1 = small.lead_row("S1")
    assert s1 is not None and s1[1] == "A1" and len(s1[13]) == 2 and p.store.lead("S1").recent == s1[13]
