"""`levier experiment …` commands: JSON outputs, summary analysis, errors without tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from levier.cli import app

SUMMARY = "arm,units,conversions\ncontrol,10000,1000\ntreatment,10000,1100\n"


def test_analyze_from_summary_json(runner, tmp_path: Path) -> None:  # noqa: ANN001
    f = tmp_path / "s.csv"
    f.write_text(SUMMARY)
    out = runner.invoke(app, ["experiment", "analyze", "--from-summary", str(f), "--json"])
    assert out.exit_code == 0, out.output
    e = json.loads(out.stdout)["effects"][0]
    assert round(e["p_value"], 7) == 0.0278895 and round(e["ci_low"], 7) == 0.0108647
    out = runner.invoke(app, ["experiment", "analyze", "--from-summary", str(f), "--engine", "sequential",
                              "--difference", "absolute", "--json"])
    assert json.loads(out.stdout)["effects"][0]["engine"] == "sequential"
    out = runner.invoke(app, ["experiment", "analyze", "--from-summary", str(f), "--lang", "en"])
    assert "Decision" in out.stdout


def test_design_json_and_errors(runner) -> None:  # noqa: ANN001
    out = runner.invoke(app, ["experiment", "design", "--baseline", "0.1", "--mde", "0.1", "--daily-units", "500", "--json"])
    payload = json.loads(out.stdout)
    assert payload["n_per_arm"] == [14749, 14749] and payload["warnings"][0]["code"] == "long"
    bad = runner.invoke(app, ["experiment", "design", "--baseline", "0.1"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output


def test_protocol_assign_and_report_in_a_workspace(runner, workspace, tmp_path: Path) -> None:  # noqa: ANN001
    ws = str(workspace.path)
    proto = tmp_path / "p.yaml"
    proto.write_text("key: exp1\ntitle: Subject line\nhypothesis: A shorter subject gets more replies\n"
                     "arms: [{name: control}, {name: short, weight: 1}]\n")
    out = runner.invoke(app, ["experiment", "protocol", "exp1", "--from", str(proto), "-w", ws, "--json"])
    assert out.exit_code == 0, out.output and json.loads(out.stdout)["version"] == 1
    proto.write_text(proto.read_text().replace("more replies", "more meetings"))
    out = runner.invoke(app, ["experiment", "protocol", "exp1", "--from", str(proto), "-w", ws, "--json", "--note", "kpi"])
    p = json.loads(out.stdout)
    assert p["version"] == 2 and p["history"][0]["note"] == "kpi"
    md = runner.invoke(app, ["experiment", "protocol", "exp1", "-w", ws, "--lang", "fr"])
    assert "Hypothèse" in md.stdout
    units = tmp_path / "u.csv"
    units.write_text("unit_id\n" + "\n".join(f"U{i}" for i in range(300)) + "\n")
    export = tmp_path / "crm.csv"
    out = runner.invoke(app, ["experiment", "assign", "exp1", "--units", str(units), "--exclude", "none",
                              "--export", str(export), "-w", ws, "--json"])
    res = json.loads(out.stdout)
    assert res["new"] == 300 and set(res["counts"]) == {"control", "short"}
    again = json.loads(runner.invoke(app, ["experiment", "assign", "exp1", "--units", str(units), "--exclude", "none",
                                           "-w", ws, "--json"]).stdout)
    assert again["new"] == 0 and again["kept"] == 300
    assert len(export.read_text().splitlines()) == 301
    missing = runner.invoke(app, ["experiment", "analyze", "nope", "-w", ws], env={"LEVIER_LANG": "en"})
    assert missing.exit_code == 1 and "no assignments" in missing.stderr


def test_report_files(runner, tmp_path: Path) -> None:  # noqa: ANN001
    f = tmp_path / "s.csv"
    f.write_text(SUMMARY)
    for suffix in (".md", ".html", ".xlsx", ".json"):
        out = runner.invoke(app, ["experiment", "report", "--from-summary", str(f), "--out", str(tmp_path / f"r{suffix}")])
        assert out.exit_code == 0, out.output
        assert (tmp_path / f"r{suffix}").stat().st_size > 100
    assert "vega-lite-spec" in (tmp_path / "r.html").read_text()
    bad = runner.invoke(app, ["experiment", "report", "--from-summary", str(f), "--out", str(tmp_path / "r.pdf")])
    assert bad.exit_code == 1
