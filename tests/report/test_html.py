"""The HTML note: every dashboard item in both languages, figures per locale, no external fetch."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from babel.numbers import format_percent
from tests.report.conftest import degrade

from levier.report.html import inline_svg, render_html
from levier.report.sections import build_document


@pytest.fixture(scope="module")
def notes(_sample: dict[str, Any]) -> dict[str, str]:
    return {lang: render_html(build_document(_sample, lang), "0.1.0") for lang in ("fr", "en")}


def _text(markup: str) -> str:
    """Visible text, entities decoded, no-break spaces as plain spaces."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", markup))
    return re.sub(r"[ \u00a0\u202f]+", " ", text)


def _section(markup: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}".*?</section>', markup, re.S)
    assert match, section_id
    return _text(match.group(0))


DASHBOARD = {
    "fr": ["Tableau de bord d’une page", "Délai médian de premier contact", "1,7 h", "objectif 2,0 h",
           "Contacts médians par lead (IQR)", "5 (3–8)", "Taux de conversion", "18,0 %", "Corrélation r",
           "0,31", "Pente", "0,0213", "+2,13 pts de conversion par contact supplémentaire", "R²", "0,096",
           "Part en Q1", "27,0 %", "Taux de plaintes", "0,12 %", "10 comptes à coacher", "10 comptes à imiter",
           "Cycles en Q3", "Cycles en Q1", "Extraction des données", "1 nov. 2026", "Période", "2026-10",
           "Fenêtre d’attribution", "30 jours", "Définitions", "conversion = opportunity within 30 days"],
    "en": ["One-page dashboard", "Median TTF", "1.7 h", "target 2.0 h", "Median contacts per lead (IQR)",
           "5 (3–8)", "Conversion rate", "18.0%", "Correlation r", "0.31", "Slope", "0.0213",
           "+2.13 pts of conversion per extra contact", "R²", "0.096", "Share in Q1", "27.0%", "Complaint rate",
           "0.12%", "10 accounts to coach", "10 accounts to imitate", "Cycles in Q3", "Cycles in Q1",
           "Data extraction", "1 Nov 2026", "Period", "2026-10", "Attribution window", "30 days", "Definitions"],
}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_dashboard_items_in_both_languages(notes: dict[str, str], _sample: dict[str, Any], lang: str) -> None:
    dash = _section(notes[lang], "dashboard")
    missing = [item for item in DASHBOARD[lang] if item not in dash]
    assert not missing, missing
    for account in _sample["dashboard"]["coach_accounts"] + _sample["dashboard"]["imitate_accounts"]:
        assert account["account_id"] in dash
    assert dash.count("acc-") == 20


def test_french_figures_use_babel_formatting(notes: dict[str, str]) -> None:
    dash = _section(notes["fr"], "dashboard")
    expected = format_percent(0.18, format="#,##0.0 %", locale="fr_FR").replace("\u00a0", " ")
    assert expected == "18,0 %" and expected in dash
    assert "18.0" not in dash and "0.31" not in dash


def test_every_section_is_present(notes: dict[str, str]) -> None:
    ids = re.findall(r'<section id="([a-z]+)"', notes["fr"])
    assert ids == ["framing", "definitions", "dashboard", "scatter", "response", "ttf", "segments", "thresholds",
                   "diagnostic", "outliers", "cleaning", "comparison"]
    text = _text(notes["fr"])
    for title in ("Note de cadrage", "Contacts par lead et conversion", "Courbes de réponse",
                  "Délai de premier contact", "Segments et feux de décision", "Seuils proposés et exceptions",
                  "Diagnostic express", "Top 5 des valeurs atypiques", "Journal de nettoyage",
                  "Comparaison avec le cycle précédent"):
        assert title in text


def test_segment_table_has_traffic_lights_and_reasons(notes: dict[str, str], _sample: dict[str, Any]) -> None:
    lights = re.findall(r'<td class="light light-(\w+)">', notes["en"])
    assert lights == [s["traffic_light"]["colour"] for s in _sample["segments"]]
    seg = _section(notes["en"], "segments")
    assert "r = 0.26 ≥ 0.25" in seg and "deploy widely" in seg
    assert "vert" in _section(notes["fr"], "segments")


def test_charts_are_inline_svg_and_nothing_is_fetched(notes: dict[str, str]) -> None:
    for markup in notes.values():
        assert markup.count("<svg") == 4
        assert not re.search(r"https?:", markup), "no URL at all (no CDN, no namespace URLs)"
        assert not re.search(r"<script|<link|<iframe|<img|@import|url\(", markup, re.I)
        assert "<style>" in markup


def test_print_friendly_css(notes: dict[str, str]) -> None:
    assert "@media print" in notes["fr"] and "break-inside: avoid" in notes["fr"]


def test_inline_svg_drops_namespaces() -> None:
    svg = '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="1"><use xlink:href="#a"/></svg>'
    assert inline_svg(svg) == '<svg width="1"><use href="#a"/></svg>'


def test_undefined_figures_and_empty_lists(_sample: dict[str, Any]) -> None:
    for lang, na, missing in (("fr", "non disponible", "non disponible"), ("en", "n/a", "not available")):
        markup = render_html(build_document(degrade(_sample), lang))
        dash = _section(markup, "dashboard")
        assert dash.count(na) >= 8
        assert missing in _section(markup, "comparison") and missing in _section(markup, "outliers")
        assert "<svg" not in markup.split('id="scatter"')[1].split("</section>")[0]


def test_user_text_is_escaped(_sample: dict[str, Any]) -> None:
    data = dict(_sample, framing=dict(_sample["framing"], workspace="<script>alert(1)</script>"))
    markup = render_html(build_document(data, "en"))
    assert "<script>" not in markup and "&lt;script&gt;" in markup
