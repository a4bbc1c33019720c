"""Attribution / funnel / KPI notes: every format in fr and en, figures equal to the analysis result."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from markdown_it import MarkdownIt
from tests.analysis.attribution.conftest import REFERENCE

from levier.analysis.attribution import PathCounts, attribute_paths
from levier.cli import app
from levier.errors import OptionError
from levier.report.attribution_note import build_note, render_note

FUNNEL = {
    "period": "2026-10",
    "funnel": {"segment_by": [], "overall": {"steps": [
        {"stage": "lead", "reached": 100, "step_rate": 1.0, "cumulative_rate": 1.0, "drop_off": 0, "median_hours_from_previous": None, "timed_leads": 0},
        {"stage": "mql", "reached": 40, "step_rate": 0.4, "cumulative_rate": 0.4, "drop_off": 60, "median_hours_from_previous": 30.5, "timed_leads": 40},
        {"stage": "sql", "reached": 10, "step_rate": 0.25, "cumulative_rate": 0.1, "drop_off": 30, "median_hours_from_previous": 48.0, "timed_leads": 10},
    ]}, "segments": []},
    "mql_to_sql_rate": 0.25,
    "web": {"visitors": 900, "form_starters": 200, "form_submitters": 100, "leads": 100, "form_completion_rate": 0.5, "bounce_rate": 0.25},
    "sales_cycle": {"deals": 4, "median_days": 21.5, "mean_days": 23.0},
    "pipeline_velocity": {"opportunities": 8, "won": 3, "lost": 1, "average_won_amount": 5000.0, "cycle_days": 20.0,
                          "win_rate": 0.75, "velocity_per_day": 1500.0},
}
VALUE = {"stages": {"leads": "lead", "qualified": "sql", "customers": "won"}, "unattributed_spend": {},
         "rows": [{"model": "markov", "channel": "A", "spend": 1000.0, "leads": 4.0, "qualified": 2.0, "customers": 1.0,
                   "revenue": 3000.0, "cpl": 250.0, "cplq": 500.0, "cac": 1000.0, "roas": 3.0, "romi": 2.0}]}
FORMATS = "html,xlsx,pdf,md,json"


@pytest.fixture(scope="module")
def payload() -> dict:
    cmp = attribute_paths(PathCounts.from_records(REFERENCE), ["first", "linear", "markov", "shapley"])
    return {**cmp.to_dict(), "period": "2026-10", "value": VALUE}


@pytest.fixture(scope="module")
def notes(payload: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], list[Path]]:
    out = tmp_path_factory.mktemp("notes")
    return {(kind, lang): render_note(kind, data, FORMATS, lang, out)
            for kind, data in (("attribution", payload), ("funnel", FUNNEL)) for lang in ("fr", "en")}


def _one(files: list[Path], suffix: str) -> Path:
    return next(p for p in files if p.name.endswith(suffix) and not re.search(r"-[a-z]+\.png$", suffix))


def test_every_format_in_both_languages(notes: dict) -> None:
    for (kind, lang), files in notes.items():
        names = {p.suffix for p in files}
        assert {".html", ".xlsx", ".pdf", ".md", ".json", ".png"} <= names, (kind, lang, names)
        assert all(p.stat().st_size > 0 for p in files)
        assert files[0].name.startswith(f"{kind}-2026-10-{lang}")


def test_html_is_self_contained(notes: dict) -> None:
    for (kind, lang), files in notes.items():
        text = _one(files, ".html").read_text(encoding="utf-8")
        assert "<svg" in text and not re.search(r"https?://", text), (kind, lang)
        assert f'<html lang="{lang}">' in text
    fr = _one(notes[("attribution", "fr")], ".html").read_text(encoding="utf-8")
    en = _one(notes[("attribution", "en")], ".html").read_text(encoding="utf-8")
    assert "Modèles côte à côte" in fr and "Effets de retrait" in fr and "1,79" in fr and "0,4716" in fr
    assert "Models side by side" in en and "Removal effects" in en and "1.79" in en and "0.4716" in en
    assert "CPLQ" in en and "250.00" in en and "200.0%" in en  # ROI table: CPL 250, ROMI 200 %
    assert "Coût par lead qualifié" in fr  # definition cited from the KPI catalogue


def test_xlsx_numbers_and_bar_chart(notes: dict, payload: dict) -> None:
    for (kind, lang), files in notes.items():
        path = _one(files, ".xlsx")
        book = openpyxl.load_workbook(path)
        first = book.worksheets[0]
        assert len(first._charts) == 1, (kind, lang)
        with zipfile.ZipFile(path) as z:
            assert any("<c:barChart>" in z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart"))
    sheet = openpyxl.load_workbook(_one(notes[("attribution", "en")], ".xlsx"))["Attribution"]
    header = [c.value for c in sheet[1]][:5]
    assert header == ["Channel", "first", "linear", "markov", "shapley"]
    markov = {r["label"]: r for r in payload["models"]}["markov"]
    for row, ch in enumerate(markov["channels"], start=2):
        assert sheet.cell(row, 1).value == ch["channel"]
        assert sheet.cell(row, 4).value == pytest.approx(ch["conversions"], abs=1e-9)
    effects = openpyxl.load_workbook(_one(notes[("attribution", "fr")], ".xlsx"))["Markov ordre 1"]
    assert effects["B4"].value == pytest.approx(83 / 176, abs=1e-12)
    assert openpyxl.load_workbook(_one(notes[("funnel", "fr")], ".xlsx"))["Entonnoir"]["B3"].value == 40


def test_pdf_has_pages(notes: dict) -> None:
    for (kind, lang), files in notes.items():
        pdf = _one(files, ".pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) >= 2, (kind, lang)


def test_markdown_parses(notes: dict) -> None:
    md = MarkdownIt("commonmark").enable("table")
    for (kind, lang), files in notes.items():
        path = _one(files, ".md")
        tokens = md.parse(path.read_text(encoding="utf-8"))
        assert any(t.type == "table_open" for t in tokens), (kind, lang)
        images = [c.attrs["src"] for t in tokens if t.type == "inline" for c in t.children or [] if c.type == "image"]
        assert images and all((path.parent / src).is_file() for src in images)
    en = _one(notes[("funnel", "en")], ".md").read_text(encoding="utf-8")
    assert "| mql | 40 | 40.0% | 40.0% | 60 | 30.5\u00a0h |" in en and "25.0%" in en


def test_json_is_the_payload(notes: dict, payload: dict) -> None:
    data = json.loads(_one(notes[("attribution", "en")], ".json").read_text(encoding="utf-8"))
    assert data["models"] == json.loads(json.dumps(payload["models"]))


def test_document_sums_and_errors(payload: dict) -> None:
    doc = build_note("attribution", payload, "en")
    table = next(b for s in doc.sections if s.id == "comparison" for b in s.blocks if hasattr(b, "rows"))
    assert table.rows[-1] == ("Σ", "8.00", "8.00", "8.00", "8.00")
    with pytest.raises(OptionError):
        build_note("bogus", payload)
    with pytest.raises(OptionError):
        render_note("attribution", payload, "docx", "en", ".")
    kpis = build_note("kpis", {"period": "2026-10", "kpis": [{"key": "conversion_rate", "value": 0.25, "unit": "ratio"}]}, "fr")
    assert kpis.sections[1].blocks[0].rows == (("Taux de conversion (TC)", "25,0\u00a0%", "ratio"),)


def test_cli_writes_notes(runner, tmp_path: Path) -> None:  # noqa: ANN001
    p = tmp_path / "paths.csv"
    p.write_text("path,conversions,nulls\n" + "".join(f"{a},{c},{n}\n" for a, c, n in REFERENCE), encoding="utf-8")
    out = tmp_path / "out"
    res = runner.invoke(app, ["attribute", "--paths", str(p), "-m", "markov,linear", "--format", "html,md", "--lang", "en",
                              "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    files = json.loads(res.stdout)["files"]
    assert {Path(f).suffix for f in files} == {".html", ".md", ".png"}
    assert "Removal effects" in (out / "attribution-all-en.html").read_text(encoding="utf-8")
    res = runner.invoke(app, ["attribute", "--paths", str(p), "--format", "docx", "--out", str(out)])
    assert res.exit_code == 1 and "Traceback" not in res.output
