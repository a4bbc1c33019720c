"""`levier validate`, `levier clean` and `levier journal`: data quality (audit steps 2–3)."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime
from typing import Annotated

import typer

from levier.cli._app import JsonOpt, LangOpt, WorkspaceOpt, app, console, emit_json, err_console
from levier.errors import OptionError
from levier.i18n import gettext as _
from levier.workspace import open_workspace

__all__ = ["validate", "clean", "journal"]


def _parse_as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise OptionError(_("--as-of '{value}' is not a date/time: use ISO format, e.g. 2026-11-01 or 2026-11-01T00:00:00.", value=value)) from None


AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Extraction time of the data (ISO, UTC). Default: derived from the data."),
]


@app.command()
def validate(
    workspace: WorkspaceOpt = None,
    tables: Annotated[list[str] | None, typer.Option("--table", "-t", help="Check only this table (repeatable).")] = None,
    as_of: AsOfOpt = None,
    lang: LangOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Check completeness, unique keys, references, time zones and impossible values; exit 1 on blocking errors."""
    from levier.data.validate import validate_workspace

    when = _parse_as_of(as_of)
    with open_workspace(workspace) as ws:
        with err_console.status(_("Validating…"), spinner="dots") if not json_ else nullcontext():
            report = validate_workspace(ws, tables or None, as_of=when)
    if json_:
        emit_json(report.to_dict())
    else:
        console.print(report.summary(lang), markup=False, soft_wrap=True)
    if report.blocking:
        raise typer.Exit(1)


@app.command()
def clean(
    workspace: WorkspaceOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be excluded or flagged; change nothing.")] = False,
    undo: Annotated[str | None, typer.Option("--undo", help="Restore the rows excluded by this rule (e.g. near_duplicates).")] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Restore every excluded row (the cleaned view becomes the raw data).")] = False,
    skip: Annotated[list[str] | None, typer.Option("--skip", help="Do not apply this rule (repeatable).")] = None,
    near_duplicate_seconds: Annotated[int | None, typer.Option("--near-duplicate-seconds", help="Window of the near-duplicate rule. Default: the workspace setting.")] = None,
    as_of: AsOfOpt = None,
    lang: LangOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Apply the cleaning rules: exclude duplicates and impossible values, flag missing events and outliers."""
    from levier.data.clean import clean_workspace
    from levier.data.journal import reset_cleaning, undo_rule

    if undo and reset:
        raise OptionError(_("Use either --undo RULE or --reset, not both."))
    with open_workspace(workspace) as ws:
        if undo or reset:
            result = undo_rule(ws, undo) if undo else reset_cleaning(ws)
        else:
            with err_console.status(_("Cleaning…"), spinner="dots") if not json_ else nullcontext():
                result = clean_workspace(ws, near_duplicate_seconds=near_duplicate_seconds, dry_run=dry_run,
                                         skip=tuple(skip or ()), as_of=_parse_as_of(as_of))
    if json_:
        emit_json(result.to_dict())
    else:
        console.print(result.summary(lang), markup=False, soft_wrap=True)


@app.command()
def journal(workspace: WorkspaceOpt = None, lang: LangOpt = None, json_: JsonOpt = False) -> None:
    """Show the cleaning journal: per rule, what was excluded or flagged, how many rows and why."""
    from levier.data.journal import journal_summary

    with open_workspace(workspace) as ws:
        summary = journal_summary(ws)
    if json_:
        emit_json(summary.to_dict())
    else:
        console.print(summary.summary(lang), markup=False, soft_wrap=True)
