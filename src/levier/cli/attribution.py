"""`levier attribute` and `levier kpis`: which channels produced the revenue; the KPI catalogue."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from levier.cli._app import JsonOpt, LangOpt, WorkspaceOpt, app, console, emit_json, err_console
from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = ["attribute_cmd", "kpis_cmd", "parse_models", "period_bounds", "write_note"]

ModelOpt = Annotated[list[str] | None, typer.Option("--model", "-m", help="Model(s): first, last, last_non_direct, linear, time_decay, position, markov, shapley (repeat or comma-separate; several → side by side). Default: markov.")]
PeriodOpt = Annotated[str | None, typer.Option("--period", help="Period: 2026-10, 2026-Q3, 2026 or 2026-10-01..2026-10-31.")]
FormatOpt = Annotated[str, typer.Option("--format", help="Also write a note: comma-separated html, xlsx, pdf, md, json.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Directory of the note files.")]


def write_note(kind: str, payload: dict[str, Any], formats: str, lang: str | None, out: Path, json_: bool) -> list[Path]:
    """Render the ``kind`` note when ``--format`` is given; print where it went (not under --json)."""
    if not formats.strip():
        return []
    from levier.i18n import get_language
    from levier.report.attribution_note import render_note

    code = lang or get_language()
    with _busy(json_, _("Rendering the note…")):
        written = render_note(kind, payload, formats, code, out)
    if not json_:
        console.print(_("Wrote {n} file(s) into {path}.", n=len(written), path=out))
        for path in written:
            console.print(f"  {path}")
    return written


def parse_models(values: list[str] | None) -> list[str]:
    out = [m.strip() for v in (values or ["markov"]) for m in v.split(",") if m.strip()]
    return out or ["markov"]


def period_bounds(text: str | None) -> tuple[datetime | None, datetime | None, str | None]:
    if not text:
        return None, None, None
    from levier.analysis.framing import parse_period

    p = parse_period(text)
    return p.start_dt, p.end_dt, p.label


def _busy(json_: bool, message: str) -> Any:
    return nullcontext() if json_ else err_console.status(message)


def _fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def _print_comparison(cmp: Any, title: str) -> None:
    frame = cmp.to_frame()
    table = Table(title=title)
    table.add_column(_("Channel"))
    for col in frame.columns[1:]:
        table.add_column(col, justify="right")
    for row in frame.itertuples(index=False):
        table.add_row(str(row[0]), *[_fmt(v) for v in row[1:]])
    console.print(table)
    for r in cmp.results:
        if r.model == "markov":
            d = r.details
            effects = ", ".join(f"{k} {v:.4f}" for k, v in d.removal_effects.items())
            console.print(_("Markov order {order}: P(conversion) = {p:.4f}; removal effects: {effects}", order=d.chain.order, p=d.p_conversion, effects=effects))


def _print_value(table_: Any) -> None:
    table = Table(title=_("Channel value and ROI"))
    for col in (_("Model"), _("Channel"), _("Spend"), "CPL", "CPLQ", "CAC", "ROAS", "ROMI"):
        table.add_column(col, justify="right")
    for r in table_.rows:
        table.add_row(r.model, r.channel, _fmt(r.spend), _fmt(r.cpl), _fmt(r.cplq), _fmt(r.cac), _fmt(r.roas), _fmt(r.romi))
    console.print(table)


@app.command("attribute")
def attribute_cmd(
    model: ModelOpt = None,
    order: Annotated[int, typer.Option("--order", help="Order of the Markov chain (1–4).")] = 1,
    paths: Annotated[Path | None, typer.Option("--paths", help="Path-level CSV (path with '>' between channels, conversions, nulls, optional value) instead of the workspace.")] = None,
    lookback: Annotated[str, typer.Option("--lookback", help="Lookback window before the conversion: 30d, 4w, 30.")] = "30d",
    period: PeriodOpt = None,
    stage: Annotated[str, typer.Option("--conversion-stage", help="Stage that counts as the conversion.")] = "opportunity",
    half_life: Annotated[str, typer.Option("--half-life", help="Half-life of the time-decay model: 7d.")] = "7d",
    ordered: Annotated[bool, typer.Option("--ordered", help="Shapley: ordered variant (credit by first-touch position).")] = False,
    level: Annotated[str, typer.Option("--level", help="Attribute to channel or channel/campaign.")] = "channel",
    roi: Annotated[bool, typer.Option("--roi", help="Also join spend: CPL, CPLQ, CAC, ROAS, ROMI per channel and model.")] = False,
    fmt: FormatOpt = "",
    lang: LangOpt = None,
    out: OutOpt = Path("attribution"),
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Attribute conversions and value to channels with one or several models."""
    from levier.analysis.attribution import (
        JourneyOptions,
        attribute,
        attribute_paths,
        channel_value,
    )
    from levier.analysis.framing import parse_duration_days

    models = parse_models(model)
    if paths is not None:
        if roi:
            raise OptionError(_("--roi needs the workspace (spend and stages); drop --paths."))
        with _busy(json_, _("Attributing…")):
            cmp = attribute_paths(paths, models, order=order, ordered_shapley=ordered)
        payload: dict[str, Any] = cmp.to_dict()
    else:
        from levier.workspace import open_workspace

        start, end, label = period_bounds(period)
        opts = JourneyOptions(conversion_stage=stage, lookback_days=parse_duration_days(lookback, "--lookback"),
                              start=start, end=end, level=level)
        with open_workspace(workspace) as ws, _busy(json_, _("Building journeys in the engine…")):
            cmp = attribute(ws, models, options=opts, order=order, ordered_shapley=ordered,
                            half_life_days=parse_duration_days(half_life, "--half-life"))
            value = channel_value(ws, models, options=opts, order=order) if roi else None
        payload = cmp.to_dict()
        payload["period"] = label
        if value is not None:
            payload["value"] = value.to_dict()
    written = write_note("attribution", payload, fmt, lang, out, json_)
    if json_:
        emit_json({**payload, "files": [str(p) for p in written]} if written else payload)
        return
    _print_comparison(cmp, _("Attributed conversions ({n} journeys)", n=f"{cmp.source.get('journeys', 0):,.0f}"))
    if roi and paths is None:
        _print_value(value)


@app.command("kpis")
def kpis_cmd(
    period: PeriodOpt = None,
    segment: Annotated[list[str] | None, typer.Option("--segment", help="Restrict to leads with column=value (repeatable), e.g. channel=inbound.")] = None,
    kpi: Annotated[list[str] | None, typer.Option("--kpi", help="Only these KPI keys (repeatable).")] = None,
    definitions: Annotated[bool, typer.Option("--definitions", help="List the catalogue (definitions) instead of measuring.")] = False,
    fmt: FormatOpt = "",
    lang: LangOpt = None,
    out: OutOpt = Path("kpis"),
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Measure the KPIs of the shared catalogue over a period (or list their definitions)."""
    from levier.analysis.kpis import KPIS, compute_kpis

    if definitions:
        rows = [k.to_dict() for k in KPIS.values()]
        if json_:
            emit_json(rows)
            return
        table = Table(title=_("KPI catalogue"))
        for col in ("key", _("Name"), _("Unit"), _("Kind"), _("Timing")):
            table.add_column(col)
        for r in rows:
            table.add_row(r["key"], r["name"], r["unit"], r["kind"], r["timing"])
        console.print(table)
        return
    seg: dict[str, str] = {}
    for item in segment or []:
        if "=" not in item:
            raise OptionError(_("--segment must look like column=value, not '{value}'.", value=item))
        k, v = item.split("=", 1)
        seg[k.strip()] = v.strip()
    from levier.workspace import open_workspace

    with open_workspace(workspace) as ws, _busy(json_, _("Measuring KPIs…")):
        start, end, label = period_bounds(period)
        if start is None:
            from levier.analysis.framing import default_period

            latest = ws.table("leads").created_at.max().execute()
            p = default_period(None if latest is None or latest != latest else latest.to_pydatetime())
            start, end, label = p.start_dt, p.end_dt, p.label
        keys = tuple(kpi) if kpi else tuple(k for k, v in KPIS.items() if v.computable and (not seg or k not in _UNSEGMENTED))
        values = compute_kpis(ws, start, end, keys, seg or None)
    payload = {"period": label, "segment": seg or None, "kpis": [v.to_dict() for v in values]}
    written = write_note("kpis", payload, fmt, lang, out, json_)
    if json_:
        emit_json({**payload, "files": [str(p) for p in written]} if written else payload)
        return
    table = Table(title=_("KPIs for {period}", period=label))
    table.add_column("key")
    table.add_column(_("Name"))
    table.add_column(_("Value"), justify="right")
    table.add_column(_("Unit"))
    for v in values:
        table.add_row(v.key, KPIS[v.key].name(), _fmt(v.value, 4 if v.unit in ("ratio", "coefficient") else 2), v.unit)
    console.print(table)


_UNSEGMENTED = frozenset({"form_completion_rate", "bounce_rate", "web_visitors", "sales_cycle_days", "win_rate", "average_deal",
                          "pipeline_velocity", "monthly_churn", "arpa", "cltv", "spend", "cpl", "cplq", "cac", "roas", "romi",
                          "time_to_conversion_days"})
