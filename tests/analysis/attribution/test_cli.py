"""`levier attribute`, `levier funnel`, `levier kpis` through the CLI runner."""

from __future__ import annotations

import json
from pathlib import Path

from tests.analysis.attribution.conftest import REFERENCE

from levier.cli import app


def test_attribute_paths_json(runner, tmp_path: Path) -> None:  # noqa: ANN001
    p = tmp_path / "paths.csv"
    p.write_text("path,conversions,nulls\n" + "".join(f"{a},{c},{n}\n" for a, c, n in REFERENCE), encoding="utf-8")
    res = runner.invoke(app, ["attribute", "--paths", str(p), "-m", "markov,first", "--order", "2", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["models"][0]["details"]["removal_effects"]["A"] == 0.5625
    assert [c["conversions"] for c in data["models"][1]["channels"]] == [4.0, 3.0, 1.0]


def test_attribute_errors_are_clean(runner, tmp_path: Path) -> None:  # noqa: ANN001
    p = tmp_path / "bad.csv"
    p.write_text("path,conversions,nulls\nA,1,-2\n", encoding="utf-8")
    res = runner.invoke(app, ["attribute", "--paths", str(p)])
    assert res.exit_code == 1 and "nulls" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["attribute", "--paths", str(p), "-m", "bogus"])
    assert res.exit_code == 1


def test_workspace_commands(runner, small) -> None:  # noqa: ANN001
    ws = ["--workspace", str(small.path)]
    res = runner.invoke(app, ["attribute", *ws, "-m", "last", "-m", "time_decay", "--roi", "--json"])
    assert res.exit_code == 0, res.output
    assert {m["model"] for m in json.loads(res.stdout)["models"]} == {"last", "time_decay"}
    res = runner.invoke(app, ["funnel", *ws, "--period", "2026-10", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["funnel"]["overall"]["steps"][0]["reached"] == 2
    res = runner.invoke(app, ["kpis", *ws, "--period", "2026-10", "--kpi", "lead", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["kpis"][0]["value"] == 2
    assert runner.invoke(app, ["kpis", "--definitions", "--json"]).exit_code == 0
    res = runner.invoke(app, ["funnel", *ws])
    assert res.exit_code == 0 and "opportunity" in res.output
