"""`levier demo-data`: write the demo data set (with its ground truth)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from levier.cli._app import JsonOpt, app, console, emit_json, err_console
from levier.data.demo import DemoSummary, generate
from levier.data.demo.truth import DEFAULT_TOUCHES_PER_LEAD
from levier.i18n import gettext as _

__all__ = ["demo_data"]


@app.command("demo-data")
def demo_data(
    leads: Annotated[int, typer.Option("--leads", help="Number of leads to generate.")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same leads and seed give byte-identical files.")] = 7,
    out: Annotated[Path, typer.Option("--out", help="Output directory (created if missing).")] = Path("demo-data"),
    fmt: Annotated[str, typer.Option("--format", help="File format: parquet or csv.")] = "parquet",
    touches_per_lead: Annotated[float, typer.Option("--touches-per-lead", help="Typical number of cadence touches per lead (scales the cadence lengths).")] = DEFAULT_TOUCHES_PER_LEAD,
    json_: JsonOpt = False,
) -> None:
    """Generate a realistic demo data set with a known ground truth and injected defects."""
    if json_:
        summary = generate(out, leads=leads, seed=seed, fmt=fmt.lower(), touches_per_lead=touches_per_lead)
        emit_json(summary.to_dict())
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task(_("Generating leads"), total=leads)
        summary = generate(out, leads=leads, seed=seed, fmt=fmt.lower(), touches_per_lead=touches_per_lead,
                           progress=lambda done, total: bar.update(task, completed=done))
    _print(summary)


def _print(summary: DemoSummary) -> None:
    table = Table(title=_("Demo data written to {path} in {seconds:.1f} s", path=summary.out_dir, seconds=summary.seconds))
    table.add_column(_("Table"))
    table.add_column(_("Rows"), justify="right")
    table.add_column(_("File"))
    for name, rows in summary.rows.items():
        table.add_row(name, f"{rows:,}", summary.files[name].name)
    console.print(table)
    console.print(_("Ground truth and injected defects: {path}", path=summary.ground_truth))
