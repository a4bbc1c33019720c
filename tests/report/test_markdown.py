"""The Markdown note parses with markdown-it-py: headings, tables, images written beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from tests.report.conftest import degrade

from levier.report.markdown import render_markdown, write_markdown
from levier.report.sections import build_document


def _tokens(text: str) -> list[Any]:
    return MarkdownIt("commonmark").enable("table").parse(text)


def test_markdown_renders_with_headings_tables_and_images(tmp_path: Path, audit_sample: dict[str, Any]) -> None:
    doc = build_document(audit_sample, "fr")
    written = write_markdown(doc, tmp_path / "note.md")
    assert [p.name for p in written] == ["note.md", "note-scatter.png", "note-response.png", "note-ttf.png",
                                         "note-segments.png"]
    text = (tmp_path / "note.md").read_text(encoding="utf-8")
    tokens = _tokens(text)
    headings = [t for t in tokens if t.type == "heading_open"]
    assert [h.tag for h in headings].count("h1") == 1 and [h.tag for h in headings].count("h2") == 12
    assert sum(t.type == "table_open" for t in tokens) >= 12
    images = [c.attrs["src"] for t in tokens if t.type == "inline" for c in t.children or [] if c.type == "image"]
    assert images == ["note-scatter.png", "note-response.png", "note-ttf.png", "note-segments.png"]
    for image in images:
        assert (tmp_path / image).read_bytes()[:4] == b"\x89PNG"
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<td>🟢 vert</td>" in html and "<th>Délai médian de premier contact</th>" not in html
    assert "Délai médian de premier contact" in html and "<strong>18,0\u00a0%</strong>" in html


def test_pipes_in_cells_are_escaped(audit_sample: dict[str, Any]) -> None:
    audit_sample["outliers"][0]["facts"] = "a | b"
    text = render_markdown(build_document(audit_sample, "en"), {k: f"{k}.png" for k in
                                                                ("scatter", "response", "ttf", "segments")})
    rows = [t for t in _tokens(text) if t.type == "td_open"]
    assert rows and "a \\| b" in text


def test_empty_sections_say_not_available(tmp_path: Path, audit_sample: dict[str, Any]) -> None:
    written = write_markdown(build_document(degrade(audit_sample), "en"), tmp_path / "n.md")
    text = written[0].read_text(encoding="utf-8")
    assert "_not available_" in text and "Chart not available: no data." in text
    assert all(p.exists() for p in written)
