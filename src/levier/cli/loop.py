"""`levier user|retro|action|learning|playbook …`, `levier loop tick`, `levier scorecard`, `levier api`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from levier.cli._app import JsonOpt, WorkspaceOpt, app, console, emit_json, loop_session
from levier.errors import OptionError
from levier.i18n import gettext as _

user_app = typer.Typer(help="Users of the loop (roles admin, editor, viewer) and their API tokens.", no_args_is_help=True)
retro_app = typer.Typer(help="Retrospectives: create, review the previous actions, observe, close.", no_args_is_help=True)
action_app = typer.Typer(help="Actions: one owner, a due date, a target KPI verified from the facts.", no_args_is_help=True)
learning_app = typer.Typer(help="Learnings and the failure board.", no_args_is_help=True)
playbook_app = typer.Typer(help="The living playbook: versioned entries, standardisation, search.", no_args_is_help=True)
loop_app = typer.Typer(help="Housekeeping of the loop (reminders, verification, webhooks).", no_args_is_help=True)
for sub, name in ((user_app, "user"), (retro_app, "retro"), (action_app, "action"), (learning_app, "learning"), (playbook_app, "playbook"), (loop_app, "loop")):
    app.add_typer(sub, name=name)


_session = loop_session


def _out(payload: Any, json_: bool, text: str | None = None) -> None:
    if json_:
        emit_json(payload)
    else:
        console.print(text if text is not None else json.dumps(payload, ensure_ascii=False, indent=2, default=str))


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...], title: str) -> None:
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


def _pairs(values: list[str] | None, option: str) -> dict[str, str] | None:
    if not values:
        return None
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise OptionError(_("{option}: use KEY=VALUE (got '{value}').", option=option, value=item))
        out[key.strip()] = value.strip()
    return out


# -- users ---------------------------------------------------------------------------------
@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="User name (log-in name; also how actions name their owner).")],
    role: Annotated[str, typer.Option("--role", help="admin, editor or viewer.")] = "viewer",
    admin: Annotated[bool, typer.Option("--admin", help="Shortcut for --role admin.")] = False,
    password: Annotated[str | None, typer.Option("--password", envvar="LEVIER_PASSWORD", help="Password (prompted for admins when missing; without one the user cannot log in).")] = None,
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    email: Annotated[str | None, typer.Option("--email", help="E-mail address.")] = None,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Create a user (use --admin for the first administrator)."""
    from levier.loop.services import users

    role = "admin" if admin else role
    if role == "admin" and password is None:
        password = typer.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    with _session(workspace) as (_ws, s):
        user = users.create_user(s, username, role=role, password=password, name=name, email=email).to_dict()
    _out(user, json_, _("User {name} created (role {role}).", name=user["username"], role=user["role"]))


@user_app.command("list")
def user_list(workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """List the users."""
    from levier.loop.services import users

    with _session(workspace) as (_ws, s):
        rows = [u.to_dict() for u in users.list_users(s)]
    if json_:
        emit_json(rows)
        return
    _table(rows, ("id", "username", "name", "role", "active", "can_log_in"), _("Users"))


@user_app.command("token")
def user_token(
    username: Annotated[str, typer.Argument(help="Whose token.")],
    name: Annotated[str, typer.Option("--name", help="A label for the token.")] = "cli",
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Create an API token (printed once: store it safely)."""
    from levier.loop.services import users

    with _session(workspace) as (_ws, s):
        token, secret = users.create_token(s, users.get_user(s, username).id, name)
        payload = {**token.to_dict(), "token": secret}
    _out(payload, json_, secret)


# -- retros --------------------------------------------------------------------------------
@retro_app.command("new")
def retro_new(
    template: Annotated[str, typer.Argument(help="monthly_audit_review, weekly_micro_retro, campaign_post_mortem or cross_team_retro.")],
    title: Annotated[str, typer.Argument(help="Title of the retro.")],
    objective: Annotated[str, typer.Option("--objective", help="The one objective (a funnel link, e.g. 'landing → form conversion').")],
    cycle: Annotated[int | None, typer.Option("--cycle", help="Audit cycle id this retro reviews.")] = None,
    participant: Annotated[list[str] | None, typer.Option("--participant", help="A participant (repeat).")] = None,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Create a retro from a template."""
    from levier.loop.services import retros

    with _session(workspace) as (_ws, s):
        r = retros.create_retro(s, template, title, objective, cycle_id=cycle, participants=participant or []).to_dict()
    text = _("Retro {id} created.", id=r["id"])
    if r["status"] == "review":
        text += " " + _("It opens with the review of the previous retro's actions: run `levier retro review {id}`.", id=r["id"])
    _out(r, json_, text)


@retro_app.command("list")
def retro_list(workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """List the retros, newest first."""
    from levier.loop.services import retros

    with _session(workspace) as (_ws, s):
        rows = [r.to_dict() for r in retros.list_retros(s)]
    if json_:
        emit_json(rows)
        return
    _table(rows, ("id", "template", "title", "objective", "status", "held_at"), _("Retros"))


@retro_app.command("show")
def retro_show(retro_id: Annotated[int, typer.Argument(help="Retro id.")], workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Show a retro, starting with the review of the previous retro's actions."""
    from levier.loop.services import retros

    with _session(workspace) as (_ws, s):
        detail = retros.retro_detail(s, retro_id)
    _out(detail, json_)


@retro_app.command("review")
def retro_review(retro_id: Annotated[int, typer.Argument(help="Retro id.")], workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Open a retro: verify and review the previous retro's actions."""
    from levier.loop.services import retros

    with _session(workspace) as (ws, s):
        retros.review_previous_actions(s, retro_id, ws)
        rows = retros.previous_actions(s, retro_id)
    if json_:
        emit_json(rows)
        return
    _table(rows, ("id", "title", "owner", "status", "overdue", "kpi_key", "target", "verification", "measured_value"), _("Previous actions"))


@retro_app.command("observe")
def retro_observe(
    retro_id: Annotated[int, typer.Argument(help="Retro id.")],
    text: Annotated[str, typer.Argument(help="What was observed.")],
    source: Annotated[str, typer.Option("--source", help="interview, field, call or other.")] = "field",
    anonymous: Annotated[bool, typer.Option("--anonymous", help="Do not record the author.")] = False,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Add a qualitative observation to a retro."""
    from levier.loop.services import retros

    with _session(workspace) as (_ws, s):
        obs = retros.add_observation(s, retro_id, text, source=source, anonymous=anonymous).to_dict()
    _out(obs, json_, _("Observation {id} added.", id=obs["id"]))


@retro_app.command("close")
def retro_close(retro_id: Annotated[int, typer.Argument(help="Retro id.")], workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Close a retro (it needs at least one action or learning)."""
    from levier.loop.services import retros

    with _session(workspace) as (_ws, s):
        r = retros.close_retro(s, retro_id).to_dict()
    _out(r, json_, _("Retro {id} closed.", id=retro_id))


# -- actions -------------------------------------------------------------------------------
@action_app.command("add")
def action_add(
    title: Annotated[str, typer.Argument(help="What will be done.")],
    owner: Annotated[str, typer.Option("--owner", help="The one owner (user name or e-mail).")],
    due: Annotated[str, typer.Option("--due", help="Due date (YYYY-MM-DD).")],
    kpi: Annotated[str, typer.Option("--kpi", help="Target KPI key from the KPI catalogue (see docs/kpis.md).")],
    target: Annotated[float, typer.Option("--target", help="Target value of the KPI.")],
    baseline: Annotated[float | None, typer.Option("--baseline", help="Value before the action.")] = None,
    window_start: Annotated[str | None, typer.Option("--window-start", help="Start of the measurement window (default: 30 days before its end).")] = None,
    window_end: Annotated[str | None, typer.Option("--window-end", help="End of the measurement window (default: the due date).")] = None,
    segment: Annotated[list[str] | None, typer.Option("--segment", help="Segment filter KEY=VALUE on leads (repeat), e.g. channel=inbound.")] = None,
    retro: Annotated[int | None, typer.Option("--retro", help="Retro id the action comes from.")] = None,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Create an action with one owner, a due date and a target KPI."""
    from levier.loop.services import actions

    with _session(workspace) as (_ws, s):
        a = actions.create_action(
            s, title, owner=owner, due_date=due, kpi_key=kpi, target=target, baseline=baseline, window_start=window_start,
            window_end=window_end, segment=_pairs(segment, "--segment"), retro_id=retro,
        )
        out = actions.action_dict(s, a)
    _out(out, json_, _("Action {id} created for {owner}, due {due}.", id=out["id"], owner=out["owner"], due=out["due_date"]))


@action_app.command("list")
def action_list(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only overdue actions.")] = False,
    owner: Annotated[str | None, typer.Option("--owner", help="Only this owner's actions.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="open, in_progress, done or cancelled.")] = None,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """List actions (due date order) with their overdue flag and verification."""
    from levier.loop.services import actions

    with _session(workspace) as (_ws, s):
        rows = [actions.action_dict(s, a) for a in actions.list_actions(s, status=status, owner=owner, overdue=True if overdue else None)]
    if json_:
        emit_json(rows)
        return
    _table(rows, ("id", "title", "owner", "due_date", "status", "overdue", "kpi_key", "target", "verification"), _("Actions"))


@action_app.command("done")
def action_done(action_id: Annotated[int, typer.Argument(help="Action id.")], workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Mark an action as done."""
    from levier.loop.services import actions

    with _session(workspace) as (_ws, s):
        out = actions.action_dict(s, actions.set_status(s, action_id, "done"))
    _out(out, json_, _("Action {id} done.", id=action_id))


@action_app.command("verify")
def action_verify(
    action_id: Annotated[int | None, typer.Argument(help="Action id (default: every action whose window has ended).")] = None,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Verify actions from the facts: target met, missed or not measurable."""
    from levier.loop.services import actions

    with _session(workspace) as (ws, s):
        done = [actions.verify_action(s, ws, action_id)] if action_id else actions.verify_due(s, ws)
        rows = [actions.action_dict(s, a) for a in done]
    if json_:
        emit_json(rows)
        return
    _table(rows, ("id", "title", "kpi_key", "baseline", "target", "measured_value", "verification"), _("Verification"))


@action_app.command("export")
def action_export(
    output: Annotated[Path, typer.Argument(help="File to write (.csv or .ics).")],
    fmt: Annotated[str | None, typer.Option("--format", help="csv or ics (default: from the file extension).")] = None,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Export actions as CSV or iCalendar (one event per deadline)."""
    from levier.loop.services import actions, exports

    kind = fmt or output.suffix.lstrip(".").lower()
    if kind not in ("csv", "ics"):
        raise OptionError(_("--format: use csv or ics."))
    with _session(workspace) as (_ws, s):
        rows = [actions.action_dict(s, a) for a in actions.list_actions(s)]
    output.write_text(exports.actions_csv(rows) if kind == "csv" else exports.actions_ics(rows), encoding="utf-8", newline="")
    _out({"path": str(output), "rows": len(rows), "format": kind}, json_, _("{n} actions written to {path}.", n=len(rows), path=output))


# -- learnings and playbook -----------------------------------------------------------------
@learning_app.command("add")
def learning_add(
    title: Annotated[str, typer.Argument(help="What was learnt.")],
    outcome: Annotated[str, typer.Option("--outcome", help="success or failure.")],
    retro: Annotated[int | None, typer.Option("--retro", help="Retro id it comes from.")] = None,
    cause: Annotated[str, typer.Option("--cause", help="Why it worked or failed.")] = "",
    lesson: Annotated[str, typer.Option("--lesson", help="What to do next time.")] = "",
    context: Annotated[list[str] | None, typer.Option("--context", help="Context KEY=VALUE: audience, channel, timing, offer, quarter, segment (repeat).")] = None,
    evidence: Annotated[list[str] | None, typer.Option("--evidence", help="An evidence link (repeat).")] = None,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Record a learning with its context and evidence."""
    from levier.loop.services import learnings

    with _session(workspace) as (_ws, s):
        row = learnings.create_learning(
            s, title, outcome=outcome, retro_id=retro, cause=cause, lesson=lesson, evidence=evidence or [], **(_pairs(context, "--context") or {})
        ).to_dict()
    _out(row, json_, _("Learning {id} recorded.", id=row["id"]))


@learning_app.command("failures")
def learning_failures(workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """The failure board: failures with causes, lessons and root causes."""
    from levier.loop.services import learnings

    with _session(workspace) as (_ws, s):
        rows = learnings.failure_board(s)
    if json_:
        emit_json(rows)
        return
    _table(rows, ("id", "title", "cause", "lesson", "error_category", "root_causes"), _("Failure board"))


@playbook_app.command("add")
def playbook_add(
    key: Annotated[str, typer.Argument(help="Stable key of the entry (e.g. smb-inbound-cadence).")],
    kind: Annotated[str, typer.Option("--kind", help="cadence_sequence, message_template, threshold_sla or automation_rule.")],
    title: Annotated[str, typer.Option("--title", help="Title of the entry.")],
    body: Annotated[str, typer.Option("--body", help="Text of the entry.")] = "",
    content: Annotated[Path | None, typer.Option("--content", help="JSON file with the structured content (e.g. cadence steps).")] = None,
    learning: Annotated[list[int] | None, typer.Option("--learning", help="Id of a learning that justifies it (repeat).")] = None,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Create a playbook entry (version 1, draft)."""
    from levier.loop.services import playbook

    data = json.loads(content.read_text(encoding="utf-8")) if content else {}
    with _session(workspace) as (_ws, s):
        row = playbook.create_entry(s, key, kind, title, body=body, content=data, learning_ids=learning or [])
        out = playbook.entry_detail(s, row.id)
    _out(out, json_, _("Playbook entry {key} v{v} created as a draft.", key=out["key"], v=out["version"]))


@playbook_app.command("standardise")
def playbook_standardise(entry_id: Annotated[int, typer.Argument(help="Entry id (a draft).")], workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Make a draft the standard (it needs linked evidence)."""
    from levier.loop.services import playbook

    with _session(workspace) as (_ws, s):
        out = playbook.entry_detail(s, playbook.standardise(s, entry_id).id)
    _out(out, json_, _("Playbook entry {key} v{v} is now the standard.", key=out["key"], v=out["version"]))


@playbook_app.command("search")
def playbook_search(
    query: Annotated[str, typer.Argument(help="Words to find (all must match).")] = "",
    channel: Annotated[str | None, typer.Option("--channel", help="Filter on channel.")] = None,
    segment: Annotated[str | None, typer.Option("--segment", help="Filter on segment.")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="Filter on outcome (success, failure).")] = None,
    kpi: Annotated[str | None, typer.Option("--kpi", help="Filter on KPI key.")] = None,
    quarter: Annotated[str | None, typer.Option("--quarter", help="Filter on quarter (e.g. 2026Q2).")] = None,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Search learnings and playbook entries."""
    from levier.loop.services import playbook

    with _session(workspace) as (_ws, s):
        hits = playbook.search(s, query, channel=channel, segment=segment, outcome=outcome, kpi=kpi, quarter=quarter)
    if json_:
        emit_json(hits)
        return
    _table(hits, ("kind", "id", "title", "score"), _("Search results"))


# -- housekeeping, scorecard, API server ---------------------------------------------------------
@loop_app.command("tick")
def loop_tick(
    soon_days: Annotated[int, typer.Option("--soon-days", help="'Due soon' means within this many days.")] = 3,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Queue due-soon / overdue events, verify ended actions, deliver pending webhooks (run it from cron)."""
    from levier.data.inbox_flush import flush_for_tick
    from levier.loop.db import transaction
    from levier.loop.services import actions, cycles, webhooks
    from levier.workspace import open_workspace

    # facts read-only: the tick only reads them, and runs beside `levier serve --workers N` on a DuckDB file
    with open_workspace(workspace, read_only=True) as ws, transaction(ws.session) as s:
        due = actions.scan_due(s, soon_days=soon_days)
        verified = [a.id for a in actions.verify_due(s, ws)]
        steps = cycles.reminders(s, within_days=soon_days)
        s.commit()
        sent = webhooks.deliver_pending(s)
        # queued facts on a server engine (Spark, PostgreSQL facts, warehouses): apply them (docs/deployment.md)
        facts = flush_for_tick(ws, lambda: open_workspace(ws.path))
    payload = {"due_soon": due["due_soon"], "overdue": due["overdue"], "verified": verified, "step_reminders": steps, "webhooks": sent}
    if facts is not None:
        payload["facts_flush"] = facts
    _out(payload, json_, _("{soon} due soon, {late} overdue, {v} verified, {d} webhook(s) delivered.", soon=len(due["due_soon"]), late=len(due["overdue"]), v=len(verified), d=sent["delivered"]))


@app.command("scorecard")
def scorecard_cmd(workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """The Retro ROI scorecard: per retro and the retro of retros."""
    from levier.loop.services import scorecard

    with _session(workspace) as (_ws, s):
        data = scorecard.retro_of_retros(s, date.today())
    if json_:
        emit_json(data)
        return
    _table(data["retros"], ("retro_id", "label", "actions", "done_on_time", "overdue", "targets_met", "targets_missed", "learnings_standardised", "median_days_to_playbook"), _("Retro ROI scorecard"))


@app.command("api")
def api_cmd(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    secure_cookies: Annotated[bool, typer.Option("--secure-cookies", help="Mark session cookies Secure (behind HTTPS).")] = False,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes serving the port (each with its own thread pool).")] = 1,
    threads: Annotated[int, typer.Option("--threads", help="Threads of each worker process for API requests.")] = 40,
    workspace: WorkspaceOpt = None,
) -> None:
    """Serve the REST API (/api/v1, OpenAPI at /api/v1/docs) with uvicorn; the same app as `levier serve`."""
    from levier.cli.serve import run_server

    run_server(workspace, host=host, port=port, workers=workers, threads=threads, secure_cookies=secure_cookies)
