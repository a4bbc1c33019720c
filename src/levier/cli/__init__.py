"""The ``levier`` command line: a thin Typer layer over the library.

Each area registers its commands in its own module (``ingest``, ``quality``, ``demo``,
``audit`` …) on the shared :data:`app`. User errors (:class:`levier.errors.LevierError`)
become ``Error: …`` on stderr with exit code 1, never a traceback.
"""

from __future__ import annotations

import importlib

from levier.cli._app import app, main

__all__ = ["app", "main"]

# Command modules register themselves on `app` when imported.
for _module in ("workspace", "ingest", "quality", "demo", "audit"):
    try:
        importlib.import_module(f"levier.cli.{_module}")
    except ModuleNotFoundError as exc:  # a command module not written yet
        if exc.name != f"levier.cli.{_module}":
            raise
