"""`levier audit` end to end: JSON, files, French/English, bad options, and the loop record."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from levier.cli import app
from levier.loop.models import Cycle, CycleResult

from .test_audit import _spec


def _ws(make_ws) -> Path:  # noqa: ANN001
    ws = make_ws(_spec(300))
    path = ws.path
    ws.close()
    return path


def test_audit_json_outputs_and_loop_record(make_ws, tmp_path: Path) -> None:  # noqa: ANN001
    path = _ws(make_ws)
    out = tmp_path / "out"
    args = ["audit", "-w", str(path), "--period", "2026-10", "--compare-to", "none", "--format", "json,md", "--out", str(out), "--json"]
    res = CliRunner().invoke(app, args, env={"LEVIER_LANG": "en"})
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["overall"]["n"] == 300
    assert data["framing"]["period"]["label"] == "2026-10"
    assert (out / "audit.json").is_file() and (out / "framing.json").is_file()
    assert any(p.endswith(".md") for p in data["outputs"])
    # the run and its framing note are in the loop, on the cycle of the period
    engine = sa.create_engine(f"sqlite:///{path / 'loop.sqlite'}")
    with engine.connect() as c:
        cycles = c.execute(sa.select(Cycle.id, Cycle.period_start, Cycle.period_end, Cycle.framing)).all()
        results = c.execute(sa.select(CycleResult.cycle_id, CycleResult.kind, CycleResult.payload)).all()
    engine.dispose()
    assert len(cycles) == 1 and str(cycles[0].period_start) == "2026-10-01" and str(cycles[0].period_end) == "2026-11-01"
    assert cycles[0].framing["conversion_stage"] == "opportunity" and cycles[0].framing["conversion_window_days"] == 30
    assert data["recorded"]["cycle_id"] == cycles[0].id
    assert results[0].kind == "audit" and results[0].payload["overall"]["n"] == 300
    # a second run of the same period lands on the same cycle
    res = CliRunner().invoke(app, [*args[:-1], "--no-record"], env={"LEVIER_LANG": "en"})
    assert res.exit_code == 0
    res = CliRunner().invoke(app, args, env={"LEVIER_LANG": "en"})
    assert json.loads(res.output)["recorded"]["cycle_id"] == cycles[0].id


def test_audit_text_in_french_and_english(make_ws) -> None:  # noqa: ANN001
    path = _ws(make_ws)
    base = ["audit", "-w", str(path), "--period", "2026-10", "--compare-to", "none", "--no-record"]
    fr = CliRunner().invoke(app, [*base, "--lang", "fr"])
    en = CliRunner().invoke(app, [*base, "--lang", "en"])
    assert fr.exit_code == 0 and en.exit_code == 0, fr.output + en.output
    assert "Taux de conversion" in fr.output and "Feux tricolores par segment" in fr.output
    assert "Conversion rate" in en.output and "Traffic lights per segment" in en.output
    assert "300" in fr.output


def test_audit_bad_options_are_clear_errors(make_ws) -> None:  # noqa: ANN001
    path = _ws(make_ws)
    env = {"LEVIER_LANG": "en"}
    cases = [
        (["--period", "2026-13"], "--period"),
        (["--unit", "team"], "--unit"),
        (["--segment-by", "colour"], "--segment-by"),
        (["--conversion-stage", "signed"], "--conversion-stage"),
        (["--format", "docx"], "--format"),
        (["--period", "2025-01"], "2025-01"),
    ]
    for extra, needle in cases:
        res = CliRunner().invoke(app, ["audit", "-w", str(path), "--no-record", *extra], env=env)
        assert res.exit_code == 1, (extra, res.output)
        assert "Error:" in res.output and needle in res.output and "Traceback" not in res.output
