"""`levier experiment assign|analyze` with account and visitor randomisation units."""

from __future__ import annotations

import copy
import json

from levier.analysis.experiments.metrics import MetricSpec
from levier.analysis.experiments.protocol import Protocol, ProtocolStore
from levier.analysis.experiments.storage import existing_assignments
from levier.cli import app
from levier.data._frames import insert_frames

from .test_units import ACCOUNT_FRAMES


def _cli(runner, workspace, *args: str):  # noqa: ANN001, ANN202
    return runner.invoke(app, ["experiment", *args, "-w", str(workspace.path), "--json"], env={"LEVIER_LANG": "en"})


def test_account_protocol_assigns_accounts_and_analyses_them(runner, workspace, tmp_path) -> None:  # noqa: ANN001
    frames = copy.deepcopy({k: v for k, v in ACCOUNT_FRAMES.items() if k != "assignments"})
    frames["leads"][4]["vip"] = True  # L5: its account A3 is excluded
    frames["leads"][2]["opted_out_at"] = frames["leads"][2]["created_at"]  # L3, A2's only lead: A2 excluded
    frames["leads"][0]["opted_out_at"] = frames["leads"][0]["created_at"]  # L1 only: A1 keeps L2
    insert_frames(workspace.facts, frames)
    ProtocolStore(workspace.path).save(Protocol(
        key="abm", unit="account", dimensions=["company_size"], guardrails=[],
        secondary=[MetricSpec(name="lead_conversion", kind="conversion", per="lead")]))
    out = _cli(runner, workspace, "assign", "abm")
    assert out.exit_code == 0, out.output
    plan = json.loads(out.stdout)
    assert plan["stored"] == 3 and plan["excluded_by_reason"] == {"opted_out": 1, "vip": 1}
    assert sorted(existing_assignments(workspace, "abm")) == ["A1", "A4", "A5"]
    res = _cli(runner, workspace, "analyze", "abm")
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    assert sum(body["srm"]["observed"]) == 3 and body["unit"] == "account"
    assert {e["metric"] for e in body["effects"]} == {"conversion", "lead_conversion"}
    _report_names_the_unit(runner, workspace, tmp_path, "abm", {"en": "Randomisation unit: account",
                                                                 "fr": "Unité de randomisation: compte"})


def _report_names_the_unit(runner, workspace, tmp_path, key: str, words: dict[str, str]) -> None:  # noqa: ANN001
    """``levier experiment analyze`` and ``report`` in every format (stdout, .md, .html, .xlsx, .json), fr and en."""
    import openpyxl

    for lang, text in words.items():
        env = {"LEVIER_LANG": lang}
        shown = runner.invoke(app, ["experiment", "analyze", key, "-w", str(workspace.path)], env=env)
        assert shown.exit_code == 0 and text in shown.stdout, shown.output
        for suffix in (".md", ".html", ".xlsx", ".json"):
            out = tmp_path / f"report-{lang}{suffix}"
            res = runner.invoke(app, ["experiment", "report", key, "--out", str(out), "-w", str(workspace.path)], env=env)
            assert res.exit_code == 0, res.output
            if suffix == ".xlsx":
                assert list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))[1][0] == text
            elif suffix == ".json":
                assert json.loads(out.read_text(encoding="utf-8"))["unit"] == "account"
            else:
                assert text in out.read_text(encoding="utf-8")


def test_visitor_protocol_needs_units_and_skips_lead_breakdowns(runner, workspace, tmp_path) -> None:  # noqa: ANN001
    ProtocolStore(workspace.path).save(Protocol(key="hero", unit="visitor", dimensions=["channel", "utm_source"],
                                                guardrails=[], secondary=[]))
    out = _cli(runner, workspace, "assign", "hero")
    assert out.exit_code == 1 and "--units FILE" in out.output
    ids = tmp_path / "visitors.csv"
    ids.write_text("anonymous_id\nV1\nV2\nV3\nV4\n")
    assert _cli(runner, workspace, "assign", "hero", "--units", str(ids)).exit_code == 0
    res = _cli(runner, workspace, "analyze", "hero")
    assert res.exit_code == 0, res.output
    assert "Breakdowns skipped" in res.stderr and "channel" in res.stderr
    assert sum(json.loads(res.stdout)["srm"]["observed"]) == 4
    assert Protocol(key="x", unit="visitor").dimensions == ["utm_source", "utm_medium"]
