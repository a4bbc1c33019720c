"""The PDF note: several pages, the dashboard text (with French accents), the charts as images."""

from __future__ import annotations

import re
import zlib
from typing import Any

import pytest
from tests.report.conftest import degrade

from levier.report.charts import to_png
from levier.report.pdf import latin1, render_pdf
from levier.report.sections import build_document


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))


def _text(pdf: bytes) -> str:
    """Text shown by the content streams (core-font strings are Latin-1 literals)."""
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        if b" Tf" not in content[:4000]:  # image data, not a page's content stream
            continue
        for literal in re.findall(rb"\((?:\\.|[^\\)])*\)\s*Tj", content):
            raw = literal[1:literal.rindex(b")")]
            raw = re.sub(rb"\\([()\\])", rb"\1", raw)
            out.append(raw.decode("latin-1"))
    return " ".join(out)


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


def test_symbols_outside_latin1_are_substituted() -> None:
    assert latin1("r ≥ 0,25 → déployer, ΔCR ≈ +2 pts — “œuvre” 12\u202f345") == \
        'r >= 0,25 -> déployer, Delta CR ~ +2 pts - "oeuvre" 12\xa0345'
    assert latin1("★") == "?"


def test_pdf_with_undefined_figures(_sample: dict[str, Any]) -> None:
    pdf = _render(degrade(_sample), "fr")
    assert _pages(pdf) >= 2 and "non disponible" in _text(pdf)
