"""`levier import`: import a CSV / XLSX / Parquet export into a canonical table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from levier.cli._app import JsonOpt, WorkspaceOpt, app, console, emit_json, err_console
from levier.data.ingest import PHASES, ImportResult, import_file
from levier.data.journal import cleaning_lag
from levier.i18n import get_language
from levier.i18n import gettext as _
from levier.workspace import open_workspace

__all__ = ["import_command", "run_validation"]

_PHASE_LABELS = {"read": "Reading", "convert": "Converting", "check": "Checking", "write": "Writing"}


def run_validation(ws: Any) -> tuple[Any | None, str | None]:
    """Validate the workspace if the validation module exists: (report, note when skipped)."""
    try:
        from levier.data.validate import validate_workspace
    except ImportError:
        return None, _("Validation skipped: the validation module is not available in this version.")
    return validate_workspace(ws), None


def _describe(result: ImportResult) -> str:
    d = result.dialect
    if d is None:
        return ""
    if d.format != "csv":
        return _("Read as {format}.", format=d.format.upper())
    return _("Read as CSV: encoding {encoding}, delimiter {delimiter}, decimal mark '{decimal}'.",
             encoding=d.encoding, delimiter=d.describe_delimiter(), decimal=d.decimal)


def _print(result: ImportResult) -> None:
    if result.skipped_as_duplicate_file:
        console.print(_("Already imported: {file} (batch {batch}); nothing changed.", file=result.file, batch=result.batch_id))
        return
    console.print(_("Imported {n} rows into {table} from {file} (batch {batch}; {replaced} replaced rows with the same key).",
                    n=f"{result.rows_inserted:,}", table=result.table, file=result.file, batch=result.batch_id, replaced=f"{result.rows_replaced:,}"))
    console.print(_describe(result))
    for w in result.warnings:
        console.print(_("Warning: {message}", message=w))


class _Bar:
    """A Rich progress bar over the four import phases (on stderr)."""

    def __init__(self, enabled: bool) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err_console, transient=True, disable=not enabled)
        self.task = self.progress.add_task(_("Reading"), total=len(PHASES))

    def __call__(self, phase: str, fraction: float) -> None:
        done = PHASES.index(phase) + min(max(fraction, 0.0), 1.0)
        self.progress.update(self.task, completed=done, description=_(_PHASE_LABELS[phase]))


@app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="File to import: CSV, XLSX or Parquet.")],
    table: Annotated[str, typer.Option("--table", "-t", help="Canonical table to import into (leads, touches, deals, stage_events, spend, web_events, assignments, orders).")],
    preset: Annotated[str | None, typer.Option("--preset", "-p", help="CRM preset: hubspot, salesforce, pipedrive or bitrix24.")] = None,
    mapping: Annotated[Path | None, typer.Option("--mapping", "-m", help="YAML column mapping (layered on the preset if both are given).")] = None,
    timezone: Annotated[str | None, typer.Option("--timezone", help="Time zone of naive timestamps (IANA; default: the workspace's).")] = None,
    delimiter: Annotated[str | None, typer.Option("--delimiter", help="CSV delimiter (default: detected among , ; tab). 'tab' for tab.")] = None,
    encoding: Annotated[str | None, typer.Option("--encoding", help="File encoding (default: detected; utf-8, utf-8-sig, cp1252, latin-1, utf-16).")] = None,
    date_format: Annotated[str | None, typer.Option("--date-format", help="strptime format of every date column, e.g. '%m/%d/%Y %H:%M'.")] = None,
    decimal: Annotated[str | None, typer.Option("--decimal", help="Decimal mark of numbers: '.' or ',' (default: detected).")] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="XLSX sheet name (default: the first sheet).")] = None,
    no_validate: Annotated[bool, typer.Option("--no-validate", help="Do not validate the workspace after the import.")] = False,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Import a CRM / marketing export into a canonical table (atomic; same file twice is a no-op)."""
    with open_workspace(workspace) as ws:
        bar = _Bar(enabled=not json_)
        with bar.progress:
            result = import_file(ws, path, table, preset=preset, mapping=mapping, timezone=timezone, progress=bar,
                                 delimiter=delimiter, encoding=encoding, decimal=decimal, date_format=date_format, sheet=sheet)
        report, note = (None, _("Validation skipped (--no-validate).")) if no_validate else run_validation(ws)
        lag = None if result.skipped_as_duplicate_file else cleaning_lag(ws)
    payload = {**result.to_dict(), "validation": report.to_dict() if report is not None else None, "validation_note": note,
               "cleaning_lag": None if lag is None else lag.to_dict()}
    if json_:
        emit_json(payload)
        return
    _print(result)
    if report is not None:
        console.print(report.summary(get_language()))
    elif note and not no_validate:
        console.print(note)
    if lag is not None:
        console.print(f"[yellow]{lag.message()}[/yellow]")
