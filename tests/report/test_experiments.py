"""Experiment report section: chart spec, Markdown in fr/en, XLSX sheet."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from levier.analysis.experiments.decision import decide
from levier.analysis.experiments.readout import read_out
from levier.analysis.experiments.summary import parse_summary
from levier.report.experiments import effect_chart_spec, render_markdown, write_xlsx

CSV = "arm,units,conversions\ncontrol,10000,1000\ntreatment,10000,1100\nb,10000,990\n"


def _result():
    res = read_out(parse_summary(CSV))
    return res, decide(res, target=0.05)


def test_chart_has_one_point_and_interval_per_arm() -> None:
    res, _d = _result()
    spec = effect_chart_spec(res, "en")
    values = spec["layer"][0]["data"]["values"]
    assert [v["arm"] for v in values] == ["treatment", "b"]
    assert values[0]["low"] < values[0]["estimate"] < values[0]["high"]


def test_markdown_in_both_languages() -> None:
    res, d = _result()
    fr, en = render_markdown(res, d, "fr"), render_markdown(res, d, "en")
    assert "Décision" in fr and "Decision" in en and "10,0" in fr and "10.0%" in en


def test_xlsx_sheet(tmp_path: Path) -> None:
    res, d = _result()
    path = write_xlsx(tmp_path / "x.xlsx", res, d, "en")
    sheet = openpyxl.load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[2][0] == "Metric" and abs(rows[3][8] - 0.1) < 1e-9
