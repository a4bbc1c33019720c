"""`levier serve` (the web app: pages + REST API) and `levier seed-demo` (a living demo loop)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from levier.cli._app import JsonOpt, WorkspaceOpt, app, console, emit_json, err_console
from levier.errors import LevierError, OptionError
from levier.i18n import gettext as _

__all__ = ["serve", "seed_demo_cmd", "run_server", "prepare_workspace", "start_periodic_flush"]

APP_FACTORY = "levier.web.app:app_from_env"
HEALTHCHECK_SECONDS = 60
WorkersOpt = Annotated[int, typer.Option("--workers", help="Worker processes serving the port (each with its own thread pool).")]
ThreadsOpt = Annotated[int, typer.Option("--threads", help="Threads of each worker process for page and API requests.")]


def prepare_workspace(workspace: Path | None, workers: int) -> tuple[Path, bool]:
    """Check, migrate and flush the workspace before the workers start; returns (path, facts read-only?).

    Several workers open the facts read-only and queue their facts writes in the loop DB: on a
    DuckDB file (one writer process), and on every other engine (Spark, PostgreSQL facts,
    warehouses: the rows and their ``_imports`` record are separate statements, and several
    writers would race for batch and row numbers). The queued rows are applied every
    ``LEVIER_INBOX_FLUSH_SECONDS`` by this process on a server engine, and when the server stops.
    """
    from levier.data.inbox import flush_inbox
    from levier.workspace import open_workspace

    if workers < 1:
        raise OptionError(_("--workers must be at least 1 (got {n}).", n=workers))
    with open_workspace(workspace) as ws:  # creates missing tables, upgrades the loop DB
        duckdb_file = ws.facts.backend_name == "duckdb" and ws.facts.url.partition("://")[2].lstrip("/") not in ("", ":memory:")
        if workers > 1 and ws.facts.backend_name == "duckdb" and not duckdb_file:
            raise OptionError(_("Several workers cannot share an in-memory DuckDB facts engine."),
                              hint=_("Use a DuckDB file or a server engine (LEVIER_FACTS_URL), or --workers 1."))
        flush_inbox(ws)
        return ws.path, workers > 1 and (duckdb_file or ws.facts.backend_name != "duckdb")


def _server_engine(path: Path) -> bool:
    """Whether the facts live on an engine other than DuckDB (the parent may then flush while serving)."""
    from levier.config import CONFIG_FILE, load_config

    return not load_config(path / CONFIG_FILE).facts_url.startswith("duckdb://")


def start_periodic_flush(path: Path, queued: bool, every: int | None = None) -> Any:
    """The parent's background flush while workers queue on a server engine (None on DuckDB, with one worker, or ``every`` 0)."""
    from levier.data.inbox import flush_interval, status_at
    from levier.data.inbox_flush import PeriodicFlush
    from levier.workspace import open_workspace

    every = flush_interval() if every is None else every
    if every <= 0 or not queued or not _server_engine(path):
        return None
    return PeriodicFlush(lambda: open_workspace(path), every, report=lambda line: err_console.print(line),
                         pending=lambda: status_at(path).rows > 0).start()


def run_server(workspace: Path | None, *, host: str, port: int, workers: int = 1, threads: int = 40,
               secure_cookies: bool = False) -> None:
    """Serve the app with ``workers`` uvicorn processes on one port; flush the facts inbox on stop."""
    import uvicorn

    from levier.data.inbox import FLUSH_ENV
    from levier.web.app import (
        ENV_READ_ONLY,
        ENV_SECURE_COOKIES,
        ENV_THREADS,
        ENV_WORKERS,
        ENV_WORKSPACE,
    )

    if threads < 1:
        raise OptionError(_("--threads must be at least 1 (got {n}).", n=threads))
    path, read_only = prepare_workspace(workspace, workers)
    os.environ.update({ENV_WORKSPACE: str(path), ENV_SECURE_COOKIES: "1" if secure_cookies else "0",
                       ENV_READ_ONLY: "1" if read_only else "0", ENV_THREADS: str(threads), ENV_WORKERS: str(workers)})
    mode = _("facts read-only, writes queued") if read_only else _("facts read-write")
    err_console.print(_("Levier is serving {path} on http://{host}:{port}/ with {workers} worker(s) × {threads} threads ({mode}); Ctrl+C to stop.",
                        path=path, host=host, port=port, workers=workers, threads=threads, mode=mode))
    flusher = start_periodic_flush(path, read_only)
    if flusher is not None:
        err_console.print(_("Queued facts are applied every {n} s ({env}).", n=flusher.every, env=FLUSH_ENV))
    previous = signal.signal(signal.SIGTERM, _interrupt)  # uvicorn re-raises SIGTERM once stopped: finish here
    try:
        # a worker imports Levier before it answers the supervisor's health check: allow a slow start
        with _workers_skip_the_cli():
            uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, log_level="warning",
                        timeout_worker_healthcheck=HEALTHCHECK_SECONDS)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if flusher is not None:
            flusher.stop()
        _flush_on_stop(path, flusher.ws if flusher is not None else None)


@contextmanager
def _workers_skip_the_cli() -> Iterator[None]:
    """Spawned workers do not re-run the ``levier`` script (every CLI module): they only need the app.

    ``multiprocessing`` (spawn) re-executes the parent's ``__main__`` file in each child; hiding
    it while uvicorn starts the workers saves each of them the CLI imports (~1.7 s CPU).
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    hide = main is not None and path is not None and getattr(main, "__spec__", None) is None and Path(path).name == "levier"
    if hide:
        del main.__file__
    try:
        yield
    finally:
        if hide:
            main.__file__ = path


def _interrupt(_signum: int, _frame: object) -> None:
    """SIGTERM behaves like Ctrl+C: stop serving, then apply the queued facts (not an abrupt exit)."""
    raise KeyboardInterrupt


def _flush_on_stop(path: Path, ws: Any | None = None) -> None:
    """Apply the queued facts once the workers are gone (with the periodic flush's workspace when there is one)."""
    from levier.data.inbox import flush_inbox
    from levier.workspace import open_workspace

    try:
        with ws if ws is not None else open_workspace(path) as opened:
            done = flush_inbox(opened)
    except LevierError as exc:
        err_console.print(_("The queued facts were not applied: {problem}", problem=exc))
        return
    if done.busy:
        err_console.print(_("Another flush was running; it applies the queued facts."))
        return
    if done.batches:
        err_console.print(_("Queued facts applied: {rows}.", rows=", ".join(f"{t} {n}" for t, n in done.rows.items())))


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    secure_cookies: Annotated[bool, typer.Option("--secure-cookies", help="Mark session cookies Secure (behind HTTPS).")] = False,
    workers: WorkersOpt = 1,
    threads: ThreadsOpt = 40,
    workspace: WorkspaceOpt = None,
) -> None:
    """Serve the web app (pages at /, REST API at /api/v1) on the workspace with uvicorn.

    With --workers N > 1 each worker opens the facts read-only and facts written by requests
    are queued in the loop DB; they are applied every LEVIER_INBOX_FLUSH_SECONDS (default 60) on
    a server engine such as Spark, and when the server stops (docs/deployment.md).
    """
    run_server(workspace, host=host, port=port, workers=workers, threads=threads, secure_cookies=secure_cookies)


@app.command("seed-demo")
def seed_demo_cmd(
    password: Annotated[str, typer.Option("--password", help="Password of the demo users (admin, camille, ines, lucas).")] = "levier-demo",
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Seed the workspace's loop with a living demo (audit cycle, retros, actions, learnings, playbook)."""
    from levier.loop.seed import seed_demo
    from levier.workspace import open_workspace

    with open_workspace(workspace) as ws:
        summary = seed_demo(ws, password=password)
    data = summary.to_dict() | {"password": password}
    if json_:
        emit_json(data)
        return
    if summary.already:
        console.print(_("The workspace was already seeded; nothing changed."))
        return
    console.print(_("Demo loop seeded: cycle {cycle}, retros {retros}, actions {actions}.", cycle=summary.cycle_id,
                    retros=", ".join(map(str, summary.retro_ids)), actions=", ".join(f"{k}: {v}" for k, v in summary.actions.items())))
    console.print(_("Log in as admin, camille, ines or lucas with the password '{password}'.", password=password))
