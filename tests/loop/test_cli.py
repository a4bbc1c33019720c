"""The loop CLI: thin commands with --json, user errors as `Error: …` and exit 1."""

from __future__ import annotations

import json

from levier.cli import app


def _run(runner, workspace, *args: str):  # noqa: ANN001, ANN202
    res = runner.invoke(app, [*args, "--workspace", str(workspace.path)], env={"LEVIER_LANG": "en"})
    return res


def test_loop_cli_flow(runner, workspace, tmp_path) -> None:  # noqa: ANN001
    res = _run(runner, workspace, "user", "create", "boss", "--admin", "--password", "long password", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["role"] == "admin"
    assert _run(runner, workspace, "user", "create", "ana").exit_code == 0
    tok = _run(runner, workspace, "user", "token", "boss")
    assert tok.output.strip().startswith("lvr_")
    res = _run(runner, workspace, "retro", "new", "weekly_micro_retro", "W1", "--objective", "landing → form", "--json")
    rid = json.loads(res.output)["id"]
    res = _run(runner, workspace, "action", "add", "Shorter form", "--owner", "ana", "--due", "2026-03-01", "--kpi", "conversion_rate",
               "--target", "0.2", "--retro", str(rid), "--segment", "channel=inbound", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["segment"] == {"channel": "inbound"}
    res = _run(runner, workspace, "action", "add", "x", "--owner", "ana, bo", "--due", "2026-03-01", "--kpi", "conversion_rate", "--target", "1")
    assert res.exit_code == 1 and "Error: An action has exactly one owner" in res.output and "Traceback" not in res.output
    rows = json.loads(_run(runner, workspace, "action", "list", "--json").output)
    assert [r["title"] for r in rows] == ["Shorter form"]
    out = tmp_path / "actions.ics"
    assert _run(runner, workspace, "action", "export", str(out)).exit_code == 0
    assert "SUMMARY:Shorter form" in out.read_text()
    res = _run(runner, workspace, "learning", "add", "Short forms win", "--outcome", "success", "--context", "channel=inbound", "--json")
    lid = json.loads(res.output)["id"]
    res = _run(runner, workspace, "playbook", "add", "short-form", "--kind", "automation_rule", "--title", "Use a short 3-field form", "--learning", str(lid), "--json")
    eid = json.loads(res.output)["id"]
    assert json.loads(_run(runner, workspace, "playbook", "standardise", str(eid), "--json").output)["status"] == "standard"
    hits = json.loads(_run(runner, workspace, "playbook", "search", "short", "--json").output)
    assert {(h["kind"], h["id"]) for h in hits} == {("learning", lid), ("playbook", eid)}
    card = json.loads(_run(runner, workspace, "scorecard", "--json").output)
    assert card["total"]["actions"] == 1 and card["total"]["learnings"] == 0
    tick = json.loads(_run(runner, workspace, "loop", "tick", "--json").output)
    assert set(tick) == {"due_soon", "overdue", "verified", "step_reminders", "webhooks"}
