"""`levier funnel`: conversion per stage, drop-off, time between steps, web funnel, velocity."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from levier.cli._app import JsonOpt, LangOpt, WorkspaceOpt, app, console, emit_json
from levier.cli.attribution import (
    FormatOpt,
    OutOpt,
    PeriodOpt,
    _busy,
    _fmt,
    period_bounds,
    write_note,
)
from levier.i18n import gettext as _

__all__ = ["funnel_cmd"]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _print_funnel(f: Any) -> None:
    for seg in (f.overall, *f.segments):
        table = Table(title=_("Funnel — {segment}", segment=seg.label))
        for col in (_("Stage"), _("Leads"), _("Step conversion"), _("Cumulative"), _("Drop-off"), _("Median hours from previous")):
            table.add_column(col, justify="right")
        for s in seg.steps:
            table.add_row(s.stage, f"{s.reached:,}", _pct(s.step_rate), _pct(s.cumulative_rate), f"{s.drop_off:,}", _fmt(s.median_hours_from_previous, 1))
        console.print(table)


@app.command("funnel")
def funnel_cmd(
    period: PeriodOpt = None,
    segment_by: Annotated[str | None, typer.Option("--segment-by", help="Lead columns to split by, comma-separated (e.g. channel,company_size).")] = None,
    fmt: FormatOpt = "",
    lang: LangOpt = None,
    out: OutOpt = Path("funnel"),
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Show the stage funnel (per segment), the web funnel and the sales KPIs of a period."""
    from levier.analysis.funnel import funnel
    from levier.analysis.marketing import pipeline_velocity, sales_cycle, web_funnel
    from levier.workspace import open_workspace

    start, end, label = period_bounds(period)
    segs = tuple(c.strip() for c in (segment_by or "").split(",") if c.strip())
    with open_workspace(workspace) as ws, _busy(json_, _("Computing the funnel in the engine…")):
        f = funnel(ws, start=start, end=end, segment_by=segs)
        web = web_funnel(ws, start, end)
        cycle = sales_cycle(ws, start, end)
        velocity = pipeline_velocity(ws, start, end)
    payload = {"period": label, "funnel": f.to_dict(), "mql_to_sql_rate": f.rate("mql", "sql"), "web": web.to_dict(),
               "sales_cycle": cycle.to_dict(), "pipeline_velocity": velocity.to_dict()}
    written = write_note("funnel", payload, fmt, lang, out, json_)
    if json_:
        emit_json({**payload, "files": [str(p) for p in written]} if written else payload)
        return
    _print_funnel(f)
    console.print(_("Web: {v} visitors → {s} form starts → {d} submits → {l} leads; form completion {c}, bounce rate {b}",
                    v=web.visitors, s=web.form_starters, d=web.form_submitters, l=web.leads, c=_pct(web.form_completion_rate), b=_pct(web.bounce_rate)))
    console.print(_("MQL → SQL: {r}; sales cycle (median): {d} days; win rate {w}; pipeline velocity {v} per day",
                    r=_pct(f.rate("mql", "sql")), d=_fmt(cycle.median_days, 1), w=_pct(velocity.win_rate), v=_fmt(velocity.velocity_per_day)))
