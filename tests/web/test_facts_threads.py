"""A worker's facts connection shared by its threads (decision 0243): routes never cut another thread's stream.

The real app in this process (its request threads are the thread pool's, as under ``levier serve``),
on a real DuckDB file, writable (one worker) and read-only (several workers). While another thread
streams the facts batch by batch as the experiments export does (``engine.stream``, no facts lock),
the policy routes query and append: before the fix their queries closed the stream half-way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import two_lead_workspace

from levier.analysis.experiments.engine import stream
from levier.web.app import create_app

UNITS = 40_000
FILL = ("INSERT INTO assignments SELECT 'exp', 'u' || range::VARCHAR, 'a', TIMESTAMP '2027-01-04', range, 1 "
        f"FROM range({UNITS})")


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVIER_LANG", "en")


@pytest.fixture
def ws_dir(tmp_path: Path) -> tuple[Path, str]:
    """A closed workspace: two leads, :data:`UNITS` assignments, an editor's API token."""
    return two_lead_workspace(tmp_path / "ws", FILL)


@pytest.fixture(params=["one writable worker", "read-only worker"])
def client(request: pytest.FixtureRequest, ws_dir: tuple[Path, str]) -> Iterator[TestClient]:
    app = create_app(ws_dir[0], read_only=request.param == "read-only worker")
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_policy_routes_answer_while_an_export_streams(client: TestClient, ws_dir: tuple[Path, str]) -> None:
    ws = client.app.state.workspace  # type: ignore[attr-defined]
    auth = {"Authorization": f"Bearer {ws_dir[1]}"}
    assert client.get("/api/v1/policy", headers=auth).status_code == 200  # the policy loaded before the export starts
    opened, answered = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def export() -> None:
        try:
            batches = iter(stream(ws, ws.table("assignments").select("_row_id"), 1_000))
            rows = next(batches).num_rows
            opened.set()
            answered.wait(60)
            seen["rows"] = rows + sum(b.num_rows for b in batches)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            seen["error"] = repr(exc)
        finally:
            opened.set()

    t = threading.Thread(target=export, daemon=True)
    t.start()
    assert opened.wait(60)
    touch = {"lead_id": "L1", "channel": "sms", "at": "2027-06-08T07:30:00", "outcome": "delivered", "touch_id": "api-1"}
    posted = client.post("/api/v1/touches", json=touch, headers=auth)
    queue = client.get("/api/v1/policy/queue", params={"at": "2027-06-08T08:00:00"}, headers=auth)
    audit = client.get("/api/v1/policy/compliance", params={"start": "2027-01-01", "end": "2027-12-31"}, headers=auth)
    answered.set()
    t.join(60)
    assert (posted.status_code, queue.status_code, audit.status_code) == (201, 200, 200), (posted.text, queue.text, audit.text)
    assert seen == {"rows": UNITS}
    assert posted.json()["touch_id"] == "api-1" and posted.json()["lead_id"] == "L1"
    check = client.post("/api/v1/policy/check", json={"lead_id": "L1", "channel": "sms", "at": "2027-06-08T13:00:00"},
                        headers=auth)
    assert check.status_code == 200 and check.json()["decision"] == "deny"  # the posted touch counts at once
