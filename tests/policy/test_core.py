"""The policy object: rules reloaded in every worker when they change."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.policy.conftest import touches

from levier.data._frames import insert_frames
from levier.loop.services import users
from levier.policy import Policy, default_rules_text, save_rules
from levier.web.app import create_app
from levier.workspace import Workspace, create_workspace

AT = "2027-06-08T13:00:00"  # a Tuesday, 15:00 in Paris: inside the sending window
TWO_SMS = default_rules_text().replace("  sms: 1\n", "  sms: 2\n", 1)


def test_every_policy_on_a_workspace_follows_saved_rules(make_policy) -> None:  # noqa: ANN001
    p = make_policy()
    other = Policy.load(p.ws, state_path=p.store.path)
    try:
        p.record_touch("S1", "sms", "2026-03-03T08:30:00", outcome="delivered")
        assert other.check("S1", "sms", "2026-03-03T10:00:00").rules == ("daily_cap.sms",) and other.source == "default"
        save_rules(p.ws, TWO_SMS)
        assert other.check("S1", "sms", "2026-03-03T10:00:00").allowed  # the next check, no refresh
        assert other.source == "playbook:contact-policy:v1:draft" and other.rules.daily_caps["sms"] == 2
        assert not other.reload_rules()  # already current
        fixed = Policy.load(p.ws, state_path=p.store.path, rules=p.rules)  # rules given: not the workspace's
        try:
            save_rules(p.ws, default_rules_text())
            assert fixed.rules is p.rules and not fixed.reload_rules()
            assert other.check("S1", "sms", "2026-03-03T10:00:00").rules == ("daily_cap.sms",)
        finally:
            fixed.close()
    finally:
        other.close()


def test_new_response_outcomes_rebuild_the_state_at_the_next_refresh(make_policy) -> None:  # noqa: ANN001
    p = make_policy(touches("S1", ["2026-03-03 08:30:00", "2026-03-04 08:30:00"], outcome="opened"))
    assert p.lead_state("S1").consec == 2 and not p.refresh_due(60)
    save_rules(p.ws, default_rules_text().replace("response_outcomes: [replied, connected, meeting_booked]",
                                                  "response_outcomes: [replied, connected, meeting_booked, opened]"))
    assert p.check("S1", "call", "2026-03-05T10:00:00") is not None and p.refresh_due(60)  # reloaded; the state is stale
    assert p.is_stale() and p.store.meta("responses") == "connected,meeting_booked,replied"
    p.refresh_every(60)  # what a server does before the next request
    assert p.lead_state("S1").consec == 0 and p.store.meta("responses") == "connected,meeting_booked,opened,replied"


@pytest.fixture
def served(tmp_path: Path) -> tuple[Path, str]:
    with create_workspace(tmp_path / "ws", timezone="Europe/Paris") as ws:
        insert_frames(ws.facts, {"leads": [{"lead_id": "L1", "created_at": datetime(2027, 1, 4), "timezone": "Europe/Paris",
                                            "channel": "inbound", "company_size": "smb", "owner": "ana"}]})
        with ws.session() as s:
            token = users.create_token(s, users.create_user(s, "ed", role="editor").id, "test")[1]
            s.commit()
    return tmp_path / "ws", token


def test_two_read_only_workers_reload_the_rules_another_process_saved(served: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`levier serve --workers 2`: each worker loaded the rules once; a save elsewhere reaches both at their next check."""
    monkeypatch.setenv("LEVIER_LANG", "en")
    path, token = served
    auth = {"Authorization": f"Bearer {token}"}

    def check(client: TestClient) -> str:
        r = client.post("/api/v1/policy/check", json={"lead_id": "L1", "channel": "sms", "at": AT}, headers=auth)
        assert r.status_code == 200, r.text
        return str(r.json()["decision"])

    with TestClient(create_app(path, read_only=True)) as a, TestClient(create_app(path, read_only=True)) as b:
        r = a.post("/api/v1/touches", json={"lead_id": "L1", "channel": "sms", "at": "2027-06-08T07:30:00", "outcome": "delivered"},
                   headers=auth)
        assert r.status_code == 201, r.text
        assert check(a) == check(b) == "deny"
        ws: Workspace = a.app.state.workspace
        save_rules(ws, TWO_SMS)  # as `levier policy set` does from a third process
        assert check(a) == check(b) == "allow"
        assert b.get("/api/v1/policy", headers=auth).json()["rules"]["daily_caps"]["sms"] == 2
