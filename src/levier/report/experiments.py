"""Experiment report section: effect chart (Vega-Lite via Altair), Markdown/HTML fragment, XLSX sheet.

The chart shows one point and its interval per arm and metric (relative lift or absolute
difference), with a zero line: what a decider needs to see at a glance.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import altair as alt
from markdown_it import MarkdownIt

from levier.i18n import gettext as _
from levier.report.fmt import Formatter

__all__ = ["effect_chart_spec", "render_markdown", "render_html", "write_xlsx_sheet", "write_xlsx"]

_LIGHTS = {"green": "🟢", "amber": "🟠", "red": "🔴"}


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def _rows(result: Any) -> list[dict[str, Any]]:
    rows = []
    for e in result.effects:
        if not (e.ok and _finite(e.estimate)):
            continue
        lo = e.ci_low if _finite(e.ci_low) else e.estimate
        hi = e.ci_high if _finite(e.ci_high) else e.estimate
        rows.append({"metric": e.metric, "arm": e.arm, "estimate": e.estimate, "low": lo, "high": hi,
                     "significant": bool(e.significant)})
    return rows


def effect_chart_spec(result: Any, lang: str = "fr") -> dict[str, Any] | None:
    """Point + interval per arm and metric (None when nothing can be drawn)."""
    rows = _rows(result)
    if not rows:
        return None
    t = lambda s: _(s, lang=lang)  # noqa: E731
    relative = result.options.difference == "relative"
    fmt = ".0%" if relative else ",.3~g"
    x_title = t("Relative lift vs control") if relative else t("Difference vs control")
    base = alt.Chart(alt.Data(values=rows))
    y = alt.Y("metric:N", title=t("Metric"))
    colour = alt.Color("arm:N", title=t("Arm"))
    rule = base.mark_rule(strokeWidth=2).encode(x=alt.X("low:Q", title=x_title, axis=alt.Axis(format=fmt)),
                                                x2="high:Q", y=y, yOffset="arm:N", color=colour)
    point = base.mark_point(filled=True, size=80).encode(
        x="estimate:Q", y=y, yOffset="arm:N", color=colour,
        tooltip=["metric:N", "arm:N", alt.Tooltip("estimate:Q", format=fmt), alt.Tooltip("low:Q", format=fmt),
                 alt.Tooltip("high:Q", format=fmt)])
    zero = alt.Chart(alt.Data(values=[{"x": 0}])).mark_rule(color="#888", strokeDash=[4, 4]).encode(x="x:Q")
    chart = alt.layer(rule, point, zero).properties(width=520, height=max(60, 36 * len(rows)),
                                                    title=t("Effect by metric and arm (interval: 1 - α)"))
    return chart.configure(font="Liberation Sans, Arial, sans-serif", background="white").to_dict(validate=True)


def _effect_cells(e: Any, f: Formatter, relative: bool) -> list[str]:
    if not e.ok:
        return [f.na, f.na, e.message]
    show = (lambda v: f.pct(v, 1)) if relative else (lambda v: f.num(v, 4))
    ci = f"[{show(e.ci_low) if _finite(e.ci_low) else '−∞'} ; {show(e.ci_high) if _finite(e.ci_high) else '+∞'}]"
    if e.p_value is not None:
        p = e.p_adjusted if e.p_adjusted is not None else e.p_value
        stat = f"p = {f.num(p, 4)}"
    else:
        stat = f"{f.t('chance to win')} {f.pct(e.chance_to_win, 1)}"
    return [show(e.estimate), ci, stat]


def render_markdown(result: Any, decision: Any = None, lang: str = "fr") -> str:
    """The experiment section as Markdown (decision, effects, guardrails, SRM, breakdowns)."""
    f = Formatter(lang)
    t = f.t
    relative = result.options.difference == "relative"
    lines = [f"## {t('Experiment')} `{result.key}`", ""]
    if decision is not None:
        lines += [f"**{t('Decision')}: {_LIGHTS.get(decision.light, '')} {t(decision.action)}**"
                  + (f" ({decision.arm})" if decision.arm else ""), ""]
        lines += [f"- {m}" for _c, m in decision.reasons] + [""]
    lines += [f"*{t('Randomisation unit')}: {result.unit_label(lang)} · {t('Engine')}: {result.options.engine} · α = {result.options.alpha:g} · "
              f"{t('correction')}: {result.options.correction} · {t('difference')}: {t(result.options.difference)}*", ""]
    lines += [f"| {t('Metric')} | {t('Arm')} | {t('Control')} | {t('Arm value')} | {t('Effect')} | {t('Interval')} | {t('Test')} |",
              "|---|---|---|---|---|---|---|"]
    for e in result.effects:
        lines.append(f"| {e.metric} | {e.arm} | {f.num(e.mean_a, 4)} | {f.num(e.mean_b, 4)} | "
                     + " | ".join(_effect_cells(e, f, relative)) + " |")
    if result.guardrails:
        lines += ["", f"### {t('Guardrails')}", "", f"| {t('Metric')} | {t('Arm')} | {t('Value')} | {t('Limit')} | {t('Status')} | p |",
                  "|---|---|---|---|---|---|"]
        for g in result.guardrails:
            p = f.num(g.effect.p_value, 4) if g.effect.p_value is not None else f.na
            limit = f.num(g.limit, 4) if g.limit is not None else "—"
            lines.append(f"| {g.metric} | {g.arm} | {f.num(g.value, 4)} | {limit} | {t(g.status)} | {p} |")
    srm = result.srm
    lines += ["", f"### {t('Sample ratio')}", "",
              t("Units per arm: {counts}; χ² p = {p}.", counts=", ".join(f"{a} {f.integer(n)}" for a, n in zip(srm.arms, srm.observed, strict=True)),
                p=f.num(srm.p_value, 4))
              + (" **" + t("Sample ratio mismatch: do not trust these results.") + "**" if srm.mismatch else "")]
    if result.breakdowns:
        lines += ["", f"### {t('Breakdowns')} ({result.primary})", "",
                  f"| {t('Dimension')} | {t('Value')} | {t('Arm')} | n | {t('Effect')} | {t('Interval')} | {t('Test')} |",
                  "|---|---|---|---|---|---|---|"]
        for b in result.breakdowns:
            small = " ⚠" if "small_sample" in b.warnings else ""
            lines.append(f"| {b.dimension} | {b.value}{small} | {b.arm} | {f.integer(b.n_a + b.n_b)} | "
                         + " | ".join(_effect_cells(b, f, relative)) + " |")
        if any("small_sample" in b.warnings for b in result.breakdowns):
            lines += ["", "⚠ " + t("Small cell (under 100 units per arm or under 10 conversions): read with caution.")]
    return "\n".join(lines) + "\n"


def render_html(result: Any, decision: Any = None, lang: str = "fr") -> str:
    """The same section as an HTML fragment, with the chart spec embedded as JSON."""
    import json

    body = MarkdownIt().enable("table").render(render_markdown(result, decision, lang))
    spec = effect_chart_spec(result, lang)
    if spec is None:
        return body
    return body + f'<script type="application/json" class="vega-lite-spec">{json.dumps(spec)}</script>\n'


def write_xlsx_sheet(workbook: Any, result: Any, decision: Any = None, lang: str = "fr", name: str | None = None) -> Any:
    """Add one sheet (effects, guardrails, breakdowns) to an open xlsxwriter workbook."""
    t = lambda s: _(s, lang=lang)  # noqa: E731
    ws = workbook.add_worksheet((name or f"{t('Experiment')} {result.key}")[:31])
    bold = workbook.add_format({"bold": True})
    pct = workbook.add_format({"num_format": "0.00%" if result.options.difference == "relative" else "0.0000"})
    head = [t("Metric"), t("Dimension"), t("Value"), t("Arm"), "n (control)", "n (arm)", t("Control"), t("Arm value"),
            t("Effect"), t("Interval low"), t("Interval high"), "p", t("p adjusted"), t("chance to win"), t("Code")]
    if decision is not None:
        ws.write(0, 0, f"{t('Decision')}: {t(decision.action)} ({decision.light})", bold)
    ws.write(1, 0, f"{t('Randomisation unit')}: {result.unit_label(lang)}")
    row = 2
    ws.write_row(row, 0, head, bold)
    for e in (*result.effects, *result.breakdowns, *(g.effect for g in result.guardrails)):
        row += 1
        vals = [e.metric, e.dimension, e.value, e.arm, e.n_a, e.n_b, e.mean_a, e.mean_b]
        ws.write_row(row, 0, [v if not isinstance(v, float) or math.isfinite(v) else None for v in vals])
        for col, v in enumerate((e.estimate, e.ci_low, e.ci_high), start=8):
            if _finite(v):
                ws.write_number(row, col, v, pct)
        for col, v in enumerate((e.p_value, e.p_adjusted, e.chance_to_win), start=11):
            if _finite(v):
                ws.write_number(row, col, v)
        ws.write(row, 14, e.code)
    ws.set_column(0, 3, 16)
    return ws


def write_xlsx(path: str | Path, result: Any, decision: Any = None, lang: str = "fr") -> Path:
    import xlsxwriter

    path = Path(path)
    wb = xlsxwriter.Workbook(str(path))
    write_xlsx_sheet(wb, result, decision, lang)
    wb.close()
    return path
