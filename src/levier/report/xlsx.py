"""The audit workbook (xlsxwriter): data sheets plus NATIVE Excel charts.

The "Scatter data" sheet holds the scatter the analysts used to build by hand: the points, a
linear trend line showing its equation and R², the two mean lines (extra series) and the
quadrant counts. For the lead unit the points are aggregated (one per number of touches and
segment); the trend line is fitted on the lead-level rows those points stand for (written in
helper columns, marker-less series) so Excel's equation equals the note's slope and intercept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from levier.report.charts import LIGHT_COLOURS
from levier.report.fmt import Formatter, is_number
from levier.report.labels import enum_label
from levier.report.sections import dashboard_tiles, framing_section

__all__ = ["write_xlsx", "SHEETS", "MAX_EXPANDED_ROWS"]

SHEETS = ("Dashboard", "Segments", "Scatter data", "Response curves", "Thresholds", "Diagnostic",
          "Outliers", "Cleaning", "Framing")
MAX_EXPANDED_ROWS = 200_000


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


class _Book:
    """A workbook with the note's formats and null-tolerant cell writers."""

    def __init__(self, path: Path, f: Formatter) -> None:
        self.wb: Workbook = xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True})
        self.f = f
        add = self.wb.add_format
        self.bold = add({"bold": True})
        self.title = add({"bold": True, "font_size": 14, "font_color": "#1f5fa8"})
        self.head = add({"bold": True, "bg_color": "#eef1f5", "bottom": 1, "text_wrap": True, "valign": "top"})
        self.muted = add({"italic": True, "font_color": "#5b6472"})
        self.formats = {"pct": add({"num_format": "0.0%"}), "pct2": add({"num_format": "0.00%"}),
                        "num2": add({"num_format": "0.00"}), "num3": add({"num_format": "0.000"}),
                        "num4": add({"num_format": "0.0000"}), "int": add({"num_format": "#,##0"}),
                        "hours": add({"num_format": '0.0" h"'}), "p": add({"num_format": "0.0000"}),
                        "text": add({"text_wrap": True, "valign": "top"}), None: None}
        self.lights = {c: add({"bold": True, "font_color": "#ffffff", "bg_color": v}) for c, v in LIGHT_COLOURS.items()}

    def sheet(self, name: str) -> Worksheet:
        return self.wb.add_worksheet(self.f.t(name)[:31])

    def value(self, ws: Worksheet, row: int, col: int, value: Any, fmt: str | None = None) -> None:
        if value is None or (isinstance(value, float) and not is_number(value)):
            ws.write_string(row, col, self.f.na, self.muted)
        elif is_number(value):
            ws.write_number(row, col, value, self.formats[fmt])
        elif isinstance(value, list | tuple | dict):
            ws.write_string(row, col, self.f.text(value))
        else:
            ws.write_string(row, col, str(value), self.formats[fmt] if fmt == "text" else None)

    def table(self, ws: Worksheet, row: int, headers: list[str], rows: list[list[Any]],
              formats: list[str | None], widths: list[float] | None = None) -> int:
        """Header + rows from ``row``; returns the next free row."""
        for col, text in enumerate(headers):
            ws.write_string(row, col, text, self.head)
        for r, values in enumerate(rows, start=row + 1):
            for col, value in enumerate(values):
                self.value(ws, r, col, value, formats[col] if col < len(formats) else None)
        if not rows:
            ws.write_string(row + 1, 0, self.f.t("not available"), self.muted)
        for col, width in enumerate(widths or []):
            ws.set_column(col, col, width)
        return row + max(len(rows), 1) + 2


def _dashboard(book: _Book, data: dict[str, Any]) -> None:
    f, dash, framing = book.f, _d(data.get("dashboard")), _d(data.get("framing"))
    ws = book.sheet("Dashboard")
    ws.write_string(0, 0, f.t("One-page dashboard"), book.title)
    iqr = dash.get("contacts_iqr") if isinstance(dash.get("contacts_iqr"), list) else [None, None]
    tiles = dashboard_tiles(dash, framing, f)
    raw = [(dash.get("median_ttf_hours"), "hours"), (dash.get("median_contacts"), "num2"),
           (dash.get("conversion_rate"), "pct"), (dash.get("r"), "num3"), (dash.get("slope"), "num4"),
           (dash.get("r2"), "num3"), (dash.get("pct_q1"), "pct"), (dash.get("complaint_rate"), "pct2")]
    rows = [[tile.label, value, tile.note] for tile, (value, _) in zip(tiles, raw, strict=True)]
    rows.insert(2, [f.t("Contacts IQR (Q1–Q3)"), f"{f.count(iqr[0])}–{f.count(iqr[1])}" if len(iqr) == 2 else None, ""])
    fmts = [fmt for _, fmt in raw]
    fmts.insert(2, None)
    ws.write_row(2, 0, [f.t("Figure"), f.t("Value"), f.t("Note")], book.head)
    for i, (row, fmt) in enumerate(zip(rows, fmts, strict=True), start=3):
        ws.write_string(i, 0, row[0], book.bold)
        book.value(ws, i, 1, row[1], fmt)
        ws.write_string(i, 2, row[2])
    nxt = 3 + len(rows) + 1
    for key, caption in (("coach_accounts", "10 accounts to coach (recurring in Q3: few contacts, low conversion)"),
                         ("imitate_accounts", "10 accounts to imitate (Q1: many contacts, high conversion)")):
        ws.write_string(nxt, 0, f.t(caption), book.bold)
        accounts = _l(dash.get(key))
        cycles = next((k for a in accounts for k in a if k.startswith("cycles_in_")), "cycles_in_q3")
        rows2 = [[a.get("account_id"), a.get("leads"), a.get("mean_touches"), a.get("conversion_rate"), a.get(cycles)]
                 for a in accounts]
        headers = [f.t("Account"), f.t("Leads"), f.t("Mean touches"), f.t("Conversion rate"),
                   f.t("Cycles in {quadrant}", quadrant=cycles.rsplit("_", 1)[-1].upper())]
        nxt = book.table(ws, nxt + 1, headers, rows2, [None, "int", "num2", "pct", "int"])
    meta = _d(dash.get("meta"))
    ws.write_string(nxt, 0, f.t("About these figures"), book.bold)
    items = [(f.t("Data extraction"), f.date(meta.get("extraction_time") or framing.get("extraction_time"))),
             (f.t("Period"), meta.get("period")), (f.t("Attribution window"), meta.get("attribution_window_days")),
             (f.t("Definitions"), "; ".join(map(str, meta.get("definitions") or [])) or None)]
    for i, (label, value) in enumerate(items, start=nxt + 1):
        ws.write_string(i, 0, label, book.bold)
        book.value(ws, i, 1, value, "int")
    ws.set_column(0, 0, 44)
    ws.set_column(1, 1, 16)
    ws.set_column(2, 4, 30)


def _segments(book: _Book, data: dict[str, Any]) -> None:
    f = book.f
    ws = book.sheet("Segments")
    cols = [("Segment", None, 22), ("Leads", "int", 9), ("Conversions", "int", 11), ("Conversion rate", "pct", 11),
            ("Median contacts", "num2", 10), ("Contacts Q1", "num2", 9), ("Contacts Q3", "num2", 9),
            ("Mean contacts", "num2", 9), ("Median TTF", "hours", 10), ("TTF p90", "hours", 10),
            ("Within SLA", "pct", 9), ("Effective contact rate", "pct", 10), ("Correlation r", "num3", 9),
            ("r CI low", "num3", 9), ("r CI high", "num3", 9), ("Spearman ρ", "num3", 9), ("Slope", "num4", 9),
            ("Intercept b", "num4", 9), ("R²", "num3", 8), ("p-value", "p", 9), ("Status", None, 14),
            ("Q1", "int", 7), ("Q2", "int", 7), ("Q3", "int", 7), ("Q4", "int", 7), ("Complaint rate", "pct2", 10),
            ("Unsubscribe rate", "pct2", 10), ("Light", None, 9), ("Reasons", "text", 50), ("Action", "text", 28),
            ("ΔCR (pts)", "num2", 9)]
    rows = []
    segs = _l(data.get("segments"))
    for s in segs:
        corr, c, t = _d(s.get("correlation")), _d(s.get("contacts")), _d(s.get("ttf"))
        rci = corr.get("r_ci") if isinstance(corr.get("r_ci"), list) and len(corr["r_ci"]) == 2 else [None, None]
        counts, comp, light = _d(_d(s.get("quadrants")).get("counts")), _d(s.get("complaints")), _d(s.get("traffic_light"))
        rows.append([s.get("label"), s.get("n"), s.get("conversions"), s.get("conversion_rate"), c.get("median"),
                     c.get("q1"), c.get("q3"), c.get("mean"), t.get("median_hours"), t.get("p90_hours"),
                     t.get("share_within_sla"), s.get("effective_contact_rate"), corr.get("r"), rci[0], rci[1],
                     corr.get("spearman"), corr.get("slope"), corr.get("intercept"), corr.get("r2"),
                     corr.get("p_value"), enum_label(f, "code", corr.get("code")), counts.get("q1"),
                     counts.get("q2"), counts.get("q3"), counts.get("q4"), comp.get("rate"),
                     comp.get("unsubscribe_rate"), enum_label(f, "light", light.get("colour")),
                     "; ".join(f.t(str(r)) for r in light.get("reasons") or []) or None,
                     f.t(str(light.get("action") or "")) or None,
                     _d(s.get("comparison")).get("delta_cr_points")])
    book.table(ws, 0, [f.t(name) for name, _, _ in cols], rows, [fmt for _, fmt, _ in cols],
               [w for _, _, w in cols])
    for r, s in enumerate(segs, start=1):
        colour = _d(s.get("traffic_light")).get("colour")
        if colour in book.lights:
            ws.write_string(r, 27, enum_label(f, "light", colour), book.lights[colour])
    ws.freeze_panes(1, 1)


def _thresholds(book: _Book, data: dict[str, Any]) -> None:
    f = book.f
    ws = book.sheet("Thresholds")
    rows = [[t.get("segment"), t.get("min_touches"), t.get("window_days"), t.get("ttf_target_hours"),
             t.get("max_per_day"), ", ".join(f"{k} ≤ {v}" for k, v in _d(t.get("channel_caps")).items()) or None,
             ", ".join(enum_label(f, "exception", e) for e in t.get("exceptions") or []) or None,
             f.text(t.get("evidence"))] for t in _l(data.get("thresholds"))]
    headers = [f.t(h) for h in ("Segment", "Minimum touches", "Window (days)", "TTF target", "Max per day",
                                "Caps per channel", "Exceptions", "Evidence")]
    book.table(ws, 0, headers, rows, [None, "int", "int", "hours", "int", None, None, "text"],
               [22, 10, 10, 10, 10, 22, 28, 60])


def _text_sheets(book: _Book, data: dict[str, Any]) -> None:
    f = book.f
    ws = book.sheet("Diagnostic")
    rows = [[f.t(str(d.get("question") or d.get("key") or "")), enum_label(f, "answer", d.get("answer")),
             f.t(str(d.get("evidence") or "")) or None] for d in _l(data.get("diagnostic"))]
    book.table(ws, 0, [f.t("Question"), f.t("Answer"), f.t("Evidence")], rows, ["text", None, "text"], [60, 10, 70])
    ws = book.sheet("Outliers")
    rows = [[o.get("rank"), enum_label(f, "kind", o.get("kind")), o.get("id"), f.t(str(o.get("facts") or "")),
             enum_label(f, "category", o.get("category")), f.t(str(o.get("action") or ""))]
            for o in _l(data.get("outliers"))[:5]]
    book.table(ws, 0, [f.t(h) for h in ("Rank", "Kind", "Identifier", "Facts", "Class", "Action")], rows,
               ["int", None, None, "text", None, "text"], [6, 12, 16, 50, 18, 50])
    ws = book.sheet("Cleaning")
    rows = [[r.get("rule"), r.get("rows"), enum_label(f, "category", r.get("category")),
             enum_label(f, "action", r.get("action")), f.t(str(r.get("reason") or "")) or None]
            for r in _l(_d(data.get("cleaning")).get("rules"))]
    book.table(ws, 0, [f.t(h) for h in ("Rule", "Rows", "Category", "Action", "Reason")], rows,
               [None, "int", None, None, "text"], [24, 10, 18, 12, 60])
    ws = book.sheet("Framing")
    pairs = next(b for b in framing_section(_d(data.get("framing")), f).blocks if hasattr(b, "items"))
    ws.write_string(0, 0, f.t("Framing note"), book.title)
    for i, (label, value) in enumerate(pairs.items, start=2):
        ws.write_string(i, 0, label, book.bold)
        ws.write_string(i, 1, value)
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 80)


def write_xlsx(data: dict[str, Any], path: Path, lang: str = "fr") -> Path:
    """Write the audit workbook to ``path``."""
    from levier.report.xlsx_charts import curves_sheet, scatter_sheet

    book = _Book(path, Formatter(lang))
    _dashboard(book, data)
    _segments(book, data)
    scatter_sheet(book, data)
    curves_sheet(book, data)
    _thresholds(book, data)
    _text_sheets(book, data)
    book.wb.close()
    return path
