"""`levier audit`: the monthly audit (contacts ↔ conversion, TTF, traffic lights, dashboard)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from levier.cli._app import JsonOpt, LangOpt, WorkspaceOpt, app, console, emit_json, err_console
from levier.errors import OptionError
from levier.i18n import get_language, use_language
from levier.i18n import gettext as _

__all__ = ["audit"]

FORMATS = ("html", "pdf", "xlsx", "md", "json")
COLOURS = {"green": "green", "amber": "yellow", "red": "red", "grey": "bright_black"}


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (text or "").split(",") if v.strip())


def _formats(text: str) -> list[str]:
    wanted = [f.lower() for f in _split(text)]
    bad = [f for f in wanted if f not in FORMATS]
    if bad:
        raise OptionError(_("Unknown format(s) in --format: {bad}.", bad=", ".join(bad)), hint=_("Use values among: {allowed}.", allowed=", ".join(FORMATS)))
    return wanted


def _print_summary(d: dict, written: list[Path], lang: str) -> None:
    from levier.report.fmt import Formatter
    from levier.report.labels import enum_label

    fm = Formatter(lang)
    f, b = d["framing"], d["dashboard"]
    console.print(_("[bold]Audit {period}[/bold] — {phase}, conversion within {days} days, unit: {unit}", period=f["period"]["label"], phase=f["phase"], days=f["conversion"]["window_days"], unit=f["unit"]))
    t = Table(title=_("One-page dashboard"), show_header=False)
    iqr = b["contacts_iqr"] or [None, None]
    rows = [
        (_("Leads"), fm.integer(b["n"])),
        (_("Conversion rate"), fm.pct(b["conversion_rate"])),
        (_("Median TTF (h)"), fm.num(b["median_ttf_hours"])),
        (_("Median contacts per lead (IQR)"), f"{fm.num(b['median_contacts'], 0)} ({fm.num(iqr[0], 0)}–{fm.num(iqr[1], 0)})"),
        ("r / m / R²", f"{fm.num(b['r'])} / {fm.num(b['slope'], 4)} / {fm.num(b['r2'], 3)}"),
        (_("% in Q1"), fm.pct(b["pct_q1"])),
        (_("Complaint rate"), fm.pct(b["complaint_rate"], 3)),
    ]
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)
    seg = Table(title=_("Traffic lights per segment"))
    for col in (_("Segment"), _("Leads"), _("CR"), "r", _("Shape"), "ΔCR", _("Light")):
        seg.add_column(col, overflow="fold")
    reasons: list[str] = []
    for s in [d["overall"], *d["segments"]]:
        tl = s["traffic_light"] or {}
        c = COLOURS.get(tl.get("colour", ""), "white")
        delta = (s.get("comparison") or {}).get("delta_cr_points")
        light = f"[{c}]●[/{c}] {enum_label(fm, 'light', tl.get('colour'))}"
        r = s["correlation"]["r"]
        r_text = ("−" + fm.num(-r)) if isinstance(r, int | float) and r < 0 else fm.num(r)
        seg.add_row(s["label"], fm.integer(s["n"]), fm.pct(s["conversion_rate"]), r_text,
                    enum_label(fm, "shape", s["response_curve"]["shape"]), fm.points(delta), light)
        reasons.append(f"{light} [bold]{s['label']}[/bold] — " + "; ".join(tl.get("reasons", [])))
    console.print(seg)
    for line in reasons:
        console.print(line)
    for w in d.get("warnings", []):
        console.print(f"[yellow]! {w}[/yellow]")
    for p in written:
        console.print(_("Wrote {path}", path=p))


@app.command()
def audit(
    period: Annotated[str | None, typer.Option("--period", help="Period: 2026-10, 2026-Q3, 2026 or 2026-10-01..2026-10-31. Default: the last full month whose leads have all had the conversion window to convert.")] = None,
    segment_by: Annotated[str, typer.Option("--segment-by", help="Comma-separated lead columns to segment by (channel, company_size, source, campaign_id, owner, team, country); empty for none.")] = "channel,company_size",
    unit: Annotated[str, typer.Option("--unit", help="Unit of the scatter: lead, account or rep.")] = "lead",
    conversion_stage: Annotated[str, typer.Option("--conversion-stage", help="Stage that counts as a conversion.")] = "opportunity",
    conversion_window: Annotated[str, typer.Option("--conversion-window", help="Window after lead creation for the conversion, e.g. 30d or 4w.")] = "30d",
    contact_outcomes: Annotated[str | None, typer.Option("--contact-outcomes", help="Comma-separated touch outcomes that count as a contact (default: every outbound touch).")] = None,
    compare_to: Annotated[str, typer.Option("--compare-to", help="Comparison period: previous, none, or a period.")] = "previous",
    ttf_sla: Annotated[str, typer.Option("--ttf-sla", help="Time-to-first-contact SLA, e.g. 2h or 90m.")] = "2h",
    responsible: Annotated[str | None, typer.Option("--responsible", help="RACI: who runs the audit.")] = None,
    accountable: Annotated[str | None, typer.Option("--accountable", help="RACI: who decides.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="Comma-separated outputs: html, pdf, xlsx, md, json.")] = "",
    lang: LangOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Directory of the outputs (and of framing.json).")] = Path("audit"),
    cycle: Annotated[int | None, typer.Option("--cycle", help="Attach the run to this loop cycle (default: the cycle of the same period, created if missing).")] = None,
    record: Annotated[bool, typer.Option("--record/--no-record", help="Save the run and its framing note in the loop database.")] = True,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Run the monthly audit: contacts ↔ conversion, TTF, segments, traffic lights, thresholds, dashboard."""
    from levier.analysis.audit import STEPS, run_audit, write_framing
    from levier.analysis.framing import AuditOptions, Raci
    from levier.workspace import open_workspace

    formats = _formats(fmt)
    code = lang or get_language()
    if code not in ("fr", "en"):
        raise OptionError(_("Invalid value for --lang: '{value}'.", value=code), hint=_("Use fr or en."))
    options = AuditOptions(
        period=period, compare_to=compare_to, segment_by=_split(segment_by), unit=unit, conversion_stage=conversion_stage,
        conversion_window_days=conversion_window, contact_outcomes=_split(contact_outcomes) or None, ttf_sla_hours=ttf_sla,
        raci=Raci(responsible=responsible, accountable=accountable),
    )
    with use_language(code), open_workspace(workspace) as ws:
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err_console, transient=True, disable=json_) as bar:
            task = bar.add_task(_("Audit"), total=len(STEPS) + (1 if formats else 0))

            def step(name: str) -> None:
                bar.update(task, advance=1, description=_("Audit: {step}", step=name))

            result = run_audit(ws, options, progress=step)
            data = result.to_dict(code)
            written = _write(result, data, formats, code, out) if formats else []
            if formats:
                written.insert(0, write_framing(result, out))
                step("outputs")
            recorded = _record(ws, data, cycle) if record else None
    if json_:
        emit_json({**data, "outputs": [str(p) for p in written], "recorded": recorded})
        return
    with use_language(code):
        _print_summary(data, written, code)
        if recorded:
            console.print(_("Recorded in the loop: cycle {cycle}, result {result}.", cycle=recorded["cycle_id"], result=recorded["result_id"]))


def _record(ws, data: dict, cycle: int | None) -> dict:  # noqa: ANN001
    """Attach the run and its framing note to the loop cycle of its period."""
    from levier.loop.services.cycles import record_audit

    with ws.session() as s, s.begin():
        row = record_audit(s, data, cycle_id=cycle)
        return {"cycle_id": row.cycle_id, "result_id": row.id}


def _write(result, data: dict, formats: list[str], lang: str, out: Path) -> list[Path]:  # noqa: ANN001
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if "json" in formats:
        path = out / "audit.json"
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        written.append(path)
    rest = [f for f in formats if f != "json"]
    if rest:
        try:
            from levier.report import render_audit
        except ImportError:
            raise OptionError(_("The report renderers are not available in this installation; use --format json.")) from None
        written += render_audit(data, rest, lang, out)
    return written
