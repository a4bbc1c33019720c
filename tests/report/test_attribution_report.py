"""Attribution and funnel report sections: chart specs, HTML, Markdown, XLSX, fr/en."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import xlsxwriter
from tests.analysis.attribution.conftest import REFERENCE

from levier.analysis.attribution import attribute_paths
from levier.report.attribution import (
    attribution_html,
    attribution_markdown,
    attribution_spec,
    funnel_html,
    funnel_markdown,
    funnel_spec,
    write_attribution_sheet,
    write_funnel_sheet,
)

FUNNEL = {"funnel": {"overall": {"steps": [
    {"stage": "lead", "reached": 100, "step_rate": 1.0, "cumulative_rate": 1.0, "drop_off": 0, "median_hours_from_previous": None, "timed_leads": 0},
    {"stage": "mql", "reached": 40, "step_rate": 0.4, "cumulative_rate": 0.4, "drop_off": 60, "median_hours_from_previous": 30.5, "timed_leads": 40},
]}}, "web": {"form_completion_rate": 0.5, "bounce_rate": 0.25}}


def _cmp() -> dict:
    from levier.analysis.attribution import PathCounts

    return attribute_paths(PathCounts.from_records(REFERENCE), ["first", "markov"]).to_dict()


def test_specs() -> None:
    spec = attribution_spec(_cmp(), "en")
    assert spec["data"]["values"][0] == {"channel": "A", "model": "first", "conversions": 4.0, "value": 0.0}
    assert funnel_spec(FUNNEL, "fr")["title"]["text"] if isinstance(funnel_spec(FUNNEL, "fr")["title"], dict) else True
    assert attribution_spec({"models": []}) is None and funnel_spec({}) is None


def test_html_and_markdown_in_both_languages() -> None:
    fr = attribution_html(_cmp(), "fr")
    assert "<svg" in fr and "Canal" in fr and "effets de retrait" in fr and "1,79" in fr
    en = attribution_markdown(_cmp(), "en")
    assert "| Channel | first | markov |" in en and "| A | 4.00 | 1.79 |" in en
    assert "Entonnoir" in funnel_html(FUNNEL, "fr") and "50,0" in funnel_html(FUNNEL, "fr")
    assert "| mql | 40 | 40.0% |" in funnel_markdown(FUNNEL, "en")


def test_xlsx_sheets(tmp_path: Path) -> None:
    path = tmp_path / "r.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    write_attribution_sheet(wb, _cmp(), "en", value={"rows": [{"model": "markov", "channel": "A", "spend": 10.0, "cpl": None, "cplq": 1.0, "cac": 2.0, "roas": 3.0, "romi": 2.0}]})
    write_funnel_sheet(wb, FUNNEL, "fr")
    wb.close()
    book = openpyxl.load_workbook(path)
    sheet = book["Attribution"]
    assert [c.value for c in sheet[1]][:3] == ["Channel", "first", "markov"]
    assert round(sheet["C2"].value, 4) == 1.7861
    assert book["Entonnoir"]["B3"].value == 40
