"""Report sections for attribution and the funnel: Vega-Lite charts, HTML, Markdown, XLSX.

Inputs are the JSON-safe dicts of the analysis results (``Comparison.to_dict()``, the
``levier funnel --json`` payload or ``Funnel.to_dict()``, ``ValueTable.to_dict()``), so the
report code can call these functions without importing the analysis. Labels are French or
English (domain ``attribution.po``).
"""

from __future__ import annotations

import html
from typing import Any

import altair as alt

from levier.i18n import gettext as _
from levier.report.charts import to_svg
from levier.report.fmt import Formatter

__all__ = [
    "attribution_spec", "funnel_spec", "attribution_html", "funnel_html", "attribution_markdown",
    "funnel_markdown", "write_attribution_sheet", "write_funnel_sheet",
]

_WIDTH = 560


def _rows(comparison: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"channel": ch["channel"], "model": m["label"], "conversions": ch["conversions"], "value": ch["value"]}
            for m in comparison.get("models", []) for ch in m.get("channels", [])]


def _config(chart: Any) -> dict[str, Any]:
    return chart.configure(font="Liberation Sans, Arial, sans-serif", background="white").configure_view(stroke="#ccc").to_dict(validate=True)


def attribution_spec(comparison: dict[str, Any], lang: str = "fr") -> dict[str, Any] | None:
    """Grouped horizontal bars: conversions credited to each channel, one colour per model."""
    rows = _rows(comparison)
    if not rows:
        return None
    chart = alt.Chart(alt.Data(values=rows)).mark_bar().encode(
        y=alt.Y("channel:N", title=_("Channel", lang=lang)),
        yOffset=alt.YOffset("model:N"),
        x=alt.X("conversions:Q", title=_("Attributed conversions", lang=lang)),
        color=alt.Color("model:N", title=_("Model", lang=lang)),
        tooltip=["channel:N", "model:N", alt.Tooltip("conversions:Q", format=".2f"), alt.Tooltip("value:Q", format=",.0f")],
    ).properties(width=_WIDTH, title=_("Attribution by model", lang=lang))
    return _config(chart)


def _overall_steps(funnel: dict[str, Any]) -> list[dict[str, Any]]:
    f = funnel.get("funnel", funnel)
    return list((f.get("overall") or {}).get("steps") or [])


def funnel_spec(funnel: dict[str, Any], lang: str = "fr") -> dict[str, Any] | None:
    """Bars of leads reaching each stage, labelled with the cumulative conversion."""
    steps = _overall_steps(funnel)
    if not steps:
        return None
    f = Formatter(lang)
    rows = [{"stage": s["stage"], "order": i, "reached": s["reached"], "label": f.pct(s.get("cumulative_rate"))} for i, s in enumerate(steps)]
    base = alt.Chart(alt.Data(values=rows)).encode(
        y=alt.Y("stage:N", sort=alt.EncodingSortField("order"), title=_("Stage", lang=lang)),
        x=alt.X("reached:Q", title=_("Leads", lang=lang)),
    )
    chart = alt.layer(base.mark_bar(color="#1565c0"), base.mark_text(align="left", dx=4).encode(text="label:N"))
    return _config(chart.properties(width=_WIDTH, title=_("Funnel", lang=lang)))


def _table_html(head: list[str], body: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _comparison_table(comparison: dict[str, Any], f: Formatter) -> tuple[list[str], list[list[str]]]:
    models = [m["label"] for m in comparison.get("models", [])]
    credit = {(r["model"], r["channel"]): r["conversions"] for r in _rows(comparison)}
    channels = comparison.get("channels") or sorted({c for _m, c in credit})
    head = [f.t("Channel"), *models]
    return head, [[ch, *[f.num(credit.get((m, ch), 0.0)) for m in models]] for ch in channels]


def _value_table(value: dict[str, Any], f: Formatter) -> tuple[list[str], list[list[str]]]:
    head = [f.t("Model"), f.t("Channel"), f.t("Spend"), "CPL", "CPLQ", "CAC", "ROAS", "ROMI"]
    body = [[r["model"], r["channel"], f.num(r["spend"]), f.num(r["cpl"]), f.num(r["cplq"]), f.num(r["cac"]),
             f.num(r["roas"]), f.pct(r["romi"])] for r in value.get("rows", [])]
    return head, body


def _markov_note(comparison: dict[str, Any], f: Formatter) -> str | None:
    for m in comparison.get("models", []):
        d = m.get("details") or {}
        if m.get("model") == "markov" and "removal_effects" in d:
            effects = ", ".join(f"{k} {f.num(v, 3)}" for k, v in d["removal_effects"].items())
            return f.t("Markov order {order}: P(conversion) = {p}; removal effects: {effects}.", order=d["order"], p=f.pct(d["p_conversion"], 2), effects=effects)
    return None


def attribution_html(comparison: dict[str, Any], lang: str = "fr", value: dict[str, Any] | None = None) -> str:
    """An HTML ``<section>`` with the chart (inline SVG), the side-by-side table and ROI."""
    f = Formatter(lang)
    parts = [f"<section class=\"attribution\"><h2>{html.escape(f.t('Attribution'))}</h2>"]
    spec = attribution_spec(comparison, lang)
    if spec:
        parts.append(f"<figure>{to_svg(spec, lang)}</figure>")
    parts.append(_table_html(*_comparison_table(comparison, f)))
    note = _markov_note(comparison, f)
    if note:
        parts.append(f"<p>{html.escape(note)}</p>")
    if value:
        parts.append(f"<h3>{html.escape(f.t('Channel value and ROI'))}</h3>" + _table_html(*_value_table(value, f)))
    parts.append("</section>")
    return "".join(parts)


def _funnel_rows(funnel: dict[str, Any], f: Formatter) -> tuple[list[str], list[list[str]]]:
    head = [f.t("Stage"), f.t("Leads"), f.t("Step conversion"), f.t("Cumulative"), f.t("Drop-off"), f.t("Median hours from previous")]
    body = [[s["stage"], f.integer(s["reached"]), f.pct(s["step_rate"]), f.pct(s["cumulative_rate"]), f.integer(s["drop_off"]),
             f.num(s["median_hours_from_previous"], 1)] for s in _overall_steps(funnel)]
    return head, body


def funnel_html(funnel: dict[str, Any], lang: str = "fr") -> str:
    f = Formatter(lang)
    parts = [f"<section class=\"funnel\"><h2>{html.escape(f.t('Funnel'))}</h2>"]
    spec = funnel_spec(funnel, lang)
    if spec:
        parts.append(f"<figure>{to_svg(spec, lang)}</figure>")
    parts.append(_table_html(*_funnel_rows(funnel, f)))
    web = funnel.get("web")
    if web:
        parts.append("<p>" + html.escape(f.t("Form completion rate: {c}; landing bounce rate: {b}.", c=f.pct(web.get("form_completion_rate")), b=f.pct(web.get("bounce_rate")))) + "</p>")
    parts.append("</section>")
    return "".join(parts)


def _md_table(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def attribution_markdown(comparison: dict[str, Any], lang: str = "fr", value: dict[str, Any] | None = None) -> str:
    f = Formatter(lang)
    out = [f"## {f.t('Attribution')}", "", _md_table(*_comparison_table(comparison, f)), ""]
    note = _markov_note(comparison, f)
    if note:
        out += [note, ""]
    if value:
        out += [f"### {f.t('Channel value and ROI')}", "", _md_table(*_value_table(value, f)), ""]
    return "\n".join(out)


def funnel_markdown(funnel: dict[str, Any], lang: str = "fr") -> str:
    f = Formatter(lang)
    return "\n".join([f"## {f.t('Funnel')}", "", _md_table(*_funnel_rows(funnel, f)), ""])


def write_attribution_sheet(workbook: Any, comparison: dict[str, Any], lang: str = "fr", value: dict[str, Any] | None = None) -> Any:
    """Add an "Attribution" sheet (xlsxwriter ``Workbook``): numeric table + native bar chart."""
    f = Formatter(lang)
    ws = workbook.add_worksheet(f.t("Attribution")[:31])
    bold = workbook.add_format({"bold": True})
    models = [m["label"] for m in comparison.get("models", [])]
    credit = {(r["model"], r["channel"]): r["conversions"] for r in _rows(comparison)}
    channels = comparison.get("channels") or sorted({c for _m, c in credit})
    ws.write_row(0, 0, [f.t("Channel"), *models], bold)
    for i, ch in enumerate(channels, start=1):
        ws.write(i, 0, ch)
        ws.write_row(i, 1, [float(credit.get((m, ch), 0.0)) for m in models])
    if channels and models:
        chart = workbook.add_chart({"type": "bar"})
        for j in range(1, len(models) + 1):
            chart.add_series({"name": [ws.name, 0, j], "categories": [ws.name, 1, 0, len(channels), 0], "values": [ws.name, 1, j, len(channels), j]})
        chart.set_title({"name": f.t("Attribution by model")})
        ws.insert_chart(1, len(models) + 2, chart)
    if value:
        start = len(channels) + 3
        head, _body = _value_table(value, f)
        ws.write_row(start, 0, head, bold)
        for i, r in enumerate(value.get("rows", []), start=start + 1):
            ws.write_row(i, 0, [r["model"], r["channel"], *[("" if r[k] is None else float(r[k])) for k in ("spend", "cpl", "cplq", "cac", "roas", "romi")]])
    return ws


def write_funnel_sheet(workbook: Any, funnel: dict[str, Any], lang: str = "fr") -> Any:
    """Add a "Funnel" sheet: stages with leads, rates and median time, plus a bar chart."""
    f = Formatter(lang)
    ws = workbook.add_worksheet(f.t("Funnel")[:31])
    head, _body = _funnel_rows(funnel, f)
    ws.write_row(0, 0, head, workbook.add_format({"bold": True}))
    steps = _overall_steps(funnel)
    for i, s in enumerate(steps, start=1):
        ws.write_row(i, 0, [s["stage"], s["reached"], *[("" if s[k] is None else float(s[k])) for k in ("step_rate", "cumulative_rate")],
                            s["drop_off"], "" if s["median_hours_from_previous"] is None else float(s["median_hours_from_previous"])])
    if steps:
        chart = workbook.add_chart({"type": "bar"})
        chart.add_series({"name": f.t("Leads"), "categories": [ws.name, 1, 0, len(steps), 0], "values": [ws.name, 1, 1, len(steps), 1]})
        chart.set_y_axis({"reverse": True})
        ws.insert_chart(1, len(head) + 1, chart)
    return ws
