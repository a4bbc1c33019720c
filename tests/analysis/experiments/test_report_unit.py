"""The experiment report names the randomisation unit, in French and English, in every format."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from levier.analysis.experiments.decision import decide
from levier.analysis.experiments.readout import read_out
from levier.analysis.experiments.summary import parse_summary
from levier.errors import DataError
from levier.i18n import use_language
from levier.report.experiments import render_html, render_markdown, write_xlsx

CSV = "arm,units,conversions{col}\ncontrol,10000,1000{a}\ntreatment,10000,1100{b}\n"
WORDS = {("account", "en"): "Randomisation unit: account", ("account", "fr"): "Unité de randomisation: compte",
         ("visitor", "en"): "Randomisation unit: visitor", ("visitor", "fr"): "Unité de randomisation: visiteur",
         ("lead", "en"): "Randomisation unit: lead", ("lead", "fr"): "Unité de randomisation: lead",
         (None, "en"): "Randomisation unit: not stated (summary file)",
         (None, "fr"): "Unité de randomisation: non précisée (fichier de synthèse)"}


def _summary(unit: str | None) -> str:
    if unit is None:
        return CSV.format(col="", a="", b="")
    return CSV.format(col=",unit", a=f",{unit}", b=f",{unit.upper()}")


@pytest.mark.parametrize("unit", ["account", "visitor", "lead", None])
@pytest.mark.parametrize("lang", ["en", "fr"])
def test_every_format_names_the_unit(tmp_path: Path, unit: str | None, lang: str) -> None:
    result = read_out(parse_summary(_summary(unit)))
    decision = decide(result, target=0.05)
    words = WORDS[(unit, lang)]
    assert result.unit == unit and result.to_dict()["unit"] == unit  # JSON
    assert json.loads(json.dumps(result.to_dict()))["unit"] == unit
    md = render_markdown(result, decision, lang)
    assert f"*{words} · " in md  # the line under the decision, before the engine
    assert words in render_html(result, decision, lang)
    sheet = openpyxl.load_workbook(write_xlsx(tmp_path / "r.xlsx", result, decision, lang)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == words and rows[2][0] == ("Metric" if lang == "en" else "Indicateur")


def test_without_a_decision_the_sheet_keeps_its_layout(tmp_path: Path) -> None:
    result = read_out(parse_summary(_summary("account")))
    rows = list(openpyxl.load_workbook(write_xlsx(tmp_path / "r.xlsx", result, None, "en")).active.iter_rows(values_only=True))
    assert rows[0][0] is None and rows[1][0] == WORDS[("account", "en")] and rows[2][0] == "Metric"


def test_the_summary_unit_column_is_checked() -> None:
    with use_language("en"), pytest.raises(DataError, match=r"summary.csv, row 2: column 'unit' must be one of lead, account, visitor \(got 'client'\)"):
        parse_summary(CSV.format(col=",unit", a=",client", b=",lead"))
    with use_language("fr"), pytest.raises(DataError, match="summary.csv, row 3 : unité « account » alors que les lignes précédentes indiquent « lead »"):
        parse_summary(CSV.format(col=",unit", a=",lead", b=",account"))
    assert parse_summary(CSV.format(col=",unit", a=",", b=",visitor")).unit == "visitor"  # one row may leave it empty
