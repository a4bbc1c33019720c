"""`levier kpi …`: JSON outputs and clear errors."""

from __future__ import annotations

import json

from levier.cli import app
from levier.workspace import Workspace


def test_kpi_cli(workspace: Workspace, runner) -> None:  # noqa: ANN001
    w = ["-w", str(workspace.path)]
    workspace.close()
    r = runner.invoke(app, ["kpi", "define", "replies", "count(touches, outcome == 'replied')", "--kind", "impact", "--json", *w])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["formula"] == "count(touches, outcome == 'replied')"
    bad = runner.invoke(app, ["kpi", "define", "x", "sum(deals.amout)", *w])
    assert bad.exit_code == 1 and "unknown column 'amout' in table deals" in bad.output
    r = runner.invoke(app, ["kpi", "set-target", "replies", "50", "--deadline", "2026-12-31", "--baseline", "10", "--json", *w])
    assert r.exit_code == 0 and json.loads(r.stdout)["value"] == 50
    r = runner.invoke(app, ["kpi", "list", "--json", *w])
    got = {e["key"]: e for e in json.loads(r.stdout)}
    assert got["replies"]["targets"][0]["baseline"] == 10 and "conversion_rate" in got
    r = runner.invoke(app, ["kpi", "series", "replies", "--start", "2026-10-01", "--end", "2026-10-15", "--grain", "week", "--json", *w])
    assert r.exit_code == 0 and json.loads(r.stdout)["recomputed"] == 3
    r = runner.invoke(app, ["kpi", "refresh", "replies", "--start", "2026-10-01", "--end", "2026-10-15", "--grain", "week", "--json", *w])
    assert r.exit_code == 0, r.output
    assert [(x["key"], x["recomputed"], x["reused"]) for x in json.loads(r.stdout)] == [("replies", 0, 3)]  # nothing new to compute
    r = runner.invoke(app, ["kpi", "refresh", "nope", *w])
    assert r.exit_code == 1 and "Unknown KPI 'nope'" in r.output
    r = runner.invoke(app, ["kpi", "dashboard", "--create", "mine", "--kpi", "replies", "--json", *w])
    assert json.loads(r.stdout)["warnings"][0].startswith("1 KPIs")
    r = runner.invoke(app, ["kpi", "alerts", "--json", *w])
    assert json.loads(r.stdout) == {"check": None, "alerts": []}
