"""The streamed build: small batches give the state of one batch, the DuckDB aggregates the state of the
windows; queued touches are in it."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
from tests.policy.conftest import LEADS, touches

from levier.data._frames import insert_frames
from levier.policy import Policy
from levier.policy._time import to_epoch
from levier.policy.build import build_state, merge_recent, stage_state
from levier.policy.recent import codes_json, top_per_key
from levier.policy.rules import RECENT_KEPT
from levier.policy.state import LEAD_INDEXES, StateStore, encode
from levier.workspace import Workspace, open_workspace

ROWS = (touches("S1", ["2026-03-03 08:30:00", "2026-03-04 09:10:00"]) + touches("S2", ["2026-03-03 10:00:00"], channel="call")
        + touches("E1", ["2026-03-03 01:00:00"], owner="bob") + touches("E2", ["2026-03-04 01:00:00", "2026-03-05 01:00:00"], owner="carol")
        + touches("M1", ["2026-03-02 15:00:00"], direction="in", outcome="replied", owner="bob")
        + touches("O1", ["2026-03-04 12:00:00"], outcome="unsubscribed"))


def _tables(store: StateStore) -> tuple[list, list, list]:
    con = store.con
    return (con.execute("SELECT * FROM leads ORDER BY lead_id").fetchall(), con.execute("SELECT * FROM accounts ORDER BY account_id").fetchall(),
            con.execute("SELECT * FROM weeks ORDER BY 1, 2, 3, 4").fetchall())


def test_merge_recent_keeps_the_newest_codes_in_order() -> None:
    assert merge_recent("[1, 5]", "[3]") == "[1, 3, 5]"
    assert json.loads(merge_recent(json.dumps(list(range(10))), json.dumps(list(range(10, 20))))) == list(range(4, 20))  # 16 kept


def test_batches_of_two_leads_build_the_state_of_one_batch(workspace: Workspace, tmp_path: Path) -> None:
    insert_frames(workspace.facts, {"leads": LEADS, "touches": ROWS})
    responses = frozenset({"replied", "connected", "meeting_booked"})
    one, small = StateStore(tmp_path / "one.sqlite"), StateStore(tmp_path / "small.sqlite")
    try:
        assert build_state(workspace, one, responses) == build_state(workspace, small, responses, chunk=2) == len(LEADS)
        assert _tables(one) == _tables(small)
        indexes = {r[0] for r in one.con.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leads'")}
        assert set(LEAD_INDEXES) <= indexes  # built again after the swap's copy
        assert build_state(workspace, one, responses) == len(LEADS) and _tables(one) == _tables(small)  # a second swap
        accounts = dict(_tables(small)[1])
        a1 = [encode(to_epoch(datetime(2026, 3, 3, 8, 30)), "email"), encode(to_epoch(datetime(2026, 3, 3, 10, 0)), "call"),
              encode(to_epoch(datetime(2026, 3, 4, 9, 10)), "email")]
        assert json.loads(accounts["A1"]) == a1  # S1 and S2, merged across batches, ascending
        assert len(json.loads(accounts["A3"])) == 3 and "A2" not in accounts  # M1 has only an inbound touch
        o1 = small.lead("O1")
        assert o1 is not None and o1.opted_out == to_epoch(datetime(2026, 3, 4, 12, 0))
    finally:
        one.close()
        small.close()


def test_the_sorted_streams_give_the_state_of_the_windows(workspace: Workspace, tmp_path: Path) -> None:
    """DuckDB's way (GROUP BY + join, newest codes cut from streams sorted by the engine, batches of 2
    leads so runs cross batch boundaries) against the windowed query other engines run: same last
    response, non-responded run and newest outbound codes per lead and per account, ties included."""
    many = [f"2026-03-0{1 + i // 10} {8 + i % 10:02d}:00:00" for i in range(RECENT_KEPT + 5)]  # 21 > RECENT_KEPT
    rows = (touches("S1", many) + touches("S1", ["2026-03-02 12:00:00"], direction="in", outcome="replied", prefix="S1in")
            + touches("S2", many[:8], prefix="S2e") + touches("S2", many[:8], channel="call", prefix="S2c")  # same seconds
            + touches("S2", [many[0]], channel="sms", prefix="S2s") + touches("M1", ["2026-03-02 15:00:00"], outcome="meeting_booked")
            + touches("ZZ", ["2026-03-02 15:00:00"]))  # a touch of no known lead
    insert_frames(workspace.facts, {"leads": LEADS, "touches": rows})
    responses = frozenset({"replied", "meeting_booked"})

    def staged(windows: bool) -> tuple[dict, dict]:
        path = tmp_path / f"staged-{windows}.sqlite"
        assert stage_state(workspace, path, responses, chunk=2, windows=windows) == len(LEADS)
        con = sqlite3.connect(path)
        try:
            names = [c[1] for c in con.execute("PRAGMA table_info(leads)")]
            leads = {r[0]: dict(zip(names, r, strict=True)) for r in con.execute("SELECT * FROM leads")}
            return leads, dict(con.execute("SELECT * FROM accounts").fetchall())
        finally:
            con.close()

    (leads, accounts), windowed = staged(False), staged(True)
    assert (leads, accounts) == windowed
    s1, s2 = leads["S1"], leads["S2"]
    assert s1["consec"] == sum(at > "2026-03-02 12:00:00" for at in many) == 6  # the outbound touches after the reply
    assert json.loads(s1["recent"]) == sorted(encode(to_epoch(datetime.fromisoformat(at)), "email") for at in many)[-RECENT_KEPT:]
    # 17 outbound, three of them in the oldest second: the cut keeps the higher channel codes of that second
    oldest = {c: encode(to_epoch(datetime.fromisoformat(many[0])), c) for c in ("email", "call", "sms")}
    recent2 = json.loads(s2["recent"])
    assert len(recent2) == RECENT_KEPT and min(oldest.values()) not in recent2
    assert sorted(oldest.values())[1:] == [c for c in recent2 if c in oldest.values()]
    assert json.loads(accounts["A1"]) == sorted(json.loads(s1["recent"]) + recent2)[-RECENT_KEPT:]  # S1 and S2
    assert leads["M1"]["consec"] == 0 and leads["P1"]["recent"] == "[]" and "A6" not in accounts


@pytest.mark.parametrize("sizes", [[5], [1, 1, 1, 1, 1], [2, 3], [3, 2], [4, 1]])
def test_top_per_key_cuts_each_run_across_batch_boundaries(sizes: list[int]) -> None:
    keys = ["a", "a", "a", "b", "c"]
    codes = [9, 7, 7, 4, 8]
    batches, at = [], 0
    for size in sizes:
        batches.append(pa.RecordBatch.from_pydict({"key": keys[at:at + size], "code": codes[at:at + size]}))
        at += size
    assert list(top_per_key(batches, k=2)) == [("a", [7, 9]), ("b", [4]), ("c", [8])]
    assert list(top_per_key([], k=2)) == []


@pytest.mark.parametrize("codes", [[], [7], [1, 22, 333], [-4, 0, 2**62]])
def test_codes_json_is_the_json_of_the_list(codes: list[int]) -> None:
    assert codes_json(codes) == json.dumps(codes) and json.loads(codes_json(codes)) == codes


def test_a_rebuild_includes_the_touches_still_queued_in_the_inbox(workspace: Workspace, tmp_path: Path) -> None:
    insert_frames(workspace.facts, {"leads": LEADS, "touches": touches("S1", ["2026-03-03 08:30:00"])})
    path = workspace.path
    workspace.close()
    with open_workspace(path, read_only=True) as ws:  # a worker of `levier serve --workers 2`
        with Policy.load(ws) as worker:
            worker.record_touch("S1", "email", "2026-03-03T09:30:00", outcome="delivered", touch_id="q-1")
            assert ws.facts.count("touches") == 1  # queued, not in the facts
        with Policy.load(ws, state_path=tmp_path / "rebuilt.sqlite", rebuild=True) as rebuilt:
            s1 = rebuilt.lead_state("S1")
            assert s1.last_out == to_epoch(datetime(2026, 3, 3, 9, 30)) and s1.consec == 2 and len(s1.recent) == 2
            assert rebuilt.check("S1", "email", "2026-03-03T10:00:00").rules == ("daily_cap.email",)
            assert rebuilt.store.account("A1") == sorted([encode(to_epoch(datetime(2026, 3, 3, 8, 30)), "email"),
                                                          encode(to_epoch(datetime(2026, 3, 3, 9, 30)), "email")])
            assert rebuilt.check("S2", "email", "2026-03-03T10:00:00").allowed
