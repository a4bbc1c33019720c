"""Several worker processes: the app factory from the environment, read-only facts, the worker header."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import two_lead_workspace

from levier.cli import app as cli
from levier.cli.serve import prepare_workspace
from levier.data.inbox import append_facts, pending_facts
from levier.errors import OptionError
from levier.web.app import app_from_env, create_app
from levier.workspace import create_workspace, open_workspace

AT = "2027-06-08T13:00:00"  # a Tuesday, 15:00 in Paris: inside the sending window


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVIER_LANG", "en")


@pytest.fixture
def ws_dir(tmp_path: Path) -> tuple[Path, str]:
    """A closed workspace with two leads and an editor's API token."""
    return two_lead_workspace(tmp_path / "ws")


def _check(client: TestClient, token: str, lead: str = "L1") -> str:
    r = client.post("/api/v1/policy/check", json={"lead_id": lead, "channel": "sms", "at": AT}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()["decision"]


def test_app_from_env_builds_a_read_only_worker(ws_dir: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    path, _token = ws_dir
    for name, value in {"LEVIER_WORKSPACE": str(path), "LEVIER_SECURE_COOKIES": "1", "LEVIER_FACTS_READ_ONLY": "1",
                        "LEVIER_WEB_THREADS": "7"}.items():
        monkeypatch.setenv(name, value)
    app = app_from_env()
    assert app.state.workspace.read_only and app.state.workspace.path == path.resolve()
    assert app.state.settings["secure_cookies"] is True
    assert app.state.settings["warm"] is True  # `levier serve` warms the dashboard figures at start (decision 0230)
    with TestClient(app) as client:
        r = client.get("/api/v1/auth/me")
        assert r.status_code == 401 and r.headers["x-levier-worker"] == str(os.getpid())
        assert client.get("/login").headers["x-levier-worker"] == str(os.getpid())
        assert app.state.warmer.idle.wait(60) and app.state.warmer.thread is not None  # stays to follow the facts version
    monkeypatch.setenv("LEVIER_WEB_WARM", "0")
    cold = app_from_env()
    assert cold.state.settings["warm"] is False
    cold.state.workspace.close()


def test_a_read_only_worker_queues_a_touch_that_the_policy_sees_at_once(ws_dir: tuple[Path, str]) -> None:
    path, token = ws_dir
    auth = {"Authorization": f"Bearer {token}"}
    touch = {"lead_id": "L1", "channel": "sms", "at": "2027-06-08T07:30:00", "outcome": "delivered", "touch_id": "api-1"}
    with TestClient(create_app(path, read_only=True)) as client:
        ws = client.app.state.workspace
        assert _check(client, token) == "allow"
        r = client.post("/api/v1/touches", json=touch, headers=auth)
        assert r.status_code == 201, r.text
        assert _check(client, token) == "deny" and _check(client, token, "L2") == "allow"
        assert client.post("/api/v1/touches", json=touch, headers=auth).status_code == 409  # queued ids count too
        assert ws.facts.count("touches") == 0
        assert [t["touch_id"] for t in pending_facts(ws, "touches", lead_id="L1")] == ["api-1"]
    with open_workspace(path) as ws:  # what `levier serve` does when it stops
        assert prepare_workspace(path, 1) == (path.resolve(), False)
        t = ws.facts.raw("touches").execute()
        assert t["touch_id"].tolist() == ["api-1"] and t["at"].tolist() == [datetime(2027, 6, 8, 7, 30)]
    with TestClient(create_app(path)) as client:  # the state rebuilt from the facts agrees
        assert _check(client, token) == "deny"


def test_prepare_workspace_checks_the_options_and_flushes(ws_dir: tuple[Path, str], tmp_path: Path) -> None:
    path, _token = ws_dir
    with pytest.raises(OptionError, match="--workers must be at least 1"):
        prepare_workspace(path, 0)
    with open_workspace(path, read_only=True) as ws:
        append_facts(ws, "assignments", [{"experiment_key": "cta", "unit_id": "L1", "variant": "b", "assigned_at": AT}], source="live")
    assert prepare_workspace(path, 2) == (path.resolve(), True)
    with open_workspace(path, read_only=True) as ws:
        assert ws.facts.count("assignments") == 1 and pending_facts(ws, "assignments") == []
    create_workspace(tmp_path / "mem", facts_url="duckdb://:memory:").close()
    with pytest.raises(OptionError, match="in-memory DuckDB"):
        prepare_workspace(tmp_path / "mem", 2)
    assert prepare_workspace(tmp_path / "mem", 1)[1] is False


def test_facts_cli_counts_and_flushes(ws_dir: tuple[Path, str], runner) -> None:  # noqa: ANN001
    path, _token = ws_dir
    with open_workspace(path, read_only=True) as ws:
        append_facts(ws, "touches", [{"touch_id": "t1", "lead_id": "L1", "at": AT, "channel": "call"}], source="api")
    r = runner.invoke(cli, ["facts", "pending", "-w", str(path), "--json"])
    assert r.exit_code == 0 and [(t["table"], t["rows"], t["claimed"]) for t in json.loads(r.stdout)["tables"]] == [("touches", 1, 0)]
    r = runner.invoke(cli, ["facts", "flush", "-w", str(path)])
    assert r.exit_code == 0 and "touches: 1 row(s) applied as batch 1 (api)." in r.stdout
    r = runner.invoke(cli, ["facts", "flush", "-w", str(path), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout) == {"batches": [], "rows": {}, "recovered": 0, "busy": False, "discarded": 0}
    r = runner.invoke(cli, ["serve", "--workers", "0", "-w", str(path)])
    assert r.exit_code == 1 and "--workers must be at least 1" in r.output


def test_a_facts_write_on_a_read_only_worker_answers_503_with_the_fix(ws_dir: tuple[Path, str]) -> None:
    path, _token = ws_dir
    app = create_app(path, read_only=True)
    ws = app.state.workspace
    app.add_api_route("/t/insert", lambda: ws.facts.con.insert("touches", ws.facts.raw("touches")), methods=["POST"])
    app.add_api_route("/t/sql", lambda: ws.facts.con.raw_sql("DELETE FROM touches"), methods=["POST"])
    with TestClient(app, raise_server_exceptions=False) as client:
        for route, fix in (("/t/insert", "levier facts flush"), ("/t/sql", "--workers 1")):
            r = client.post(route)
            assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable", r.text
            assert "read-only" in r.json()["error"]["message"] and fix in r.json()["error"]["hint"]
