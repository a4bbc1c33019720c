"""`levier experiment decide`: the decision reaches the loop (registry status + learning draft)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from levier.analysis.experiments.protocol import Protocol, ProtocolStore
from levier.cli import app
from levier.loop.services import hypotheses, learnings


def _summary(tmp_path: Path, treatment: int) -> str:
    f = tmp_path / f"s{treatment}.csv"
    f.write_text(f"arm,units,conversions\ncontrol,10000,1000\ntreatment,10000,{treatment}\n")
    return str(f)


def _decide(runner, workspace, *args: str):  # noqa: ANN001, ANN202
    return runner.invoke(app, ["experiment", "decide", *args, "-w", str(workspace.path), "--json", "--lang", "en"])


def test_green_decision_ships_and_writes_a_success_learning(runner, workspace, tmp_path: Path) -> None:  # noqa: ANN001
    with workspace.session() as s:
        h = hypotheses.create_hypothesis(s, "A shorter form raises conversion")
        hypotheses.create_experiment(s, "form-1", "Shorter form", hypothesis_id=h.id)
        s.commit()
    ProtocolStore(workspace.path).save(Protocol(key="form-1", title="Shorter form", hypothesis="Fewer fields, more leads",
                                                variable="form length", guardrails=[]))
    dry = _decide(runner, workspace, "form-1", "--from-summary", _summary(tmp_path, 1100), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["learning"]["outcome"] == "success"
    with workspace.session() as s:
        assert learnings.list_learnings(s) == [] and hypotheses.get_experiment(s, "form-1").status == "planned"

    out = _decide(runner, workspace, "form-1", "--from-summary", _summary(tmp_path, 1100))
    assert out.exit_code == 0, out.output
    p = json.loads(out.stdout)
    assert (p["light"], p["action"], p["status"], p["registered"], p["started"]) == ("green", "ship", "concluded", False, True)
    with workspace.session() as s:
        exp = hypotheses.get_experiment(s, "form-1")
        assert exp.decision == "ship" and exp.result["decision"]["light"] == "green"
        assert round(exp.result["effects"][0]["p_value"], 7) == 0.0278895
        assert hypotheses.list_hypotheses(s)[0].status == "supported"
        [learning] = learnings.list_learnings(s, experiment_id=exp.id)
        assert learning.outcome == "success" and learning.title == "Experiment Shorter form: ship (green)"
        assert learning.body.startswith("Hypothesis: Fewer fields, more leads\n\nVariable tested: form length")
        assert learning.evidence[0] == "experiment form-1, protocol version 1"
        assert learning.evidence[1] == "conversion in treatment: +10.00% [+1.09%; +18.91%] (frequentist, p = 0.0279)"
    again = _decide(runner, workspace, "form-1", "--from-summary", _summary(tmp_path, 1100))
    assert again.exit_code == 1 and "form-1" in again.output and "ship" in again.output and "Traceback" not in again.output
    with workspace.session() as s:
        assert len(learnings.list_learnings(s)) == 1  # the failed second run wrote nothing


@pytest.mark.parametrize(("treatment", "extra", "light", "action", "outcome", "status"), [
    (900, [], "red", "stop", "failure", "concluded"),
    (1010, [], "amber", "iterate", "failure", "concluded"),
    (1010, ["--outcome", "success", "--action", "stop"], "amber", "stop", "success", "concluded"),
])
def test_red_and_amber_decisions(runner, workspace, tmp_path: Path, treatment: int, extra: list[str],  # noqa: ANN001
                                 light: str, action: str, outcome: str, status: str) -> None:
    out = _decide(runner, workspace, "exp-x", "--from-summary", _summary(tmp_path, treatment), *extra)
    assert out.exit_code == 0, out.output
    p = json.loads(out.stdout)
    assert (p["light"], p["action"], p["learning"]["outcome"], p["status"], p["registered"]) == (light, action, outcome, status, True)
    with workspace.session() as s:
        exp = hypotheses.get_experiment(s, "exp-x")
        assert exp.decision == action and exp.variants == ["control", "treatment"]
        assert [x.outcome for x in learnings.list_learnings(s, experiment_id=exp.id)] == [outcome]


def test_bad_overrides_are_user_errors(runner, workspace, tmp_path: Path) -> None:  # noqa: ANN001
    for args in (["--action", "launch"], ["--outcome", "meh"]):
        out = _decide(runner, workspace, "exp-y", "--from-summary", _summary(tmp_path, 1100), *args)
        assert out.exit_code == 1 and "Traceback" not in out.output
