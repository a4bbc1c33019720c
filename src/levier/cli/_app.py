"""The Typer application object, shared options and output helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console

from levier.errors import LevierError
from levier.i18n import gettext as _

__all__ = ["app", "main", "console", "err_console", "emit_json", "loop_session", "WorkspaceOpt", "JsonOpt", "LangOpt", "fail"]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


class LevierGroup(typer.core.TyperGroup):
    """Turns user errors into ``Error: …`` + exit 1, whatever runs the app."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except LevierError as exc:
            typer.echo(_("Error: {message}", message=str(exc)), err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=LevierGroup,
    name="levier",
    help="Levier: turn marketing and sales retrospectives into a living, measurable playbook.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", envvar="LEVIER_WORKSPACE", help="Workspace directory (default: current directory)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of text.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="Language of the output: fr or en.", envvar="LEVIER_LANG")]


def _default(obj: Any) -> Any:
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def emit_json(payload: Any) -> None:
    """Write ``payload`` as JSON on stdout (dates as ISO strings, NaN as null)."""
    text = json.dumps(payload, default=_default, ensure_ascii=False, indent=2, allow_nan=True)
    sys.stdout.write(text.replace("NaN", "null") + "\n")


@contextmanager
def loop_session(workspace: Path | None) -> Iterator[tuple[Any, Any]]:
    """The workspace and a loop-database session committed when the command succeeds."""
    from levier.loop.db import transaction
    from levier.workspace import open_workspace

    with open_workspace(workspace) as ws, transaction(ws.session) as s:
        yield ws, s


def fail(message: str) -> None:
    """Raise a user error from CLI code."""
    raise LevierError(message)


def main() -> None:
    """Console-script entry point."""
    app()
