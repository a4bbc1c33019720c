"""Policy fixtures: a small workspace with hand-made leads and touches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from levier.data._frames import insert_frames
from levier.policy import Policy
from levier.workspace import Workspace

LEADS = [
    # lead, account, channel, size, tz, flags
    {"lead_id": "S1", "account_id": "A1", "channel": "inbound", "company_size": "smb", "timezone": "Europe/Paris", "owner": "alice", "created_at": "2026-03-02 08:00:00"},
    {"lead_id": "S2", "account_id": "A1", "channel": "inbound", "company_size": "smb", "timezone": "Europe/Paris", "owner": "alice", "created_at": "2026-03-02 08:00:00"},
    {"lead_id": "M1", "account_id": "A2", "channel": "outbound", "company_size": "mid", "timezone": "America/New_York", "owner": "bob", "created_at": "2026-03-02 08:00:00"},
    {"lead_id": "E1", "account_id": "A3", "channel": "outbound", "company_size": "enterprise", "timezone": "Asia/Tokyo", "owner": "bob", "created_at": "2026-03-02 08:00:00"},
    {"lead_id": "E2", "account_id": "A3", "channel": "inbound", "company_size": "enterprise", "timezone": "Asia/Tokyo", "owner": "carol", "created_at": "2026-03-02 08:00:00"},
    {"lead_id": "V1", "account_id": "A4", "channel": "inbound", "company_size": "smb", "timezone": "Europe/Paris", "owner": "alice", "created_at": "2026-03-02 08:00:00", "vip": True},
    {"lead_id": "L1", "account_id": "A4", "channel": "inbound", "company_size": "smb", "timezone": "Europe/Paris", "owner": "alice", "created_at": "2026-03-02 08:00:00", "litigation": True},
    {"lead_id": "N1", "account_id": "A4", "channel": "inbound", "company_size": "smb", "timezone": "Europe/Paris", "owner": "alice", "created_at": "2026-03-02 08:00:00", "do_not_contact": True},
    {"lead_id": "O1", "account_id": "A5", "channel": "inbound", "company_size": "smb", "timezone": "Europe/Paris", "owner": "alice", "created_at": "2026-03-02 08:00:00", "opted_out_at": "2026-03-10 12:00:00"},
    {"lead_id": "P1", "account_id": "A6", "channel": "partner", "company_size": "smb", "timezone": None, "owner": "dave", "created_at": "2026-03-02 08:00:00"},
]


def touches(lead: str, times: list[str], channel: str = "email", outcome: str = "no_answer", owner: str = "alice",
            direction: str = "out", prefix: str | None = None) -> list[dict[str, Any]]:
    return [{"touch_id": f"{prefix or lead}-{i}", "lead_id": lead, "at": at, "channel": channel, "direction": direction,
             "outcome": outcome, "owner": owner} for i, at in enumerate(times)]


@pytest.fixture
def make_policy(workspace: Workspace) -> Iterator[Callable[..., Policy]]:
    made: list[Policy] = []

    def make(touch_rows: list[dict[str, Any]] | None = None, leads: list[dict[str, Any]] | None = None, **kw: Any) -> Policy:
        insert_frames(workspace.facts, {"leads": leads or LEADS, "touches": touch_rows or []})
        p = Policy.load(workspace, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()
