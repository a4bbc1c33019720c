"""Authorisation: no call without credentials, viewers cannot edit, CSRF on cookie sessions, tokens."""

from __future__ import annotations

import re

import pytest

from levier.loop.services import users

UNSAFE = {"post", "put", "patch", "delete"}


def _operations(api) -> list[tuple[str, str]]:  # noqa: ANN001
    spec = api.client.app.openapi()
    out = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if op.get("security") == []:  # public by design (landing-page A/B endpoints, decision 0073)
                continue
            out.append((method, re.sub(r"\{[^}]+\}", "1", path)))
    return out


def test_openapi_lists_the_api(api) -> None:  # noqa: ANN001
    spec = api.client.get("/api/v1/openapi.json").json()
    assert spec["info"]["title"] == "Levier API"
    for path in ("/api/v1/actions", "/api/v1/retros/{retro_id}/review", "/api/v1/cycles/{cycle_id}/audit", "/api/v1/search", "/api/v1/scorecard"):
        assert path in spec["paths"]


def test_no_call_without_credentials(api) -> None:  # noqa: ANN001
    ops = _operations(api)
    assert len(ops) > 50
    for method, path in ops:
        if path == "/api/v1/auth/login":
            continue
        resp = api.client.request(method, path)
        assert resp.status_code == 401, (method, path, resp.text)
        assert resp.json()["error"]["code"] == "unauthenticated"
        bad = api.client.request(method, path, headers={"Authorization": "Bearer lvr_forged"})
        assert bad.status_code == 401, (method, path)


def test_viewer_cannot_edit(api) -> None:  # noqa: ANN001
    checked = 0
    for method, path in _operations(api):
        if method not in UNSAFE or path.startswith(("/api/v1/auth/", "/api/v1/users/1/tokens", "/api/v1/tokens/")):
            continue
        if path == "/api/v1/policy/check":  # a read-only question sent as POST: viewers may ask it
            continue
        resp = api.client.request(method.upper(), path, headers=api.as_("viewer"), json={})
        assert resp.status_code == 403, (method, path, resp.text)
        assert resp.json()["error"]["code"] == "forbidden"
        checked += 1
    assert checked > 30
    assert api.call("GET", "/actions", role="viewer").status_code == 200
    assert api.call("GET", "/access-log", role="editor").status_code == 403  # admin only
    assert api.call("GET", "/access-log", role="admin").status_code == 200


@pytest.fixture
def logged_in(api):  # noqa: ANN001, ANN201
    with api.ws.session() as s:
        users.set_password(s, users.get_user(s, "editor").id, "editor password")
        s.commit()
    resp = api.client.post("/api/v1/auth/login", data={"username": "editor", "password": "editor password"})
    assert resp.status_code == 200, resp.text
    return resp


def test_login_sets_a_safe_cookie(api, logged_in) -> None:  # noqa: ANN001
    cookie = logged_in.headers["set-cookie"].lower()
    assert "levier_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "csrf_token" in logged_in.json() and logged_in.json()["user"]["username"] == "editor"
    me = api.client.get("/api/v1/auth/me").json()
    assert me["csrf_token"] == logged_in.json()["csrf_token"]
    wrong = api.client.post("/api/v1/auth/login", json={"username": "editor", "password": "nope nope"})
    assert wrong.status_code == 401


def test_csrf_is_required_on_cookie_sessions(api, logged_in) -> None:  # noqa: ANN001
    csrf = logged_in.json()["csrf_token"]
    body = {"name": "Oct", "period_start": "2026-10-01", "period_end": "2026-11-01"}
    resp = api.client.post("/api/v1/cycles", json=body)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "csrf_failed"
    resp = api.client.post("/api/v1/cycles", json=body, headers={"X-CSRF-Token": "forged"})
    assert resp.json()["error"]["code"] == "csrf_failed"
    assert api.client.post("/api/v1/cycles", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    # a form-style POST: the token must be in the csrf_token field
    resp = api.client.post("/api/v1/auth/logout", data={"next": "/"})
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "csrf_failed"
    assert api.client.post("/api/v1/auth/logout", data={"csrf_token": csrf}).status_code == 204
    assert api.client.get("/api/v1/auth/me").status_code == 401  # the session is gone


def test_tokens_need_no_csrf_and_can_be_revoked(api) -> None:  # noqa: ANN001
    me = api.call("GET", "/auth/me", role="viewer").json()["user"]
    created = api.call("POST", f"/users/{me['id']}/tokens", role="viewer", json={"name": "laptop"})
    assert created.status_code == 201 and created.json()["token"].startswith("lvr_")
    token = created.json()["token"]
    assert api.client.get("/api/v1/actions", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    admin_id = [u for u in api.call("GET", "/users").json() if u["username"] == "admin"][0]["id"]
    assert api.call("POST", f"/users/{admin_id}/tokens", role="viewer", json={}).status_code == 403
    assert api.call("DELETE", f"/tokens/{created.json()['id']}", role="viewer").status_code == 200
    assert api.client.get("/api/v1/actions", headers={"Authorization": f"Bearer {token}"}).status_code == 401
