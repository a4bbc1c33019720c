"""`levier serve` (the web app: pages + REST API) and `levier seed-demo` (a living demo loop)."""

from __future__ import annotations

from typing import Annotated

import typer

from levier.cli._app import JsonOpt, WorkspaceOpt, app, console, emit_json, err_console
from levier.i18n import gettext as _

__all__ = ["serve", "seed_demo_cmd"]


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    secure_cookies: Annotated[bool, typer.Option("--secure-cookies", help="Mark session cookies Secure (behind HTTPS).")] = False,
    workers: Annotated[int, typer.Option("--workers", help="Worker threads for page and API requests.")] = 40,
    workspace: WorkspaceOpt = None,
) -> None:
    """Serve the web app (pages at /, REST API at /api/v1) on the workspace with uvicorn."""
    import anyio.to_thread
    import uvicorn

    from levier.web.app import create_app

    web = create_app(workspace, secure_cookies=secure_cookies)

    @web.on_event("startup")
    async def _threads() -> None:  # sync routes run in this pool
        anyio.to_thread.current_default_thread_limiter().total_tokens = max(1, workers)

    err_console.print(_("Levier is serving {path} on http://{host}:{port}/ (Ctrl+C to stop).", path=web.state.workspace.path, host=host, port=port))
    uvicorn.run(web, host=host, port=port, log_level="warning")


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
