"""`levier facts …`: the facts inbox (rows queued by web workers that open the facts read-only): flush, pending."""

from __future__ import annotations

from typing import Annotated

import typer

from levier.cli._app import JsonOpt, WorkspaceOpt, app, console, emit_json
from levier.i18n import gettext as _

__all__ = ["facts_app", "flush_cmd", "pending_cmd"]

facts_app = typer.Typer(help="The facts inbox: rows queued by web workers, applied by `levier facts flush`.", no_args_is_help=True)
app.add_typer(facts_app, name="facts")


@facts_app.command("flush")
def flush_cmd(
    discard: Annotated[list[int] | None, typer.Option("--discard", help="Delete this queued row (inbox id) instead of applying it; repeatable.")] = None,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Apply the queued facts rows exactly once, one import batch per table and source (DuckDB file: stop a multi-worker server first)."""
    from levier.data.inbox import discard_pending, flush_inbox
    from levier.workspace import open_workspace

    with open_workspace(workspace) as ws:
        dropped = discard_pending(ws, discard) if discard else 0
        done = flush_inbox(ws)
    if json_:
        emit_json(done.to_dict() | {"discarded": dropped})
        return
    if dropped:
        console.print(_("Discarded {n} queued row(s).", n=dropped))
    if done.busy:
        console.print(_("Another flush holds the lease (see `levier facts pending`); it applies the queued rows. Nothing was done here."))
        return
    if done.recovered:
        console.print(_("{n} row(s) of an interrupted flush were found applied and removed from the inbox.", n=done.recovered))
    if not done.batches:
        console.print(_("The facts inbox is empty; nothing to apply."))
        return
    for b in done.batches:
        console.print(_("{table}: {rows} row(s) applied as batch {batch} ({source}).", table=b["table"], rows=b["rows"], batch=b["batch_id"], source=b["source"]))


@facts_app.command("pending")
def pending_cmd(workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Per table, the facts rows queued in the inbox, those a flush has claimed, and the age of the oldest."""
    from levier.data.inbox import status_at

    status = status_at(workspace)  # the loop DB only: no facts engine is started
    if json_:
        emit_json(status.to_dict())
        return
    if not status.tables:
        console.print(_("The facts inbox is empty; nothing to apply."))
    for t in status.tables:
        console.print(_("{table}: {n} queued row(s), {claimed} claimed by a flush, the oldest queued {age} ago ({at} UTC).",
                        table=t["table"], n=t["rows"], claimed=t["claimed"], age=_age(t["oldest_age_s"]),
                        at=t["oldest_at"].isoformat(sep=" ")))
    if status.flush_lease is not None:
        console.print(_("A flush is running (or died holding the lease) since {since} UTC.", since=status.to_dict()["flush_since"].replace("T", " ")))


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 120:
        return _("{n} s", n=seconds)
    if seconds < 7200:
        return _("{n} min", n=seconds // 60)
    return _("{n} h", n=seconds // 3600)
