"""Native Excel charts of the audit workbook: the scatter (trend line, mean lines, quadrants)
and the response / TTF curves. Used by :mod:`levier.report.xlsx`."""

from __future__ import annotations

import math
from typing import Any

from xlsxwriter.utility import xl_rowcol_to_cell

from levier.report.fmt import is_number
from levier.report.labels import enum_label

__all__ = ["scatter_sheet", "curves_sheet", "lead_level_rows"]

_POINT_COLS = 4           # A..D: segment, x, y, n
_QUAD_COL = 6             # G: quadrant table
_LEAD_COL = 11            # L..M: lead-level helper rows (x, converted)
_MEAN_COL = 14            # O..P: mean lines


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _points(scatter: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in scatter.get("points") or []
            if isinstance(p, dict) and is_number(p.get("x")) and is_number(p.get("y"))]


def lead_level_rows(points: list[dict[str, Any]], limit: int) -> list[tuple[float, int]] | None:
    """(x, converted) rows that aggregated lead points stand for; None if not expandable."""
    if not points or any(not is_number(p.get("n")) or p["n"] < 1 for p in points):
        return None
    if sum(int(p["n"]) for p in points) > limit:
        return None
    rows: list[tuple[float, int]] = []
    for p in points:
        n = int(p["n"])
        conv = min(n, max(0, round(p["y"] * n)))
        rows += [(p["x"], 1)] * conv + [(p["x"], 0)] * (n - conv)
    return rows


def _col_range(sheet: str, first: int, last: int, col: int) -> list[Any]:
    return [sheet, first, col, last, col]


def _write_quadrants(book: Any, ws: Any, data: dict[str, Any]) -> None:
    f = book.f
    overall = _d(data.get("overall"))
    quad = _d(overall.get("quadrants"))
    counts, shares = _d(quad.get("counts")), _d(quad.get("shares"))
    scatter = _d(data.get("scatter"))
    trend = _d(scatter.get("trend"))
    ws.write_row(0, _QUAD_COL, [f.t("Quadrant"), f.t("Count"), f.t("Share")], book.head)
    names = ("Q1 — many contacts, high conversion (target)", "Q2 — few contacts, high conversion",
             "Q3 — few contacts, low conversion (priority)", "Q4 — many contacts, low conversion")
    for i, name in enumerate(names, start=1):
        ws.write_string(i, _QUAD_COL, f.t(name))
        book.value(ws, i, _QUAD_COL + 1, counts.get(f"q{i}"), "int")
        book.value(ws, i, _QUAD_COL + 2, shares.get(f"q{i}"), "pct")
    figures = ((f.t("Mean contacts (vertical line)"), scatter.get("x_mean"), "num2"),
               (f.t("Mean conversion (horizontal line)"), scatter.get("y_mean"), "pct"),
               (f.t("Slope m"), trend.get("slope"), "num4"), (f.t("Intercept b"), trend.get("intercept"), "num4"),
               (f.t("R²"), trend.get("r2"), "num3"))
    for i, (label, value, fmt) in enumerate(figures, start=6):
        ws.write_string(i, _QUAD_COL, label, book.bold)
        book.value(ws, i, _QUAD_COL + 1, value, fmt)
    ws.set_column(_QUAD_COL, _QUAD_COL, 44)
    ws.set_column(_QUAD_COL + 1, _QUAD_COL + 2, 10)


def _mean_lines(book: Any, ws: Any, scatter: dict[str, Any], points: list[dict[str, Any]],
                y_top: float) -> list[tuple[str, int]]:
    """Two-point series for the vertical and horizontal mean lines; returns (name, first row)."""
    f = book.f
    xs = [p["x"] for p in points]
    ws.write_row(0, _MEAN_COL, [f.t("Mean line x"), f.t("Mean line y")], book.head)
    out, row = [], 1
    if is_number(scatter.get("x_mean")):
        for y in (0.0, y_top):
            ws.write_row(row, _MEAN_COL, [scatter["x_mean"], y])
            row += 1
        out.append((f.t("Mean contacts (vertical line)"), 1))
    if is_number(scatter.get("y_mean")):
        start = row
        for x in (min(0.0, min(xs)), max(xs)):
            ws.write_row(row, _MEAN_COL, [x, scatter["y_mean"]])
            row += 1
        out.append((f.t("Mean conversion (horizontal line)"), start))
    return out


def scatter_sheet(book: Any, data: dict[str, Any]) -> None:
    """Points, lead-level helper rows, mean lines, quadrant counts and the native scatter chart."""
    from levier.report.xlsx import MAX_EXPANDED_ROWS

    f = book.f
    ws = book.sheet("Scatter data")
    name = ws.get_name()
    scatter = _d(data.get("scatter"))
    points = _points(scatter)
    headers = [f.t("Segment"), f.t("Contacts per lead"), f.t("Conversion rate"), f.t("Leads")]
    book.table(ws, 0, headers, [[p.get("segment"), p["x"], p["y"], p.get("n")] for p in points],
               [None, "num2", "pct", "int"], [22, 12, 12, 9])
    _write_quadrants(book, ws, data)
    if not points:
        return
    expanded = lead_level_rows(points, MAX_EXPANDED_ROWS) if scatter.get("unit", "lead") == "lead" else None
    if expanded:
        ws.write_row(0, _LEAD_COL, [f.t("Contacts (lead level)"), f.t("Converted (lead level)")], book.head)
        for i, (x, y) in enumerate(expanded, start=1):
            ws.write_number(i, _LEAD_COL, x)
            ws.write_number(i, _LEAD_COL + 1, y)
    ys = [p["y"] for p in points] + [v for v in (scatter.get("y_mean"),) if is_number(v)]
    y_top = min(1.0, math.ceil(max(ys) * 11) / 10) if max(ys) > 0 else 1.0
    means = _mean_lines(book, ws, scatter, points, y_top)
    chart = book.wb.add_chart({"type": "scatter", "subtype": "straight"})
    trendline = {"type": "linear", "display_equation": True, "display_r_squared": True,
                 "name": f.t("Linear trend"), "line": {"color": "#222222", "width": 1.75}}
    last = len(points)
    chart.add_series({"name": f.t("Segments × touches") if expanded else f.t("Points"),
                      "categories": _col_range(name, 1, last, 1), "values": _col_range(name, 1, last, 2),
                      "marker": {"type": "circle", "size": 6, "fill": {"color": "#1f5fa8", "transparency": 40},
                                 "border": {"none": True}},
                      "line": {"none": True}, **({} if expanded else {"trendline": trendline})})
    if expanded:
        chart.add_series({"name": f.t("Leads (trend basis)"),
                          "categories": _col_range(name, 1, len(expanded), _LEAD_COL),
                          "values": _col_range(name, 1, len(expanded), _LEAD_COL + 1),
                          "marker": {"type": "none"}, "line": {"none": True}, "trendline": trendline})
    for label, first in means:
        chart.add_series({"name": label, "categories": _col_range(name, first, first + 1, _MEAN_COL),
                          "values": _col_range(name, first, first + 1, _MEAN_COL + 1), "marker": {"type": "none"},
                          "line": {"color": "#777777", "dash_type": "dash", "width": 1.25}})
    chart.set_title({"name": f.t("Contacts per lead vs conversion")})
    chart.set_x_axis({"name": f.t("Contacts per lead"), "min": 0, "major_gridlines": {"visible": False}})
    chart.set_y_axis({"name": f.t("Conversion rate"), "min": 0, "max": y_top, "num_format": "0%"})
    chart.set_legend({"position": "bottom"})
    chart.set_size({"width": 760, "height": 460})
    ws.insert_chart(xl_rowcol_to_cell(13, _QUAD_COL), chart)


def _curve_rows(data: dict[str, Any], key: str, label: str, book: Any) -> list[list[Any]]:
    rows = []
    for s in data.get("segments") or []:
        if not isinstance(s, dict):
            continue
        curve = _d(s.get(key))
        for b in curve.get("bins") or []:
            if not isinstance(b, dict):
                continue
            ci = b.get("ci") if isinstance(b.get("ci"), list) and len(b["ci"]) == 2 else [None, None]
            rows.append([label, s.get("label"), str(b.get("label", "")), b.get("lo"), b.get("hi"), b.get("n"),
                         b.get("conversions"), b.get("rate"), ci[0], ci[1],
                         enum_label(book.f, "shape", curve.get("shape")), curve.get("knee")])
    return rows


def _curve_chart(book: Any, name: str, rows: list[list[Any]], offset: int, title: str, x_title: str) -> Any:
    chart = book.wb.add_chart({"type": "line"})
    by_segment: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_segment.setdefault(str(row[1]), []).append(offset + i)
    for segment, idx in by_segment.items():
        chart.add_series({"name": segment, "categories": [name, idx[0], 2, idx[-1], 2],
                          "values": [name, idx[0], 7, idx[-1], 7], "marker": {"type": "circle", "size": 4}})
    chart.set_title({"name": title})
    chart.set_x_axis({"name": x_title})
    chart.set_y_axis({"name": book.f.t("Conversion rate"), "num_format": "0%", "min": 0})
    chart.set_legend({"position": "right"})
    chart.set_size({"width": 760, "height": 400})
    return chart


def curves_sheet(book: Any, data: dict[str, Any]) -> None:
    """Response and TTF curve bins (with Wilson intervals) and a native line chart of each."""
    f = book.f
    ws = book.sheet("Response curves")
    name = ws.get_name()
    response = _curve_rows(data, "response_curve", f.t("Response curves"), book)
    ttf = _curve_rows(data, "ttf_curve", f.t("Time to first contact"), book)
    headers = [f.t(h) for h in ("Curve", "Segment", "Bin", "From", "To", "Leads", "Conversions",
                                "Conversion rate", "95 % CI low", "95 % CI high", "Shape", "Knee")]
    book.table(ws, 0, headers, response + ttf,
               [None, None, None, "num2", "num2", "int", "int", "pct", "pct", "pct", None, "num2"],
               [18, 20, 8, 7, 7, 8, 11, 11, 10, 10, 16, 7])
    ws.freeze_panes(1, 0)
    if response:
        ws.insert_chart("N2", _curve_chart(book, name, response, 1, f.t("Response curves"), f.t("Touches")))
    if ttf:
        ws.insert_chart("N24", _curve_chart(book, name, ttf, 1 + len(response),
                                            f.t("Conversion by time to first contact"), f.t("Time to first contact")))
