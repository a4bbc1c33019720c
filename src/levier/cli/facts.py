"""`levier facts …`: the facts inbox (rows queued by web workers that open the facts read-only)."""

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
    """Apply the queued facts rows, one import batch per table and source (stop a multi-worker server first)."""
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
    if not done.batches:
        console.print(_("The facts inbox is empty; nothing to apply."))
        return
    for b in done.batches:
        console.print(_("{table}: {rows} row(s) applied as batch {batch} ({source}).", table=b["table"], rows=b["rows"], batch=b["batch_id"], source=b["source"]))


@facts_app.command("pending")
def pending_cmd(workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Count the facts rows queued in the inbox, per table."""
    from levier.data.inbox import pending_count
    from levier.workspace import open_workspace

    with open_workspace(workspace, read_only=True) as ws:
        counts = pending_count(ws)
    if json_:
        emit_json(counts)
        return
    if not counts:
        console.print(_("The facts inbox is empty; nothing to apply."))
        return
    for table, n in counts.items():
        console.print(_("{table}: {n} queued row(s).", table=table, n=n))
