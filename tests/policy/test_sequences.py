"""Sequences due per rep and the TTF SLA queue."""

from __future__ import annotations

from datetime import datetime

from tests.policy.conftest import touches

from levier.policy.sequences import due_today, ttf_queue


def test_due_today_follows_the_smb_inbound_sequence(make_policy) -> None:  # noqa: ANN001
    # S1/S2 created 2 March 08:00 UTC (09:00 Paris): day 0 call + email, day 2 email, day 4 call, day 8 email
    rows = touches("S1", ["2026-03-02 08:30:00"], channel="call") + touches("S1", ["2026-03-02 08:40:00"], prefix="e")
    p = make_policy(rows)
    due = due_today(p, "alice", "2026-03-04T09:00:00")
    got = {(d.lead_id, d.day, d.channel, d.overdue_days) for d in due}
    untouched = {(lead, day, ch, late) for lead in ("S2", "O1") for day, ch, late in ((0, "call", 2), (0, "email", 2), (2, "email", 0))}
    assert got == {("S1", 2, "email", 0)} | untouched  # O1 opts out only on 10 March
    assert due[0].overdue_days == 2 and due[-1].overdue_days == 0  # most overdue first
    assert all(d.decision == "allow" for d in due)
    assert due_today(p, "nobody", "2026-03-04T09:00:00") == []
    # V1, L1, N1 (escalated) and O1 (opted out later) are alice's too: flagged leads are never due
    assert not {d.lead_id for d in due} & {"V1", "L1", "N1"}


def test_ttf_queue_lists_breaches_most_overdue_first(make_policy) -> None:  # noqa: ANN001
    leads = [
        {"lead_id": "A", "channel": "inbound", "company_size": "smb", "created_at": "2026-03-03 06:00:00", "owner": "alice"},
        {"lead_id": "B", "channel": "inbound", "company_size": "smb", "created_at": "2026-03-03 08:00:00", "owner": "bob"},
        {"lead_id": "C", "channel": "inbound", "company_size": "smb", "created_at": "2026-03-03 09:30:00", "owner": "bob"},
        {"lead_id": "D", "channel": "inbound", "company_size": "smb", "created_at": "2026-03-03 05:00:00", "owner": "bob"},
        {"lead_id": "M", "channel": "outbound", "company_size": "mid", "created_at": "2026-03-03 05:00:00", "owner": "bob"},
    ]
    p = make_policy(touches("D", ["2026-03-03 06:00:00"]), leads=leads)
    q = ttf_queue(p, "2026-03-03T11:00:00")
    assert [(b.lead_id, b.overdue_hours) for b in q] == [("A", 3.0), ("B", 1.0)]  # C within 2 h, D touched, M no SLA
    assert q[0].deadline == datetime(2026, 3, 3, 8)
    assert [b.lead_id for b in ttf_queue(p, "2026-03-03T11:00:00", rep="bob")] == ["B"]
