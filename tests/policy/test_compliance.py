"""Compliance audit: counts by hand on a small table, and the demo's injected touches after opt-out."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.policy.conftest import touches

from levier.data._frames import insert_frames
from levier.policy import Policy
from levier.policy.compliance import audit, audit_section
from levier.workspace import create_workspace


def test_hand_counted_violations(make_policy) -> None:  # noqa: ANN001
    rows = touches("S1", ["2026-03-03 08:00:00", "2026-03-03 09:00:00", "2026-03-03 10:00:00", "2026-03-03 20:00:00"])
    rows += touches("O1", ["2026-03-10 09:00:00", "2026-03-11 09:00:00"], owner="zoe")  # opt-out 10 March 12:00
    rows += touches("V1", ["2026-03-04 09:00:00"], channel="call") + touches("V1", ["2026-03-05 09:00:00"], prefix="v")
    rows += touches("E1", ["2026-03-02 01:00:00", "2026-03-02 02:00:00"], channel="call", owner="bob")
    rows += touches("E2", ["2026-03-03 00:30:00"], channel="call", owner="carol")  # 3rd account touch within 48 h
    rows += touches("M1", [f"2026-03-{d:02d} 15:00:00" for d in (16, 17, 18, 19, 20, 23)], channel="call", owner="bob")  # 6 non-responses…
    p = make_policy(rows)
    r = audit(p.ws, p.rules, "2026-03-01", "2026-03-31")
    assert r.touches == 17
    assert r.by_rule == {"window": 1, "daily_cap": 2, "cadence_max": 0, "account_cap": 1, "cool_down": 1, "opt_out": 1, "escalation": 1}
    assert r.opt_out_touch_ids == ["O1-1"] and r.alarm
    got = {(v["rule"], v["rep"], v["segment"], v["week"]): v["count"] for v in r.violations}
    assert got[("daily_cap", "alice", "smb-inbound", "2026-03-02")] == 2
    assert got[("opt_out", "zoe", "smb-inbound", "2026-03-09")] == 1
    assert got[("account_cap", "carol", "enterprise", "2026-03-02")] == 1
    assert got[("cool_down", "bob", "mid-outbound", "2026-03-23")] == 1  # the 6th came 3 days after the 5th
    assert got[("escalation", "alice", "smb-inbound", "2026-03-02")] == 1  # V1 emailed, validated channel is call
    ttf = {(t["segment"], t["rep"]): (t["leads"], t["breaches"]) for t in r.ttf}
    assert ttf == {("smb-inbound", "alice"): (2, 2)}  # S1 touched after 24 h, S2 never; flagged and opted-out leads excluded
    section = audit_section(p.ws, "2026-03-01", "2026-03-31", p.rules)
    assert section["touches_after_opt_out"] == 1 and section["alarm"] and section["summary"].startswith(("RED ALARM", "ALERTE ROUGE"))


def test_complaint_weeks_against_the_guardrail(make_policy) -> None:  # noqa: ANN001
    rows = touches("S1", ["2026-03-02 09:00:00", "2026-03-03 09:00:00"]) + touches("S2", ["2026-03-03 09:00:00"], outcome="complaint")
    p = make_policy(rows)
    r = audit(p.ws, p.rules, "2026-03-01", "2026-03-08")
    (week,) = r.complaints
    assert (week["sent"], week["complaints"], week["rate"]) == (3, 1, pytest.approx(1 / 3))
    assert not week["breach"]  # 3 emails < min_sent (100): too few to judge


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    demo_mod = pytest.importorskip("levier.data.demo")
    base = tmp_path_factory.mktemp("policy_demo")
    summary = demo_mod.generate(base / "data", leads=3000, seed=11)
    truth = json.loads(Path(summary.ground_truth).read_text(encoding="utf-8"))["defects"]
    ws = create_workspace(base / "ws", timezone="UTC")
    insert_frames(ws.facts, {name: pq.read_table(path) for name, path in summary.files.items()})
    yield ws, truth
    ws.close()


def test_demo_touches_after_opt_out_are_exactly_the_injected_ones(demo) -> None:  # noqa: ANN001
    ws, truth = demo
    with Policy.load(ws) as p:
        r = audit(ws, p.rules, "2020-01-01", "2026-12-31")
        assert r.opt_out_touch_ids == sorted(truth["touches_after_opt_out"]["ids"])
        assert r.by_rule["opt_out"] == truth["touches_after_opt_out"]["count"] > 0
        lead = ws.table("touches").filter(ws.table("touches").touch_id == r.opt_out_touch_ids[0]).lead_id.execute()[0]
        assert p.check(lead, "email", "2026-10-05T09:00:00").rules == ("opt_out",)
