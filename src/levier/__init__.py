"""Levier: turn marketing and sales retrospectives into a living, measurable playbook.

Public API::

    import levier
    ws = levier.open_workspace("my-workspace")
    touches = ws.table("touches")      # an Ibis expression (cleaned view)
"""

from __future__ import annotations

from levier.errors import LevierError
from levier.workspace import Workspace, create_workspace, open_workspace

__version__ = "0.1.0"

__all__ = ["__version__", "LevierError", "Workspace", "create_workspace", "open_workspace"]
