"""The audit note as PDF with fpdf2 (pure Python, installs from PyPI alone).

Text uses DejaVu Sans, shipped with the package (src/levier/report/fonts, Bitstream Vera
licence) and embedded as a subset: every French letter and the note's symbols (≥ ≤ ≈ Δ → ρ œ,
typographic quotes, narrow no-break spaces) print as written. Characters the font lacks (the
traffic-light emoji) are replaced by safe equivalents (see docs/decisions/0051 and 0118).
Charts are the same Vega-Lite specs rendered to PNG by vl-convert.
"""

from __future__ import annotations

import io
import struct
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from levier.report.charts import LIGHT_COLOURS, to_png
from levier.report.document import Document, Figure, Pairs, Para, Table, Tiles
from levier.report.fmt import Formatter

__all__ = ["render_pdf", "write_pdf", "printable", "FONT_DIR"]

_SUBSTITUTES = {
    "≥": ">=", "≤": "<=", "≈": "~", "≠": "!=", "Δ": "Delta ", "→": "->", "←": "<-", "ρ": "rho",
    "—": "-", "–": "-", "−": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "…": "...",
    "œ": "oe", "Œ": "OE", "€": "EUR", "⚠": "!", "\u202f": "\xa0", "\u2009": " ", "•": "-",
    "🟢": "", "🟠": "", "🔴": "", "⚪": "",
}
_FONT = "dejavu"
FONT_DIR = Path(__file__).resolve().parent / "fonts"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
_ACCENT = (31, 95, 168)
_MUTED = (91, 100, 114)
_FIGURE_SECTIONS = {"dashboard", "scatter", "response", "ttf", "segments"}


@lru_cache(maxsize=1)
def _covered() -> frozenset[int]:
    """Code points DejaVu Sans (regular) has a glyph for."""
    from fontTools.ttLib import TTFont

    with TTFont(FONT_DIR / _FONT_FILES[""], lazy=True) as font:
        return frozenset(font.getBestCmap())


def printable(text: str) -> str:
    """``text`` with every character the embedded font lacks replaced (known symbols, else ``?``)."""
    covered = _covered()
    if all(ord(ch) in covered or ch in "\n\t" for ch in text):
        return text
    out = []
    for ch in text:
        if ord(ch) in covered or ch in "\n\t":
            out.append(ch)
        else:
            out.append(_SUBSTITUTES.get(ch, "?"))
    return "".join(out)


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)


class _NotePDF(FPDF):
    def __init__(self, title: str, f: Formatter) -> None:
        super().__init__(orientation="landscape", unit="mm", format="A4")
        self.note_title = printable(title)
        self.fmt = f
        self.set_margins(12, 14, 12)
        self.set_auto_page_break(auto=True, margin=14)
        self.set_title(self.note_title)
        self.set_creator("Levier")
        for style, name in _FONT_FILES.items():
            self.add_font(_FONT, style, str(FONT_DIR / name))

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font(_FONT, "", 8)
        self.set_text_color(*_MUTED)
        self.cell(0, 5, self.note_title, align="L")
        self.ln(7)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(_FONT, "", 8)
        self.set_text_color(*_MUTED)
        self.cell(0, 5, f"{self.page_no()} / {{nb}}", align="R")
        self.set_text_color(0, 0, 0)


def _heading(pdf: _NotePDF, text: str, size: float = 15) -> None:
    pdf.set_font(_FONT, "B", size)
    pdf.set_text_color(*_ACCENT)
    pdf.multi_cell(0, size * 0.5, printable(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(1.5)


def _tiles(pdf: _NotePDF, block: Tiles) -> None:
    per_row, gap, height = 4, 3.0, 24.0
    width = (pdf.epw - gap * (per_row - 1)) / per_row
    for start in range(0, len(block.items), per_row):
        y = pdf.get_y()
        for i, tile in enumerate(block.items[start:start + per_row]):
            x = pdf.l_margin + i * (width + gap)
            pdf.set_draw_color(200, 205, 212)
            pdf.rect(x, y, width, height)
            pdf.set_xy(x + 2, y + 1.5)
            pdf.set_font(_FONT, "", 7.5)
            pdf.set_text_color(*_MUTED)
            pdf.cell(width - 4, 4, printable(tile.label.upper()))
            pdf.set_xy(x + 2, y + 6)
            pdf.set_font(_FONT, "B", 16)
            pdf.set_text_color(0, 0, 0)
            pdf.cell(width - 4, 9, printable(tile.value))
            pdf.set_xy(x + 2, y + 16)
            pdf.set_font(_FONT, "", 7)
            pdf.set_text_color(*_MUTED)
            pdf.multi_cell(width - 4, 3.2, printable(tile.note), max_line_height=3.2)
        pdf.set_text_color(0, 0, 0)
        pdf.set_xy(pdf.l_margin, y + height + gap)
    pdf.ln(2)


def _col_widths(pdf: _NotePDF, columns: tuple[str, ...], rows: tuple[tuple[str, ...], ...],
                size: float) -> tuple[float, ...]:
    """Widths that never split a word: each column gets its longest word, then a share of the
    remaining width in proportion to how much wider its longest cell would like to be."""
    pad = 2.0
    lows, highs = [], []
    for i, col in enumerate(columns):
        cells = [printable(col)] + [printable(r[i]) for r in rows if i < len(r)]
        pdf.set_font(_FONT, "B", size)
        words = [w for c in cells for w in c.replace("\xa0", "_").split()] or [""]
        lows.append(max(pdf.get_string_width(w) for w in words) + pad)
        pdf.set_font(_FONT, "", size)
        highs.append(max(pdf.get_string_width(c) for c in cells) + pad)
    total_low = sum(lows)
    if total_low >= pdf.epw:
        return tuple(w * pdf.epw / total_low for w in lows)
    extra = [max(h - lo, 0.0) for h, lo in zip(highs, lows, strict=True)]
    spare = pdf.epw - total_low
    want = sum(extra)
    if want <= spare:
        return tuple(lo + e for lo, e in zip(lows, extra, strict=True))
    return tuple(lo + e * spare / want for lo, e in zip(lows, extra, strict=True))


def _table(pdf: _NotePDF, block: Table, f: Formatter) -> None:
    if block.caption:
        _heading(pdf, block.caption, 11)
    if not block.rows:
        _para(pdf, Para(block.empty or f.t("not available"), "note"))
        return
    size = 7 if len(block.columns) > 8 else 8.5
    pdf.set_font(_FONT, "", size)
    align = tuple("RIGHT" if block.is_numeric(i) else "LEFT" for i in range(len(block.columns)))
    heading = FontFace(emphasis="BOLD", fill_color=(238, 241, 245))
    widths = _col_widths(pdf, block.columns, block.rows, size)
    pdf.set_font(_FONT, "", size)
    with pdf.table(col_widths=widths, width=min(sum(widths), pdf.epw), align="LEFT", text_align=align,
                   line_height=size * 0.5, headings_style=heading, borders_layout="HORIZONTAL_LINES",
                   cell_fill_color=(248, 249, 251), cell_fill_mode="ROWS", padding=0.8) as table:
        header = table.row()
        for col in block.columns:
            header.cell(printable(col))
        for i, row in enumerate(block.rows):
            cells = table.row()
            for j, text in enumerate(row):
                colour = block.light(i) if j == block.light_col else None
                style = FontFace(emphasis="BOLD", color=(255, 255, 255),
                                 fill_color=_hex_rgb(LIGHT_COLOURS[colour])) if colour else None
                cells.cell(printable(text), style=style)
    pdf.ln(3)


def _pairs(pdf: _NotePDF, block: Pairs) -> None:
    if block.caption:
        _heading(pdf, block.caption, 11)
    pdf.set_font(_FONT, "", 9)
    with pdf.table(col_widths=(1, 3), first_row_as_headings=False, line_height=4.5,
                   borders_layout="HORIZONTAL_LINES", cell_fill_mode="NONE", padding=0.8) as table:
        for label, value in block.items:
            row = table.row()
            row.cell(printable(label), style=FontFace(emphasis="BOLD"))
            row.cell(printable(value))
    pdf.ln(3)


def _para(pdf: _NotePDF, block: Para) -> None:
    style = {"note": "I", "warning": "B"}.get(block.kind, "")
    pdf.set_font(_FONT, style, 9)
    if block.kind == "warning":
        pdf.set_fill_color(255, 248, 225)
    pdf.multi_cell(0, 4.5, printable(block.text), fill=block.kind == "warning", new_x="LMARGIN", new_y="NEXT")
    pdf.set_fill_color(255, 255, 255)
    pdf.ln(2)


def _png_size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _figure(pdf: _NotePDF, block: Figure, png: bytes) -> None:
    px_w, px_h = _png_size(png)
    width = min(pdf.epw, px_w * 0.25)
    height = width * px_h / px_w
    room = pdf.h - pdf.b_margin - pdf.get_y()
    if height > room:
        if room < 60:
            pdf.add_page()
            room = pdf.h - pdf.b_margin - pdf.get_y()
        if height > room:
            width, height = width * room / height, room
    pdf.image(io.BytesIO(png), x=pdf.l_margin + (pdf.epw - width) / 2, w=width, h=height)
    pdf.ln(2)


def render_pdf(doc: Document, pngs: dict[str, bytes] | None = None) -> bytes:
    """The note as PDF bytes; ``pngs`` maps figure keys to PNG (rendered when missing)."""
    f = Formatter(doc.lang)
    pngs = dict(pngs or {})
    pdf = _NotePDF(doc.title, f)
    pdf.add_page()
    _heading(pdf, doc.title, 20)
    pdf.set_font(_FONT, "", 9)
    pdf.set_text_color(*_MUTED)
    pdf.multi_cell(0, 5, printable(doc.subtitle), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.ln(3)
    for section in doc.sections:
        if section.id in _FIGURE_SECTIONS or pdf.get_y() > pdf.h - 60:
            pdf.add_page()
        _heading(pdf, section.title)
        for block in section.blocks:
            if isinstance(block, Tiles):
                _tiles(pdf, block)
            elif isinstance(block, Table):
                _table(pdf, block, f)
            elif isinstance(block, Pairs):
                _pairs(pdf, block)
            elif isinstance(block, Para):
                _para(pdf, block)
            elif isinstance(block, Figure):
                _figure(pdf, block, pngs.get(block.key) or to_png(block.spec, doc.lang))
    return bytes(pdf.output())


def write_pdf(doc: Document, path: Path, pngs: dict[str, bytes] | None = None) -> Path:
    path.write_bytes(render_pdf(doc, pngs))
    return path
