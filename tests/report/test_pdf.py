"""The PDF note: several pages, the dashboard text (with French accents), the charts as images."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from pypdf import PdfReader
from tests.report.conftest import degrade

from levier.report.charts import to_png
from levier.report.pdf import printable, render_pdf
from levier.report.sections import build_document


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


def _text(pdf: bytes) -> str:
    """Text of every page, extracted by pypdf through the embedded font's ToUnicode map."""
    return " ".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def _render(data: dict[str, Any], lang: str) -> bytes:
    doc = build_document(data, lang)  # charts at scale 1 keep the test fast; layout is the same
    return render_pdf(doc, {fig.key: to_png(fig.spec, lang, scale=1) for fig in doc.figures()})


@pytest.fixture(scope="module")
def pdfs(_sample: dict[str, Any]) -> dict[str, bytes]:
    return {lang: _render(_sample, lang) for lang in ("fr", "en")}


def test_pdf_has_pages_and_text(pdfs: dict[str, bytes]) -> None:
    for pdf in pdfs.values():
        assert pdf.startswith(b"%PDF-")
        assert _pages(pdf) >= 8
    fr = _text(pdfs["fr"])
    for item in ("Tableau de bord d", "Délai médian de premier contact", "18,0\xa0%", "0,12\xa0%", "Période",
                 "10 comptes à coacher", "Journal de nettoyage", "acc-1000"):
        assert item in fr, item
    en = _text(pdfs["en"])
    assert "One-page dashboard" in en and "18.0%" in en and "Top 5 outliers" in en


def test_pdf_embeds_the_four_charts(pdfs: dict[str, bytes]) -> None:
    assert len(re.findall(rb"/Subtype\s*/Image", pdfs["fr"])) >= 4


def test_symbols_print_as_written_and_missing_glyphs_are_substituted() -> None:
    text = "r ≥ 0,25 → déployer, ΔCR ≈ +2 pts — “œuvre” 12\u202f345 €"
    assert printable(text) == text
    assert printable("🟢 vert 漢") == " vert ?"


def test_pdf_embeds_its_font_and_prints_symbols(pdfs: dict[str, bytes]) -> None:
    assert b"/FontFile2" in pdfs["fr"] and b"DejaVu" in pdfs["fr"]
    assert any(sym in _text(pdfs["fr"]) + _text(pdfs["en"]) for sym in "≥≤→Δ≈"), "no symbol printed as written"


def test_pdf_with_undefined_figures(_sample: dict[str, Any]) -> None:
    pdf = _render(degrade(_sample), "fr")
    assert _pages(pdf) >= 2 and "non disponible" in _text(pdf)
