"""The loop through /api/v1: cycles, retros, actions verified from the facts, experiments, learnings,
playbook, search, scorecard, exports, access journal and webhooks."""

from __future__ import annotations

import csv
import io

import pytest

from loop.conftest import insert_january


def _ok(resp, status: int = 200):  # noqa: ANN001, ANN202
    assert resp.status_code == status, resp.text
    return resp.json()


def test_cycle_and_audit_results(api, monkeypatch) -> None:  # noqa: ANN001
    import levier.analysis as analysis

    c = _ok(api.call("POST", "/cycles", role="editor", json={"name": "Oct", "period_start": "2026-10-01", "period_end": "2026-11-01", "raci": {"responsible": "ana"}}), 201)
    assert len(c["steps"]) == 7
    _ok(api.call("POST", f"/cycles/{c['id']}/steps/frame/done", role="editor", json={"note": "framing signed"}))

    class Result:
        def to_dict(self) -> dict:
            return {"version": 1, "overall": {"conversion_rate": 0.21}}

    monkeypatch.setattr(analysis, "run_audit", lambda ws, opts: Result(), raising=False)
    monkeypatch.setattr(analysis, "AuditOptions", None, raising=False)
    run = _ok(api.call("POST", f"/cycles/{c['id']}/audit", role="editor", json={"options": {}}), 201)
    assert run["payload"]["overall"]["conversion_rate"] == 0.21
    listed = _ok(api.call("GET", f"/cycles/{c['id']}/results", role="viewer"))
    full = _ok(api.call("GET", f"/cycles/{c['id']}/results/{listed[0]['id']}", role="viewer"))
    assert full["payload"] == run["payload"]
    _ok(api.call("POST", f"/cycles/{c['id']}/decisions", role="editor", json={"text": "6 touches in 10 days", "colour": "green"}), 201)
    replay = _ok(api.call("POST", f"/cycles/{c['id']}/replay", role="editor", json={}), 201)
    assert (replay["period_start"], replay["replay_of_id"]) == ("2026-11-01", c["id"])
    journal = _ok(api.call("GET", "/access-log"))
    assert [(e["username"], e["action"]) for e in journal[:2]] == [("viewer", "view"), ("editor", "run")]


def test_retro_actions_and_verification_from_facts(api, january_facts) -> None:  # noqa: ANN001
    r1 = _ok(api.call("POST", "/retros", role="editor", json={"template": "monthly_audit_review", "title": "January", "objective": "lead → opportunity"}), 201)
    rid = r1["retro"]["id"]
    bad = api.call("POST", "/actions", role="editor", json={"title": "x", "owner": ["editor", "admin"], "due_date": "2026-01-31", "kpi_key": "conversion_rate", "target": 0.5})
    assert bad.status_code == 409 and bad.json()["error"]["code"] == "rule_violation"
    body = {"title": "Call within 2 h", "owner": "editor", "due_date": "2026-01-31", "kpi_key": "conversion_rate", "baseline": 0.4,
            "target": 0.5, "window_start": "2026-01-01", "window_end": "2026-01-31", "retro_id": rid}
    a = _ok(api.call("POST", "/actions", role="editor", json=body), 201)
    assert (a["owner"], a["overdue"]) == ("editor", True)
    r2 = _ok(api.call("POST", "/retros", role="editor", json={"template": "monthly_audit_review", "title": "February", "objective": "lead → opportunity"}), 201)
    rid2 = r2["retro"]["id"]
    assert r2["retro"]["status"] == "review" and [x["id"] for x in r2["previous_actions"]] == [a["id"]]
    blocked = api.call("POST", f"/retros/{rid2}/observations", role="editor", json={"text": "x", "source": "call"})
    assert blocked.status_code == 409
    opened = _ok(api.call("POST", f"/retros/{rid2}/review", role="editor", json={"comments": {str(a["id"]): "done"}}))
    prev = opened["previous_actions"][0]
    assert (prev["verification"], prev["measured_value"], prev["review"]["comment"]) == ("met", 0.5, "done")
    o = _ok(api.call("POST", f"/retros/{rid2}/observations", role="editor", json={"text": "Slow follow-up", "source": "call", "anonymous": True}), 201)
    assert o["author_id"] is None
    _ok(api.call("POST", f"/observations/{o['id']}/votes", role="editor", json={}), 201)
    assert api.call("POST", f"/observations/{o['id']}/votes", role="editor", json={}).status_code == 409
    _ok(api.call("POST", f"/retros/{rid2}/whys", role="editor", json={"problem": "Few SQL", "whys": ["late calls", "no SLA"]}), 201)
    _ok(api.call("POST", f"/retros/{rid2}/swot", role="editor", json={"quadrant": "weakness", "text": "no SLA"}), 201)
    _ok(api.call("PATCH", f"/retros/{rid2}", role="editor", json={"error_category": "operational"}))
    detail = _ok(api.call("GET", f"/retros/{rid2}", role="viewer"))
    assert detail["observations"][0]["votes"] == 1 and detail["retro"]["error_category"] == "operational"
    card = _ok(api.call("GET", f"/retros/{rid}/scorecard", role="viewer"))
    assert (card["actions"], card["targets_met"]) == (1, 1)
    # exports
    text = api.call("GET", "/actions/export.csv", role="viewer").text
    assert [row["title"] for row in csv.DictReader(io.StringIO(text))] == ["Call within 2 h"]
    ics = api.call("GET", "/actions/export.ics", role="viewer")
    assert ics.headers["content-type"].startswith("text/calendar") and "DTSTART;VALUE=DATE:20260131" in ics.text
    assert [e["target"] for e in _ok(api.call("GET", "/access-log", params={"action": "export"}))] == ["actions.ics", "actions.csv"]
    patched = _ok(api.call("PATCH", f"/actions/{a['id']}", role="editor", json={"status": "done"}))
    assert patched["status"] == "done" and patched["overdue"] is False
    assert _ok(api.call("GET", "/actions", role="viewer", params={"overdue": True})) == []


def test_experiments_learnings_playbook_and_webhooks(api) -> None:  # noqa: ANN001
    hook = _ok(api.call("POST", "/webhooks", json={"name": "slack", "url": "https://hooks.example.invalid/x", "events": ["*"], "format": "slack"}), 201)
    h = _ok(api.call("POST", "/hypotheses", role="editor", json={"statement": "Shorter forms convert better", "kpi_key": "conversion_rate"}), 201)
    e = _ok(api.call("POST", "/experiments", role="editor", json={"key": "form-3", "name": "3-field form", "hypothesis_id": h["id"], "variants": ["7", "3"], "n_per_arm": 400}), 201)
    _ok(api.call("POST", f"/experiments/{e['id']}/start", role="editor", json={}))
    d = _ok(api.call("POST", f"/experiments/{e['id']}/decision", role="editor", json={"decision": "ship", "result": {"lift": 0.03}, "hypothesis_status": "supported"}))
    assert (d["status"], d["decision"]) == ("concluded", "ship")
    assert _ok(api.call("GET", "/experiments/form-3", role="viewer"))["id"] == e["id"]
    ln = _ok(api.call("POST", "/learnings", role="editor", json={"title": "Three fields beat seven", "outcome": "success", "experiment_id": e["id"], "channel": "inbound"}), 201)
    fail = _ok(api.call("POST", "/learnings", role="editor", json={"title": "Cold e-mails in August", "outcome": "failure", "cause": "holidays", "lesson": "pause in August"}), 201)
    assert [x["id"] for x in _ok(api.call("GET", "/failure-board", role="viewer"))] == [fail["id"]]
    entry = _ok(api.call("POST", "/playbook", role="editor", json={"key": "short-form", "kind": "automation_rule", "title": "Use the 3-field form", "learning_ids": [ln["id"]]}), 201)
    std = _ok(api.call("POST", f"/playbook/{entry['id']}/standardise", role="editor"))
    assert std["status"] == "standard" and std["learning_ids"] == [ln["id"]]
    v2 = _ok(api.call("POST", "/playbook/keys/short-form/versions", role="editor", json={"body": "Also on mobile"}), 201)
    assert (v2["version"], v2["status"]) == (2, "draft")
    hits = _ok(api.call("GET", "/search", role="viewer", params={"q": "three fields"}))
    assert [(x["kind"], x["id"]) for x in hits] == [("learning", ln["id"])]
    assert [x["id"] for x in _ok(api.call("GET", "/search", role="viewer", params={"q": "form"}))] == [entry["id"], v2["id"]]
    events = [x["event"] for x in _ok(api.call("GET", "/webhooks/deliveries"))]
    assert sorted(events) == ["experiment.decided", "playbook.standardised"]
    assert _ok(api.call("GET", "/webhooks"))[0]["id"] == hook["id"]
    assert api.call("DELETE", f"/webhooks/{hook['id']}").status_code == 204
    out = _ok(api.call("GET", "/scorecard", role="viewer"))
    assert set(out) == {"total", "retros", "months", "target_hit_trend", "as_of"}
    assert "conversion_rate" in _ok(api.call("GET", "/kpis", role="viewer"))


@pytest.fixture
def january_facts(api) -> None:  # noqa: ANN001
    insert_january(api.ws)
