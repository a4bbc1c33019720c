"""The streamed build: small batches give the state of one batch, the DuckDB aggregates the state of the
windows; queued touches are in it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from tests.policy.conftest import LEADS, touches

from levier.data._frames import insert_frames
from levier.policy import Policy
from levier.policy._time import to_epoch
from levier.policy.build import build_state, lead_state_query, merge_recent
from levier.policy.rules import RECENT_KEPT
from levier.policy.state import StateStore, encode
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


def test_the_engine_aggregates_give_the_state_of_the_windows(workspace: Workspace) -> None:
    """DuckDB's GROUP BY + join and top-n aggregate (no window) against the window form other engines run:
    same last response, non-responded run and newest outbound codes, ties on one second included."""
    many = [f"2026-03-0{1 + i // 10} {8 + i % 10:02d}:00:00" for i in range(RECENT_KEPT + 5)]  # 21 > RECENT_KEPT
    rows = (touches("S1", many) + touches("S1", ["2026-03-02 12:00:00"], direction="in", outcome="replied", prefix="S1in")
            + touches("S2", many[:8], prefix="S2e") + touches("S2", many[:8], channel="call", prefix="S2c")  # same seconds
            + touches("S2", [many[0]], channel="sms", prefix="S2s") + touches("M1", ["2026-03-02 15:00:00"], outcome="meeting_booked"))
    insert_frames(workspace.facts, {"leads": LEADS, "touches": rows})
    responses = frozenset({"replied", "meeting_booked"})

    def state(windows: bool) -> dict[str, dict]:
        out = lead_state_query(workspace, responses, windows=windows).to_pyarrow().to_pylist()
        return {r["lead_id"]: {**r, "recent": sorted(r["recent"] or [])} for r in out}

    aggregates, windows = state(False), state(True)
    assert aggregates == windows
    s1, s2 = aggregates["S1"], aggregates["S2"]
    assert s1["consec"] == sum(at > "2026-03-02 12:00:00" for at in many) == 6  # the outbound touches after the reply
    assert s1["recent"] == sorted(encode(to_epoch(datetime.fromisoformat(at)), "email") for at in many)[-RECENT_KEPT:]
    # 17 outbound, three of them in the oldest second: the cut keeps the higher channel codes of that second
    oldest = {c: encode(to_epoch(datetime.fromisoformat(many[0])), c) for c in ("email", "call", "sms")}
    assert len(s2["recent"]) == RECENT_KEPT and min(oldest.values()) not in s2["recent"]
    assert sorted(oldest.values())[1:] == [c for c in s2["recent"] if c in oldest.values()]
    assert aggregates["M1"]["consec"] == 0 and aggregates["P1"]["recent"] == []


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
