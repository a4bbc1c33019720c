"""API fixtures: an app on a temporary workspace with an admin, an editor and a viewer (API tokens)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from levier.data._frames import insert_frames
from levier.loop.services import users
from levier.web.app import create_app
from levier.workspace import create_workspace


@dataclass
class Api:
    client: TestClient
    ws: object
    tokens: dict[str, str] = field(default_factory=dict)

    def as_(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def call(self, method: str, path: str, role: str = "admin", **kw: object):  # noqa: ANN201
        headers = {**self.as_(role), **kw.pop("headers", {})}  # type: ignore[dict-item]
        return self.client.request(method, "/api/v1" + path, headers=headers, **kw)


@pytest.fixture(autouse=True)
def _pages_wait_for_their_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dashboard request waits for the warmer as long as it takes (figures.WAIT_SECONDS is 2 s when serving),
    so page tests see the figures whatever the machine's load; tests/web/test_figures.py tests the wait itself."""
    from levier.web import figures

    monkeypatch.setattr(figures, "WAIT_SECONDS", 120.0)


@pytest.fixture
def api(workspace) -> Iterator[Api]:  # noqa: ANN001
    tokens = {}
    with workspace.session() as s:
        for role in ("admin", "editor", "viewer"):
            u = users.create_user(s, role, role=role)
            tokens[role] = users.create_token(s, u.id, "test")[1]
        s.commit()
    app = create_app(workspace.path)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, app.state.workspace, tokens)


def two_lead_workspace(path: Path, *sql: str) -> tuple[Path, str]:
    """A closed workspace at ``path``: two Paris leads (L1, L2), the facts SQL ``sql`` run on it, an
    editor ("ed") with an API token; returns the path and the token (for workers opened on it)."""
    with create_workspace(path, timezone="Europe/Paris") as ws:
        insert_frames(ws.facts, {"leads": [
            {"lead_id": f"L{i}", "created_at": datetime(2027, 1, 4), "timezone": "Europe/Paris", "channel": "inbound",
             "company_size": "smb", "owner": "ana"} for i in (1, 2)]})
        for statement in sql:
            ws.facts.con.raw_sql(statement)
        with ws.session() as s:
            user = users.create_user(s, "ed", role="editor")
            token = users.create_token(s, user.id, "test")[1]
            s.commit()
    return path, token
