"""`levier policy …` and `levier privacy …` through the Typer runner."""

from __future__ import annotations

import json
from pathlib import Path

from tests.policy.conftest import LEADS

from levier.cli import app
from levier.data._frames import insert_frames
from levier.policy import default_rules_text


def test_policy_commands(workspace, runner, tmp_path: Path) -> None:  # noqa: ANN001
    insert_frames(workspace.facts, {"leads": LEADS})
    w = ["-w", str(workspace.path)]
    r = runner.invoke(app, ["policy", "check", "--lead", "S1", "--channel", "email", "--at", "2026-03-27T16:30:00", "--json", *w])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["decision"] == "deny" and out["next_allowed_at"] == "2026-03-30T07:00:00"
    r = runner.invoke(app, ["policy", "check", "--lead", "S1", "--channel", "fax", *w])
    assert r.exit_code == 1 and "'fax'" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("window: {start: '18:00', end: '09:00'}\nsegments: [{key: X}]\n", encoding="utf-8")
    r = runner.invoke(app, ["policy", "validate", str(bad)])
    assert r.exit_code == 1 and "window" in r.output and "segments[0].key" in r.output
    good = tmp_path / "good.yaml"
    good.write_text(default_rules_text().replace("email: 2\n  call: 3", "email: 1\n  call: 3"), encoding="utf-8")
    assert runner.invoke(app, ["policy", "validate", str(good)]).exit_code == 0
    r = runner.invoke(app, ["policy", "set", str(good), "--json", *w])
    assert r.exit_code == 0 and json.loads(r.stdout)["kind"] == "threshold_sla"
    r = runner.invoke(app, ["policy", "show", "--json", *w])
    assert json.loads(r.stdout)["source"] == "playbook:contact-policy:v1:draft" and json.loads(r.stdout)["rules"]["daily_caps"]["email"] == 1
    for args in (["policy", "due", "--rep", "alice", "--at", "2026-03-04T09:00:00"], ["policy", "queue", "--at", "2026-03-02T12:00:00"],
                 ["policy", "compliance", "--period", "2026-03"], ["privacy", "retention", "--months", "12"],
                 ["privacy", "export", "--lead", "S1"], ["privacy", "erase", "--lead", "S2"]):
        r = runner.invoke(app, [*args, "--json", *w])
        assert r.exit_code == 0, (args, r.output)
        json.loads(r.stdout)
    r = runner.invoke(app, ["policy", "queue", "--at", "2026-03-02T12:00:00", "--json", *w])
    assert [b["lead_id"] for b in json.loads(r.stdout)] == ["O1", "S1", "S2"]  # same overdue: by id
