"""The ONE JSON error shape of the API, pinned."""

from __future__ import annotations

from levier.errors import RuleError

SHAPE = {"code", "status", "message", "hint", "details"}


def _err(resp, status: int, code: str) -> dict:  # noqa: ANN001
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == SHAPE
    assert body["error"]["status"] == status and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)
    return body["error"]


def test_error_shape_is_pinned(api) -> None:  # noqa: ANN001
    e = _err(api.client.get("/api/v1/actions"), 401, "unauthenticated")
    assert api.client.get("/api/v1/actions").headers["WWW-Authenticate"] == "Bearer"
    assert e["details"] == [] and e["hint"] is None
    e = _err(api.call("GET", "/actions/999"), 404, "not_found")
    assert e == {"code": "not_found", "status": 404, "message": "Introuvable : action d'identifiant 999.", "hint": "Listez-les pour voir les identifiants existants.", "details": []}
    e = _err(api.call("GET", "/actions/999", headers={"Accept-Language": "en"}), 404, "not_found")
    assert e["message"] == "No action with id 999." and e["hint"] == "List them to see the existing ids."
    e = _err(api.call("POST", "/actions", json={"title": "x"}, headers={"Accept-Language": "en"}), 422, "invalid_request")
    assert {d["field"] for d in e["details"]} >= {"body.owner", "body.due_date", "body.kpi_key", "body.target"}
    assert e["message"] == f"The request is invalid: {len(e['details'])} problem(s)."
    _err(api.call("POST", "/cycles", role="viewer", json={}), 403, "forbidden")
    _err(api.call("GET", "/nowhere"), 404, "not_found")
    _err(api.call("DELETE", "/actions"), 405, "method_not_allowed")
    _err(api.call("POST", "/users", json={"username": "admin"}), 409, "conflict")
    _err(api.call("POST", "/retros", json={"template": "daily", "title": "x", "objective": "y"}), 422, "invalid_option")


def test_unexpected_errors_keep_the_shape(api) -> None:  # noqa: ANN001
    app = api.client.app

    @app.get("/api/v1/_boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    @app.get("/api/v1/_rule")
    def rule() -> None:
        raise RuleError("no", hint="do this")

    e = _err(api.client.get("/api/v1/_boom"), 500, "internal_error")
    assert "secret" not in e["message"]
    assert _err(api.client.get("/api/v1/_rule"), 409, "rule_violation")["hint"] == "do this"
