"""The attribution / funnel / KPI workbook: numbers stay numbers, charts are native Excel bars.

The first sheet is the existing section sheet of :mod:`levier.report.attribution`
(attribution: channel × model credits with a bar chart, ROI rows; funnel: stages with a bar
chart); each table of the note then gets its own sheet with the note's formatted cells, and
the Markov removal effects and transitions are written as numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xlsxwriter

from levier.report.attribution import write_attribution_sheet, write_funnel_sheet
from levier.report.document import Document, Pairs, Table
from levier.report.fmt import Formatter

__all__ = ["write_workbook"]


def _sheet_name(wb: Any, title: str) -> str:
    base = "".join(c for c in title if c not in "[]:*?/\\")[:28] or "Sheet"
    name, i = base, 2
    taken = {ws.name.lower() for ws in wb.worksheets()}
    while name.lower() in taken:
        name, i = f"{base[:26]} {i}", i + 1
    return name


def _markov_sheets(wb: Any, payload: dict[str, Any], f: Formatter, bold: Any) -> None:
    for m in payload.get("models") or []:
        d = m.get("details") or {}
        if m.get("model") != "markov" or "removal_effects" not in d:
            continue
        ws = wb.add_worksheet(_sheet_name(wb, f.t("Markov order {order}", order=d.get("order"))))
        ws.write_row(0, 0, [f.t("P(conversion)"), d.get("p_conversion")], bold)
        ws.write_row(2, 0, [f.t("Channel"), f.t("Removal effect"), f.t("Value removal effect")], bold)
        for i, (ch, v) in enumerate(d["removal_effects"].items(), start=3):
            ws.write_row(i, 0, [ch, float(v), float((d.get("value_removal_effects") or {}).get(ch, 0.0))])
        start = len(d["removal_effects"]) + 5
        ws.write_row(start, 0, [f.t("From"), f.t("To"), f.t("Journeys"), f.t("Probability")], bold)
        for i, t in enumerate(d.get("transitions") or [], start=start + 1):
            ws.write_row(i, 0, [t["from"], t["to"], float(t["count"]), float(t["probability"])])
        ws.set_column(0, 1, 22)


def _doc_sheets(wb: Any, doc: Document, bold: Any, skip: set[str]) -> None:
    for section in doc.sections:
        if section.id in skip:
            continue
        blocks = [b for b in section.blocks if isinstance(b, Table | Pairs)]
        if not blocks:
            continue
        ws = wb.add_worksheet(_sheet_name(wb, section.title))
        row = 0
        for block in blocks:
            if block.caption:
                ws.write(row, 0, block.caption, bold)
                row += 1
            if isinstance(block, Pairs):
                for label, value in block.items:
                    ws.write_row(row, 0, [label, value])
                    row += 1
            else:
                ws.write_row(row, 0, list(block.columns), bold)
                for r in block.rows:
                    row += 1
                    ws.write_row(row, 0, list(r))
                row += 1
            row += 1
        ws.set_column(0, 0, 28)
        ws.set_column(1, 12, 16)


def write_workbook(kind: str, payload: dict[str, Any], doc: Document, path: Path, lang: str = "fr") -> Path:
    f = Formatter(lang)
    wb = xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True})
    bold = wb.add_format({"bold": True})
    skip: set[str] = set()
    if kind == "attribution":
        write_attribution_sheet(wb, payload, lang, payload.get("value") or None)
        _markov_sheets(wb, payload, f, bold)
        skip = {s.id for s in doc.sections if s.id.startswith("markov")}
    elif kind == "funnel":
        write_funnel_sheet(wb, payload, lang)
    _doc_sheets(wb, doc, bold, skip)
    wb.close()
    return path
