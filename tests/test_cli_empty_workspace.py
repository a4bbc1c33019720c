"""A newcomer's first commands on an empty workspace: a result or a clear error, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from levier.cli import app
from levier.workspace import create_workspace

COMMANDS = [
    ["info"],
    ["validate"],
    ["clean"],
    ["journal"],
    ["audit", "--no-record"],
    ["audit", "--period", "2026-10", "--no-record"],
    ["attribute", "--model", "markov"],
    ["funnel"],
    ["kpis"],
    ["kpi", "list"],
    ["policy", "queue"],
]


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("empty") / "ws"
    create_workspace(path).close()
    return path


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_empty_workspace_gives_a_result_or_a_clear_error(empty: Path, args: list[str], lang: str) -> None:
    res = CliRunner().invoke(app, [*args, "--workspace", str(empty)], env={"LEVIER_LANG": lang})
    assert "Traceback" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code in (0, 1), res.output
    if res.exit_code == 1:
        prefix = "Erreur :" if lang == "fr" else "Error:"
        assert prefix in res.output, res.output
