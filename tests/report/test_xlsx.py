"""The audit workbook: opens with openpyxl; native scatter chart with a linear trend line that
shows its equation and R², the two mean lines, and the quadrant counts."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest
from tests.report.conftest import degrade

from levier.report.xlsx import SHEETS, write_xlsx
from levier.report.xlsx_charts import lead_level_rows

FR_SHEETS = ["Tableau de bord", "Segments", "Données du nuage", "Courbes de réponse", "Seuils", "Diagnostic",
             "Valeurs atypiques", "Nettoyage", "Cadrage"]


@pytest.fixture(scope="module")
def books(_sample: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("xlsx")
    return {lang: write_xlsx(_sample, out / f"audit-{lang}.xlsx", lang) for lang in ("fr", "en")}


def _charts(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist() if n.startswith("xl/charts/chart")}


def test_sheets_in_both_languages(books: dict[str, Path]) -> None:
    assert openpyxl.load_workbook(books["en"]).sheetnames == list(SHEETS)
    assert openpyxl.load_workbook(books["fr"]).sheetnames == FR_SHEETS


def test_dashboard_holds_numbers_with_formats(books: dict[str, Path]) -> None:
    ws = openpyxl.load_workbook(books["en"])["Dashboard"]
    cells = {ws.cell(r, 1).value: ws.cell(r, 2) for r in range(1, 20) if ws.cell(r, 1).value}
    assert cells["Conversion rate"].value == 0.18 and cells["Conversion rate"].number_format == "0.0%"
    assert cells["Median TTF"].value == 1.7 and cells["Complaint rate"].value == 0.0012
    assert cells["Correlation r"].value == 0.31 and cells["R²"].value == 0.0961
    assert cells["Contacts IQR (Q1–Q3)"].value == "3–8"
    values = [c.value for row in ws.iter_rows() for c in row]
    assert sum(isinstance(v, str) and v.startswith("acc-") for v in values) == 20


def test_scatter_chart_has_linear_trendline_with_equation_and_r2(books: dict[str, Path]) -> None:
    scatter = [xml for xml in _charts(books["en"]).values() if "<c:scatterChart>" in xml]
    assert len(scatter) == 1
    xml = scatter[0]
    trend = re.search(r"<c:trendline>(.*?)</c:trendline>", xml, re.S)
    assert trend, "no trend line"
    assert '<c:trendlineType val="linear"/>' in trend.group(1)
    assert '<c:dispEq val="1"/>' in trend.group(1) and '<c:dispRSqr val="1"/>' in trend.group(1)
    names = re.findall(r"<c:tx><c:v>([^<]+)</c:v></c:tx>", xml)
    assert names == ["Segments × touches", "Leads (trend basis)", "Mean contacts (vertical line)",
                     "Mean conversion (horizontal line)"]


def test_mean_lines_and_quadrants(books: dict[str, Path], _sample: dict[str, Any]) -> None:
    ws = openpyxl.load_workbook(books["en"])["Scatter data"]
    assert [ws.cell(r, 15).value for r in range(2, 6)] == [5.6, 5.6, 0, 12]      # x of the mean lines
    assert [ws.cell(r, 16).value for r in range(2, 6)][2:] == [0.18, 0.18]       # y of the horizontal one
    counts = [ws.cell(r, 8).value for r in range(2, 6)]
    assert counts == [_sample["overall"]["quadrants"]["counts"][f"q{i}"] for i in range(1, 5)]
    assert ws.cell(2, 7).value.startswith("Q1")


def test_trend_basis_reproduces_weighted_fit_of_the_points(books: dict[str, Path], _sample: dict[str, Any]) -> None:
    ws = openpyxl.load_workbook(books["en"], read_only=True)["Scatter data"]
    rows = [(r[11], r[12]) for r in ws.iter_rows(min_row=2, values_only=True) if r[11] is not None]
    x, y = np.array(rows, float).T
    pts = _sample["scatter"]["points"]
    assert len(rows) == sum(p["n"] for p in pts)
    # OLS on the lead-level rows (what Excel's trend line fits) == WLS of the point rates weighted by n
    px = np.array([p["x"] for p in pts], float)
    py = np.array([round(p["y"] * p["n"]) / p["n"] for p in pts])
    pw = np.array([p["n"] for p in pts], float)
    assert np.polyfit(x, y, 1) == pytest.approx(np.polyfit(px, py, 1, w=np.sqrt(pw)), rel=1e-9)


def test_lead_level_rows_by_hand() -> None:
    rows = lead_level_rows([{"x": 2, "y": 0.5, "n": 4}, {"x": 5, "y": 1.0, "n": 1}], limit=10)
    assert rows == [(2, 1), (2, 1), (2, 0), (2, 0), (5, 1)]
    assert lead_level_rows([{"x": 2, "y": 0.5, "n": 40}], limit=10) is None
    assert lead_level_rows([{"x": 2, "y": 0.5, "n": None}], limit=10) is None


def test_account_unit_fits_the_points_themselves(tmp_path: Path, audit_sample: dict[str, Any]) -> None:
    audit_sample["scatter"]["unit"] = "account"
    path = write_xlsx(audit_sample, tmp_path / "a.xlsx", "en")
    xml = next(x for x in _charts(path).values() if "<c:scatterChart>" in x)
    assert "Leads (trend basis)" not in xml and xml.count("<c:trendline>") == 1


def test_segments_and_curves_sheets(books: dict[str, Path], _sample: dict[str, Any]) -> None:
    wb = openpyxl.load_workbook(books["en"])
    seg = wb["Segments"]
    assert [seg.cell(r, 1).value for r in range(2, 11)] == [s["label"] for s in _sample["segments"]]
    assert seg.cell(10, 13).value == "n/a"          # partner/enterprise: r undefined
    assert seg.cell(3, 28).value == "green" and seg.cell(3, 28).fill.fgColor.rgb.endswith("2E7D32")
    curves = wb["Response curves"]
    n_bins = sum(len(s["response_curve"]["bins"]) + len(s["ttf_curve"]["bins"]) for s in _sample["segments"])
    assert curves.max_row == n_bins + 1
    assert sum("<c:lineChart>" in x for x in _charts(books["en"]).values()) == 2


def test_workbook_with_undefined_figures(tmp_path: Path, audit_sample: dict[str, Any]) -> None:
    path = write_xlsx(degrade(audit_sample), tmp_path / "d.xlsx", "fr")
    wb = openpyxl.load_workbook(path)
    assert wb["Tableau de bord"].cell(4, 2).value == "non disponible"
    assert wb["Valeurs atypiques"].cell(2, 1).value == "non disponible"
    assert not any("<c:scatterChart>" in x for x in _charts(path).values())
