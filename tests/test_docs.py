"""Docs are part of the change: generated references are current, every setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

from levier.config import SETTINGS_DOC, EnvSettings
from levier.devtools.docs import iter_commands, render_cli, render_data_model

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_cli_reference_is_current() -> None:
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == render_cli(), (
        "docs/cli.md is stale: run `.venv/bin/python -m levier.devtools.docs`"
    )


def test_every_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for name, cmd in iter_commands():
        assert f"## `{name}`" in text
        assert (cmd.help or "").strip(), f"{name} has no help text"


def test_data_model_is_current() -> None:
    assert (DOCS / "data-model.md").read_text(encoding="utf-8") == render_data_model()


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for key in SETTINGS_DOC:
        assert f"`{key}`" in text, key
    for field in EnvSettings.model_fields:
        assert f"`LEVIER_{field.upper()}`" in text, field


def test_readme_opens_with_the_two_commands() -> None:
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
    ci = (DOCS.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci
