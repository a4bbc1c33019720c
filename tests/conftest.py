"""Shared fixtures: small deterministic workspaces and the CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from levier.workspace import Workspace, create_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A new, empty DuckDB + SQLite workspace in a temporary directory."""
    ws = create_workspace(tmp_path / "ws", timezone="Europe/Paris")
    yield ws
    ws.close()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
