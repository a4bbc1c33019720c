from __future__ import annotations

from pathlib import Path

import pytest

import levier
from levier.cli import app
from levier.data.schema import TABLE_NAMES
from levier.errors import ConfigError, WorkspaceExistsError, WorkspaceNotFoundError


def test_create_and_open_workspace(tmp_path: Path) -> None:
    ws = levier.create_workspace(tmp_path / "w")
    ws.close()
    assert (tmp_path / "w" / "levier.toml").is_file()
    assert (tmp_path / "w" / "facts.duckdb").is_file()
    assert (tmp_path / "w" / "loop.sqlite").is_file()
    with levier.open_workspace(tmp_path / "w") as ws2:
        assert set(ws2.tables) == set(TABLE_NAMES)
        for name in TABLE_NAMES:
            assert ws2.table(name).count().execute() == 0
        assert "lead_id" in ws2.table("touches").columns


def test_init_twice_is_refused(tmp_path: Path) -> None:
    levier.create_workspace(tmp_path / "w").close()
    with pytest.raises(WorkspaceExistsError):
        levier.create_workspace(tmp_path / "w")


def test_open_missing_workspace(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceNotFoundError, match="levier init"):
        levier.open_workspace(tmp_path)


def test_bad_timezone_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        levier.create_workspace(tmp_path / "w", timezone="Mars/Olympus")
    assert not (tmp_path / "w" / "levier.toml").exists()


def test_env_overrides_facts_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    levier.create_workspace(tmp_path / "w").close()
    other = tmp_path / "elsewhere.duckdb"
    monkeypatch.setenv("LEVIER_FACTS_URL", f"duckdb:///{other}")
    with levier.open_workspace(tmp_path / "w") as ws:
        assert ws.config.facts_url.endswith("elsewhere.duckdb")
    assert other.is_file()


def test_cli_init_and_info(tmp_path: Path, runner) -> None:  # noqa: ANN001
    res = runner.invoke(app, ["init", str(tmp_path / "w"), "--json"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["info", "--workspace", str(tmp_path / "w"), "--json"])
    assert res.exit_code == 0
    assert '"touches": 0' in res.output


def test_cli_user_error_has_no_traceback(tmp_path: Path, runner) -> None:  # noqa: ANN001
    res = runner.invoke(app, ["info", "--workspace", str(tmp_path / "missing")], env={"LEVIER_LANG": "en"})
    assert res.exit_code == 1
    assert "Error: No Levier workspace" in res.output
    assert "Traceback" not in res.output


def test_cli_error_in_french(tmp_path: Path, runner) -> None:  # noqa: ANN001
    res = runner.invoke(app, ["info", "--workspace", str(tmp_path / "missing")], env={"LEVIER_LANG": "fr"})
    assert res.exit_code == 1
    assert res.output.startswith("Erreur :")


def test_duckdb_memory_limit_is_applied_and_validated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    levier.create_workspace(tmp_path / "w").close()
    with levier.open_workspace(tmp_path / "w") as ws:
        assert ws.config.memory_limit == "2GB"
        assert ws.facts.con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0] == "1.8 GiB"
    monkeypatch.setenv("LEVIER_MEMORY_LIMIT", "512MB")
    with levier.open_workspace(tmp_path / "w") as ws:
        assert ws.facts.con.raw_sql("SELECT current_setting('memory_limit')").fetchone()[0] == "488.2 MiB"
    monkeypatch.setenv("LEVIER_MEMORY_LIMIT", "lots")
    with pytest.raises(ConfigError, match="memory_limit"):
        levier.open_workspace(tmp_path / "w")
