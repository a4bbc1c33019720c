"""`levier init` and `levier info`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from levier.cli._app import JsonOpt, WorkspaceOpt, app, console, emit_json
from levier.data.schema import TABLE_NAMES
from levier.i18n import gettext as _
from levier.workspace import create_workspace, open_workspace


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Directory of the new workspace.")] = Path("."),
    facts_url: Annotated[str | None, typer.Option("--facts-url", envvar="LEVIER_FACTS_URL", help="Facts engine URL (any Ibis backend). Default: an embedded DuckDB file.")] = None,
    db_url: Annotated[str | None, typer.Option("--db-url", envvar="LEVIER_DB_URL", help="Loop database URL (any SQLAlchemy URL). Default: a SQLite file.")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="Default time zone of naive timestamps (IANA name).")] = None,
    language: Annotated[str | None, typer.Option("--language", help="Default language of outputs: fr or en.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Create a workspace: config file, facts engine and loop database."""
    ws = create_workspace(directory, facts_url=facts_url, db_url=db_url, timezone=timezone, language=language)
    info = {"path": str(ws.path), "facts_url": ws.config.facts_url, "db_url": ws.db_url, "timezone": ws.config.timezone}
    ws.close()
    if json_:
        emit_json(info)
        return
    console.print(_("Workspace created in {path}", path=info["path"]))
    console.print(_("Facts engine: {url}", url=info["facts_url"]))
    console.print(_("Loop database: {url}", url=info["db_url"]))


@app.command()
def info(workspace: WorkspaceOpt = None, json_: JsonOpt = False) -> None:
    """Show the workspace settings and how many rows each table holds."""
    with open_workspace(workspace) as ws:
        counts = {name: ws.facts.count(name) for name in TABLE_NAMES}
        payload = {"path": str(ws.path), "facts_url": ws.config.facts_url, "db_url": ws.db_url, "timezone": ws.config.timezone, "rows": counts}
    if json_:
        emit_json(payload)
        return
    table = Table(title=_("Workspace {path}", path=payload["path"]))
    table.add_column(_("Table"))
    table.add_column(_("Rows"), justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    console.print(table)
