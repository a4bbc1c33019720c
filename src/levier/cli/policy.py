"""`levier policy …` (contact rules, real-time check, queues, compliance) and `levier privacy …`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from levier.cli._app import JsonOpt, WorkspaceOpt, app, console, emit_json
from levier.i18n import gettext as _
from levier.workspace import open_workspace

policy_app = typer.Typer(help="Contact policy: rules per segment, the real-time check, due steps, TTF queue, compliance.", no_args_is_help=True)
privacy_app = typer.Typer(help="Data protection: retention, erasure of one person, export of one person's data.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(privacy_app, name="privacy")

AtOpt = Annotated[str | None, typer.Option("--at", help="Time to evaluate (ISO 8601; naive = UTC). Default: now.")]
RepOpt = Annotated[str | None, typer.Option("--rep", help="Only this rep (lead owner).")]


def _policy(workspace: Path | None):  # noqa: ANN202
    from levier.policy import Policy

    ws = open_workspace(workspace)
    # one-shot commands read a few leads: SQLite directly, no snapshot to map or build (decision 0140)
    return ws, Policy.load(ws, snapshot=False)


@policy_app.command("check")
def check(
    lead: Annotated[str, typer.Option("--lead", help="Lead id.")],
    channel: Annotated[str, typer.Option("--channel", help="Touch channel: email, call, sms, social, meeting, mail, other.")],
    at: AtOpt = None, workspace: WorkspaceOpt = None, json_: JsonOpt = False,
) -> None:
    """May this lead be contacted on this channel now (or --at)? allow / deny / escalate."""
    ws, p = _policy(workspace)
    try:
        d = p.check(lead, channel, at)
    finally:
        p.close()
        ws.close()
    if json_:
        emit_json(d.to_dict())
        return
    colour = {"allow": "green", "deny": "red", "escalate": "yellow"}[d.decision]
    console.print(f"[{colour}]{_(d.decision.upper())}[/{colour}] {d.lead_id} · {d.channel} · {d.at.isoformat()} UTC · {d.segment or '-'}")
    for rule, reason in zip(d.rules, d.reasons or d.rules, strict=False):
        console.print(f"  {rule}: {reason}")
    if d.next_allowed_at:
        console.print(_("Next allowed: {when} UTC", when=d.next_allowed_at.isoformat()))


@policy_app.command("show")
def show(workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Show the active contact policy and where it comes from (default or playbook version)."""
    import yaml

    from levier.policy import active_rules

    with open_workspace(workspace) as ws:
        rules, source = active_rules(ws)
    data = rules.model_dump(mode="json")
    if json_:
        emit_json({"source": source, "rules": data})
        return
    console.print(_("Source: {source}", source=source))
    console.print(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), markup=False)


@policy_app.command("validate")
def validate(file: Annotated[Path, typer.Argument(help="Policy YAML file.")], json_: JsonOpt = False) -> None:
    """Validate a policy file; errors name the field path."""
    from levier.policy import load_rules

    rules = load_rules(file)
    if json_:
        emit_json({"valid": True, "segments": [s.key for s in rules.segments]})
        return
    console.print(_("{file}: valid ({n} segment(s): {keys}).", file=file, n=len(rules.segments), keys=", ".join(s.key for s in rules.segments)))


@policy_app.command("set")
def set_(
    file: Annotated[Path, typer.Argument(help="Policy YAML file.")],
    learning: Annotated[list[int] | None, typer.Option("--learning", help="Learning id justifying it (standardises the version).")] = None,
    experiment: Annotated[list[int] | None, typer.Option("--experiment", help="Experiment id justifying it (standardises the version).")] = None,
    workspace: WorkspaceOpt = None, json_: JsonOpt = False,
) -> None:
    """Store a policy file as a new version of the playbook entry 'contact-policy'."""
    from levier.policy import load_rules, save_rules

    load_rules(file)
    with open_workspace(workspace) as ws:
        entry = save_rules(ws, file.read_text(encoding="utf-8"), learning_ids=learning, experiment_ids=experiment)
    if json_:
        emit_json(entry)
        return
    console.print(_("Contact policy saved as playbook entry '{key}' version {v} ({status}).", key=entry["key"], v=entry["version"], status=entry["status"]))


@policy_app.command("due")
def due(rep: RepOpt = None, at: AtOpt = None, workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Sequence steps due today (or overdue) per rep."""
    from levier.policy.sequences import due_today

    ws, p = _policy(workspace)
    try:
        items = due_today(p, rep, at)
    finally:
        p.close()
        ws.close()
    if json_:
        emit_json([i.to_dict() for i in items])
        return
    table = Table(title=_("Due steps ({n})", n=len(items)))
    for col in (_("Lead"), _("Rep"), _("Segment"), _("Day"), _("Channel"), _("Template"), _("Overdue (days)"), _("Now")):
        table.add_column(col)
    for i in items:
        table.add_row(i.lead_id, i.owner or "", i.segment, str(i.day), i.channel, i.template, str(i.overdue_days), i.decision)
    console.print(table)


@policy_app.command("queue")
def queue(
    at: AtOpt = None, rep: RepOpt = None,
    within_days: Annotated[int, typer.Option("--within-days", help="Only leads created in the last N days.")] = 7,
    workspace: WorkspaceOpt = None, json_: JsonOpt = False,
) -> None:
    """Leads breaching the TTF SLA now, most overdue first."""
    from levier.policy.sequences import ttf_queue

    ws, p = _policy(workspace)
    try:
        items = ttf_queue(p, at, within_days, rep)
    finally:
        p.close()
        ws.close()
    if json_:
        emit_json([i.to_dict() for i in items])
        return
    table = Table(title=_("TTF SLA breaches ({n})", n=len(items)))
    for col in (_("Lead"), _("Rep"), _("Segment"), _("Deadline (UTC)"), _("Overdue (h)")):
        table.add_column(col)
    for b in items:
        table.add_row(b.lead_id, b.owner or "", b.segment, b.deadline.isoformat(), f"{b.overdue_hours:.1f}")
    console.print(table)


@policy_app.command("compliance")
def compliance(
    period: Annotated[str, typer.Option("--period", help="START:END dates (YYYY-MM-DD:YYYY-MM-DD) or a month YYYY-MM.")],
    workspace: WorkspaceOpt = None, json_: JsonOpt = False,
) -> None:
    """Compliance audit: violations by rule, rep, segment and week; opt-out alarm; TTF; complaints."""
    from levier.policy import active_rules
    from levier.policy.compliance import audit

    start, end = _period(period)
    with open_workspace(workspace) as ws:
        rep = audit(ws, active_rules(ws)[0], start, end)
    if json_:
        emit_json(rep.to_dict())
        return
    console.print(_("Compliance {start} → {end}: {n} touches", start=rep.start, end=rep.end, n=rep.touches))
    for rule, n in rep.by_rule.items():
        console.print(f"  {rule}: {n}")
    if rep.alarm:
        console.print("[bold red]" + _("RED ALARM: {n} touch(es) after an opt-out.", n=len(rep.opt_out_touch_ids)) + "[/bold red]")
    else:
        console.print("[green]" + _("No touch after an opt-out.") + "[/green]")
    over = [c for c in rep.complaints if c["breach"]]
    console.print(_("Weeks over the complaint guardrail: {n}", n=len(over)))


def _period(text: str) -> tuple[str, str]:
    import calendar

    from levier.errors import OptionError

    if ":" in text:
        start, _sep, end = text.partition(":")
        return start.strip(), end.strip()
    try:
        year, month = (int(x) for x in text.split("-"))
        return f"{year:04d}-{month:02d}-01", f"{year:04d}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"
    except ValueError:
        raise OptionError(_("--period: '{value}' is neither START:END nor YYYY-MM.", value=text)) from None


@privacy_app.command("erase")
def erase(
    lead: Annotated[str, typer.Option("--lead", help="Lead id of the person.")],
    also: Annotated[list[str] | None, typer.Option("--also", help="Another identifier to erase (e-mail, phone, name).")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Really erase (default: dry run, counts only).")] = False,
    workspace: WorkspaceOpt = None, json_: JsonOpt = False,
) -> None:
    """Erase one person from the facts, the loop, the policy state and the workspace files."""
    from levier.policy.privacy import erase_person

    with open_workspace(workspace) as ws:
        record = erase_person(ws, lead, also=also, dry_run=not apply)
    if json_:
        emit_json(record)
        return
    console.print(_("Rows found: {rows}", rows=record["found"]))
    console.print(_("Erased (record {subject}).", subject=record["subject"][:16]) if apply else _("Dry run: nothing changed; add --apply."))


@privacy_app.command("export")
def export(
    lead: Annotated[str, typer.Option("--lead", help="Lead id of the person.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON here (default: stdout).")] = None,
    workspace: WorkspaceOpt = None, json_: JsonOpt = False,
) -> None:
    """Export every row about one person as JSON."""
    import json

    from levier.policy.privacy import export_person

    with open_workspace(workspace) as ws:
        data = export_person(ws, lead)
    if out is None or json_:
        emit_json(data)
    if out is not None:
        out.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")


@privacy_app.command("retention")
def retention_cmd(
    months: Annotated[int, typer.Option("--months", help="Keep leads active in the last N months.")],
    mode: Annotated[str, typer.Option("--mode", help="purge or anonymise.")] = "purge",
    apply: Annotated[bool, typer.Option("--apply", help="Really change the facts (default: dry run).")] = False,
    workspace: WorkspaceOpt = None, json_: JsonOpt = False,
) -> None:
    """Retention: purge or anonymise leads inactive for N months (dry run first)."""
    from levier.policy.privacy import retention

    with open_workspace(workspace) as ws:
        record = retention(ws, months, mode=mode, apply=apply)
    if json_:
        emit_json(record)
        return
    console.print(_("Cut-off {cutoff}; rows: {rows}", cutoff=record["cutoff"], rows=record["rows"]))
    console.print(_("Applied ({mode}).", mode=mode) if apply else _("Dry run: nothing changed; add --apply."))
