"""The ``levier`` command line: a thin Typer layer over the library.

Each area registers its commands in its own module of this package (``workspace``,
``ingest``, ``quality``, ``demo``, ``audit`` …) on the shared :data:`app`; every public
module here is imported below. User errors (:class:`levier.errors.LevierError`) become
``Error: …`` on stderr with exit code 1, never a traceback.
"""

from __future__ import annotations

import importlib
import pkgutil

from levier.cli._app import app, main

__all__ = ["app", "main"]

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
