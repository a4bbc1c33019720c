"""`levier kpi list|show|define|set-target|set-threshold|north-star|series|refresh|dashboard|alerts|score|sla|forecast` (the registry).

The older `levier kpis` (catalogue values over a period, in cli/attribution.py) stays as is.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from rich.table import Table

from levier.cli._app import JsonOpt, WorkspaceOpt, app, console, emit_json, loop_session
from levier.errors import OptionError
from levier.i18n import gettext as _
from levier.workspace import open_workspace

__all__ = ["kpi_app"]

kpi_app = typer.Typer(help="KPI registry: owners, targets, series, dashboards, alerts, scoring, SLA, forecast.", no_args_is_help=True)
app.add_typer(kpi_app, name="kpi")

StartOpt = Annotated[str | None, typer.Option("--start", help="First day (YYYY-MM-DD).")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Day after the last one (YYYY-MM-DD).")]


_session = loop_session


def _day(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time())
    except ValueError:
        raise OptionError(_("{name}: '{value}' is not a date (YYYY-MM-DD).", name=name, value=value)) from None


def _segment(items: list[str] | None) -> dict[str, str] | None:
    out = {}
    for item in items or []:
        k, sep, v = item.partition("=")
        if not sep:
            raise OptionError(_("--segment: '{item}' must look like column=value.", item=item))
        out[k.strip()] = v.strip()
    return out or None


@kpi_app.command("list")
def list_(workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Every KPI of the registry with its owner, kind, frequency and AARRR stage."""
    from levier.kpi import registry

    with _session(workspace) as (_ws, s):
        rows = registry.list_kpis(s)
        if json_:
            emit_json([e.to_dict() for e in rows])
            return
        table = Table(title=_("KPI registry"))
        for col in (_("Key"), _("Name"), _("Owner"), _("Kind"), _("Frequency"), _("AARRR"), _("Targets")):
            table.add_column(col)
        for e in rows:
            kind = f"{e.kind}/{e.timing}" + (" ★" if e.north_star else "") + (" (vanity)" if e.vanity else "")
            table.add_row(e.key, e.name, e.owner or "—", kind, e.frequency, ",".join(e.aarrr), str(len(e.targets)))
        console.print(table)


@kpi_app.command()
def show(key: str, workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """One KPI: definition, formula, owner, tags and targets."""
    from levier.kpi import registry

    with _session(workspace) as (_ws, s):
        e = registry.get_kpi(s, key)
        if json_:
            emit_json(e.to_dict())
            return
        for k, v in e.to_dict().items():
            console.print(f"[bold]{k}[/bold]: {v}")


@kpi_app.command()
def define(key: str, formula: Annotated[str, typer.Argument(help="e.g. \"count(touches, outcome == 'replied') / count(leads)\"")],
           owner: Annotated[str | None, typer.Option("--owner", help="The one accountable user.")] = None,
           name: Annotated[str, typer.Option("--name")] = "", kind: Annotated[str, typer.Option("--kind", help="activity or impact.")] = "activity",
           timing: Annotated[str, typer.Option("--timing", help="leading or lagging.")] = "leading",
           frequency: Annotated[str, typer.Option("--frequency", help="daily, weekly, monthly or quarterly.")] = "weekly",
           unit: Annotated[str, typer.Option("--unit")] = "count", vanity: Annotated[bool, typer.Option("--vanity")] = False,
           aarrr: Annotated[list[str] | None, typer.Option("--aarrr", help="AARRR stage (repeatable).")] = None,
           direction: Annotated[str, typer.Option("--direction", help="increase or decrease.")] = "increase",
           workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Register a user-defined KPI (the formula is validated)."""
    from levier.kpi import registry

    with _session(workspace) as (_ws, s):
        e = registry.define_kpi(s, key, formula, name=name, owner=owner, unit=unit, kind=kind, timing=timing, vanity=vanity,
                                frequency=frequency, aarrr=aarrr or (), direction=direction)
    emit_json(e.to_dict()) if json_ else console.print(_("KPI {key} registered.", key=e.key))


@kpi_app.command("set-owner")
def set_owner(key: str, owner: str, workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Give a KPI its one owner."""
    from levier.kpi import registry

    with _session(workspace) as (_ws, s):
        e = registry.update_kpi(s, key, owner=owner)
    emit_json(e.to_dict()) if json_ else console.print(_("{key} is owned by {owner}.", key=key, owner=e.owner))


@kpi_app.command("north-star")
def north_star_(key: str, workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Make KEY the workspace's North Star metric (only one)."""
    from levier.kpi import registry

    with _session(workspace) as (_ws, s):
        e = registry.set_north_star(s, key)
    emit_json(e.to_dict()) if json_ else console.print(_("North Star: {key}.", key=e.key))


@kpi_app.command("set-target")
def set_target(key: str, value: float, deadline: Annotated[str, typer.Option("--deadline", help="YYYY-MM-DD.")],
               baseline: Annotated[float | None, typer.Option("--baseline")] = None,
               segment: Annotated[list[str] | None, typer.Option("--segment", help="column=value (repeatable).")] = None,
               note: Annotated[str, typer.Option("--note")] = "", workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Set a SMART target: VALUE by --deadline, from --baseline, for --segment."""
    from levier.kpi import registry

    with _session(workspace) as (_ws, s):
        t = registry.set_target(s, key, value, deadline, baseline=baseline, segment=_segment(segment), note=note)
    emit_json(t.to_dict()) if json_ else console.print(_("Target {id}: {key} → {v} by {d}.", id=t.id, key=key, v=value, d=deadline))


@kpi_app.command("set-threshold")
def set_threshold(key: Annotated[str | None, typer.Argument(help="The KPI key (omit with --list).")] = None,
                  lower: Annotated[float | None, typer.Option("--lower", help="Alert when a period is below this value.")] = None,
                  upper: Annotated[float | None, typer.Option("--upper", help="Alert when a period is above this value.")] = None,
                  segment: Annotated[list[str] | None, typer.Option("--segment", help="column=value (repeatable); none: all leads.")] = None,
                  note: Annotated[str, typer.Option("--note")] = "",
                  clear: Annotated[bool, typer.Option("--clear", help="Remove the threshold of KEY (and --segment).")] = False,
                  list_: Annotated[bool, typer.Option("--list", help="List the stored thresholds (of KEY, or all).")] = False,
                  workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Store the alert thresholds of a KPI (lower/upper bound, optionally for one segment) used by `levier kpi alerts --check`."""
    from levier.kpi import thresholds

    with _session(workspace) as (ws, s):
        if list_:
            rows = [t.to_dict() for t in thresholds.list_thresholds(s, key)]
            if json_:
                emit_json(rows)
                return
            table = Table(title=_("KPI thresholds"))
            for col in (_("KPI"), _("Segment"), _("Lower"), _("Upper"), _("Note")):
                table.add_column(col)
            for r in rows:
                table.add_row(r["kpi_key"], thresholds.segment_key(r["segment"]) or "—", "—" if r["lower"] is None else f"{r['lower']:g}",
                              "—" if r["upper"] is None else f"{r['upper']:g}", r["note"])
            console.print(table)
            return
        if not key:
            raise OptionError(_("Give the KPI key (or --list)."))
        if clear:
            thresholds.clear_threshold(s, key, _segment(segment))
            emit_json({"cleared": key, "segment": _segment(segment)}) if json_ else console.print(_("Threshold of {key} removed.", key=key))
            return
        t = thresholds.set_threshold(s, key, lower=lower, upper=upper, segment=_segment(segment), note=note, ws=ws)
    if json_:
        emit_json(t.to_dict())
        return
    console.print(_("Threshold {id}: {key} [{segment}] lower {lower}, upper {upper}.", id=t.id, key=key,
                    segment=thresholds.segment_key(t.segment) or _("all leads"), lower="—" if t.lower is None else f"{t.lower:g}",
                    upper="—" if t.upper is None else f"{t.upper:g}"))


@kpi_app.command()
def series(key: str, grain: Annotated[str, typer.Option("--grain", help="day, week, month or quarter.")] = "week",
           start: StartOpt = None, end: EndOpt = None,
           segment_by: Annotated[list[str] | None, typer.Option("--by", help="Lead column to split by (repeatable).")] = None,
           full: Annotated[bool, typer.Option("--full", help="Recompute every period.")] = False,
           workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """The KPI per period (and segment), refreshed incrementally."""
    from levier.kpi import timeseries

    with _session(workspace) as (ws, s):
        ser = timeseries.series(ws, s, key, grain, _day(start, "--start"), _day(end, "--end"), tuple(segment_by or ()), full=full)
    if json_:
        emit_json(ser.to_dict())
        return
    table = Table(title=_("{key} per {grain} ({n} recomputed, {m} reused)", key=key, grain=grain, n=ser.recomputed, m=ser.reused))
    for col in (_("Period"), _("Segment"), _("Value")):
        table.add_column(col)
    for p in ser.points:
        table.add_row(p.period_start.date().isoformat() + (" *" if p.partial else ""), p.segment or "—", "—" if p.value is None else f"{p.value:.4g}")
    console.print(table)


@kpi_app.command()
def refresh(keys: Annotated[list[str] | None, typer.Argument(help="KPI keys (default: every computable KPI).")] = None,
            grain: Annotated[str | None, typer.Option("--grain", help="day, week, month or quarter (default: each KPI's review frequency).")] = None,
            start: StartOpt = None, end: EndOpt = None,
            segment_by: Annotated[list[str] | None, typer.Option("--by", help="Lead column to split by (repeatable).")] = None,
            full: Annotated[bool, typer.Option("--full", help="Recompute every period.")] = False,
            workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Refresh the stored KPI series (what the API and dashboards read), incrementally."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from levier.cli._app import err_console
    from levier.kpi import registry, timeseries

    rows = []
    with _session(workspace) as (ws, s):
        entries = [registry.get_kpi(s, k) for k in keys] if keys else registry.list_kpis(s, computable_only=True)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                      transient=True, disable=json_) as bar, timeseries.refresh_scope():  # one journal read per refresh
            task = bar.add_task(_("Refreshing KPI series"), total=len(entries))
            for e in entries:
                g = grain or timeseries.FREQUENCY_GRAIN.get(e.frequency, "month")
                bar.update(task, description=e.key)
                ser = timeseries.series(ws, s, e.key, g, _day(start, "--start"), _day(end, "--end"), tuple(segment_by or ()), full=full)
                rows.append({"key": e.key, "grain": g, "recomputed": ser.recomputed, "reused": ser.reused,
                             "refreshed_at": ser.refreshed_at.isoformat() if ser.refreshed_at else None})
                bar.advance(task)
    if json_:
        emit_json(rows)
        return
    table = Table(title=_("KPI series refreshed"))
    for col in (_("KPI"), _("Grain"), _("Recomputed"), _("Reused")):
        table.add_column(col)
    for r in rows:
        table.add_row(r["key"], r["grain"], str(r["recomputed"]), str(r["reused"]))
    console.print(table)


@kpi_app.command()
def dashboard(name: Annotated[str | None, typer.Argument(help="A stored dashboard (default: the role's).")] = None,
              role: Annotated[str | None, typer.Option("--role", help="cmo, sdr_manager, ceo or custom.")] = None,
              create: Annotated[str | None, typer.Option("--create", help="Store a dashboard under this name.")] = None,
              kpis: Annotated[list[str] | None, typer.Option("--kpi", help="KPI key (repeatable) for --create.")] = None,
              workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Show (or --create) a dashboard with targets, trends, status and discipline warnings."""
    from levier.kpi import dashboards

    with _session(workspace) as (ws, s):
        if create:
            out = dashboards.create_dashboard(s, create, role or "custom", kpis)
        else:
            out = dashboards.view(ws, s, name, role=role)
    if json_:
        emit_json(out)
        return
    for w in out.get("warnings", []):
        console.print(f"[yellow]! {w}[/yellow]")
    if "tiles" in out:
        table = Table(title=_("Dashboard {name}", name=out["name"]))
        for col in (_("KPI"), _("Value"), _("Trend"), _("Target"), _("Status"), _("Owner")):
            table.add_column(col)
        for t in out["tiles"]:
            tgt = t["target"]
            table.add_row(t["key"], "—" if t["value"] is None else f"{t['value']:.4g}", "—" if t["trend"] is None else f"{t['trend']:+.3g}",
                          f"{tgt['value']} ({tgt['deadline']})" if tgt else "—", t["status"] or "—", t["owner"] or "—")
        console.print(table)


@kpi_app.command()
def alerts(check: Annotated[bool, typer.Option("--check", help="Run the checks now (notifies owners).")] = False,
           status: Annotated[str, typer.Option("--status", help="open, acknowledged or resolved.")] = "open",
           sla_hours: Annotated[float, typer.Option("--sla-hours")] = 2.0,
           cooldown: Annotated[float, typer.Option("--cooldown-hours")] = 24.0,
           workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """List alerts (with --check: run anomaly, threshold and inaction checks first)."""
    from levier.kpi import alerts as al

    with _session(workspace) as (ws, s):
        res = al.check(ws, s, sla_hours=sla_hours, cooldown_hours=cooldown) if check else None
        rows = [a.to_dict() for a in al.list_alerts(s, status=status)]
    if json_:
        emit_json({"check": res.to_dict() if res else None, "alerts": rows})
        return
    table = Table(title=_("Alerts ({status})", status=status))
    for col in ("#", _("Kind"), _("KPI"), _("Message"), _("Count")):
        table.add_column(col)
    for a in rows:
        table.add_row(str(a["id"]), a["kind"], a["kpi_key"] or "—", a["message"], str(a["count"]))
    console.print(table)


@kpi_app.command()
def score(write: Annotated[bool, typer.Option("--write/--no-write", help="Write scores to _lead_scores.")] = True,
          alpha: Annotated[float, typer.Option("--alpha", help="L2 penalty.")] = 1.0,
          workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Train the lead score, show its weights and held-out calibration, write the scores."""
    from levier.kpi import scoring

    with open_workspace(workspace) as ws:
        model, ev = scoring.train(ws, scoring.ScoreOptions(alpha=alpha))
        n = scoring.write_scores(ws, model) if write else 0
    out = {"model": model.to_dict(), "evaluation": ev.to_dict(), "scored_leads": n}
    if json_:
        emit_json(out)
        return
    console.print(_("Held-out AUC {auc:.3f}; Brier {b:.4f} (constant baseline {b0:.4f}); largest calibration gap {g:.3f}.",
                    auc=ev.auc, b=ev.brier, b0=ev.brier_baseline, g=ev.max_calibration_gap))
    table = Table(title=_("Weights (log-odds per unit)"))
    table.add_column(_("Feature"))
    table.add_column(_("Weight"), justify="right")
    for k, v in out["model"]["weights"].items():
        table.add_row(k, f"{v:+.3f}")
    console.print(table)


@kpi_app.command()
def sla(start: Annotated[str, typer.Option("--start")], end: Annotated[str, typer.Option("--end")],
        hours: Annotated[float, typer.Option("--hours", help="MQL decision SLA in hours.")] = 48.0,
        workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Marketing → sales SLA over MQLs of [--start, --end)."""
    from levier.kpi import sla as sl

    with open_workspace(workspace) as ws:
        r = sl.sla_report(ws, _day(start, "--start"), _day(end, "--end"), sla_hours=hours)  # type: ignore[arg-type]
    if json_:
        emit_json(r.to_dict())
        return
    console.print(_("{n} MQLs: {a} accepted, {r} rejected, {p} pending; {w} decided within {h} h.", n=r.mqls, a=r.accepted, r=r.rejected,
                    p=r.pending, w=r.decided_within_sla, h=hours))
    console.print(_("Rejection reasons: {reasons}", reasons=", ".join(f"{k} {v}" for k, v in r.reasons.items()) or "—"))
    for band, v in r.ttf_by_band.items():
        console.print(_("TTF {band}: median {m} h over {n} contacted leads", band=band, m=v["median_ttf_hours"], n=v["contacted"]))


@kpi_app.command()
def forecast(period: Annotated[str, typer.Option("--period", help="month or quarter.")] = "month",
             as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: the data end).")] = None,
             target: Annotated[str, typer.Option("--stage", help="Stage counted as a conversion.")] = "won",
             objective: Annotated[float | None, typer.Option("--objective")] = None,
             workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Conversions expected this month / quarter with an 80 % interval, vs the objective."""
    from levier.kpi import forecast as fc

    if period not in ("month", "quarter"):
        raise OptionError(_("--period: use month or quarter."))
    with open_workspace(workspace) as ws:
        f = fc.forecast(ws, _day(as_of, "--as-of"), period=period, target=target, objective=objective)
    if json_:
        emit_json(f.to_dict())
        return
    console.print(_("{stage} from {a} to {b}: {x:.0f} expected (80 % interval {lo:.0f}–{hi:.0f}); {done} already.", stage=target,
                    a=f.period_start, b=f.period_end, x=f.expected, lo=f.low, hi=f.high, done=f.achieved))
    if f.verdict:
        console.print(_("Objective {o:.0f}: {v}.", o=f.objective, v=_(f.verdict)))
