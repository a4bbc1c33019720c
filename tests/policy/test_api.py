"""The policy REST endpoints through the TestClient with API tokens (roles as the other routers)."""

from __future__ import annotations

from tests.policy.conftest import LEADS
from tests.web.conftest import api  # noqa: F401  (fixture)

from levier.data._frames import insert_frames


def test_check_post_touch_and_queues(api) -> None:  # noqa: ANN001, F811
    insert_frames(api.ws.facts, {"leads": LEADS})
    body = {"lead_id": "S1", "channel": "email", "at": "2026-03-03T10:00:00Z"}
    r = api.call("POST", "/policy/check", "viewer", json=body)
    assert r.status_code == 200 and r.json()["decision"] == "allow"
    for at in ("2026-03-03T08:30:00Z", "2026-03-03T09:30:00+01:00"):
        r = api.call("POST", "/touches", "editor", json={"lead_id": "S1", "channel": "email", "at": at, "outcome": "delivered"})
        assert r.status_code == 201, r.text
    d = api.call("POST", "/policy/check", "viewer", json=body).json()
    assert d["decision"] == "deny" and d["rules"] == ["daily_cap.email"] and d["next_allowed_at"] == "2026-03-04T08:00:00"
    assert api.call("POST", "/touches", "viewer", json={"lead_id": "S1", "channel": "email"}).status_code == 403
    assert api.client.post("/api/v1/policy/check", json=body).status_code == 401
    r = api.call("POST", "/policy/check", "viewer", json={"lead_id": "nope", "channel": "email"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = api.call("POST", "/policy/check", "viewer", json={"lead_id": "S1", "channel": "fax"})
    assert r.status_code == 422 and "fax" in r.json()["error"]["message"]
    q = api.call("GET", "/policy/queue?at=2026-03-02T12:00:00&within_days=3", "viewer").json()
    assert [b["lead_id"] for b in q] == ["O1", "S1", "S2"]  # touched only on 3 March; flagged leads are escalated
    due = api.call("GET", "/policy/due?rep=alice&at=2026-03-04T09:00:00", "viewer").json()
    assert {x["lead_id"] for x in due} == {"S1", "S2", "O1"}
    comp = api.call("GET", "/policy/compliance?start=2026-03-01&end=2026-03-31", "viewer").json()
    assert comp["touches"] == 2 and comp["alarm"] is False
    assert api.call("GET", "/policy", "viewer").json()["source"] == "default"


def test_check_token_cache_follows_revocation_and_roles(api) -> None:  # noqa: ANN001, F811
    """The check endpoint caches token → user per process, but a revocation (any connection) is seen at once."""
    import sqlalchemy as sa

    from levier.loop.models import ApiToken, User
    from levier.loop.services import users

    insert_frames(api.ws.facts, {"leads": LEADS})
    body = {"lead_id": "S1", "channel": "email", "at": "2026-03-03T10:00:00Z"}
    for _ in range(3):
        r = api.call("POST", "/policy/check", "viewer", json=body)
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    cache = api.client.app.state.policy_tokens
    assert cache.enabled and len(cache._users) == 1  # served from the cache after the first look-up
    with api.ws.session() as s:  # another connection revokes the token
        token = s.scalars(sa.select(ApiToken).join(User).where(User.role == "viewer")).first()
        users.revoke_token(s, token.id)
        s.commit()
    r = api.call("POST", "/policy/check", "viewer", json=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    assert api.call("POST", "/policy/check", "editor", json=body).status_code == 200  # cached now
    with api.ws.session() as s:  # deactivating the user is seen at once too
        s.execute(sa.update(User).where(User.role == "editor").values(active=False))
        s.commit()
    assert api.call("POST", "/policy/check", "editor", json=body).status_code == 401
    r = api.call("POST", "/policy/check", "admin", json={"lead_id": "S1", "channel": "email", "extra": 1})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    assert r.json()["error"]["details"][0]["field"] == "body.extra"
    r = api.call("POST", "/policy/check", "admin", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert api.client.post("/api/v1/policy/check", json=body, headers={"Authorization": "Basic x"}).status_code == 401
    spec = api.client.get("/api/v1/openapi.json").json()
    assert "lead_id" in str(spec["paths"]["/api/v1/policy/check"]["post"]["requestBody"])


def test_fast_path_answers_like_the_routed_endpoint(api) -> None:  # noqa: ANN001, F811
    """``PolicyCheckFastPath`` (the check before routing): same answers, same error shape, other routes untouched."""

    from levier.web.routes.api.policy_fast import PolicyCheckFastPath

    insert_frames(api.ws.facts, {"leads": LEADS})
    app = api.client.app
    assert any(m.cls is PolicyCheckFastPath for m in app.user_middleware)  # create_app serves the check before routing
    kept = list(app.user_middleware)
    app.user_middleware = [m for m in kept if m.cls is not PolicyCheckFastPath]  # api.call below: the routed endpoint
    app.middleware_stack = app.build_middleware_stack()
    try:
        _compare_fast_and_routed(api, app)
    finally:
        app.user_middleware = kept
        app.middleware_stack = app.build_middleware_stack()


def _compare_fast_and_routed(api, app) -> None:  # noqa: ANN001, F811
    from fastapi.testclient import TestClient

    from levier.web.routes.api.policy_fast import PolicyCheckFastPath

    fast = TestClient(PolicyCheckFastPath(app, fastapi_app=app), raise_server_exceptions=False)  # no lifespan: the api fixture owns it
    path = "/api/v1/policy/check"
    for body in ({"lead_id": "S1", "channel": "email", "at": "2026-03-03T10:00:00Z"},
                 {"lead_id": "E1", "channel": "call", "at": "2026-03-07T10:00:00+09:00"}, {"lead_id": "V1", "channel": "sms", "at": "2026-03-04T16:00:00Z"}):
        a = fast.post(path, json=body, headers=api.as_("viewer"))
        b = api.call("POST", "/policy/check", "viewer", json=body)
        assert a.status_code == b.status_code == 200 and a.json() == b.json() and a.headers["x-levier-worker"]
    for body, status, code in (({"lead_id": "nope", "channel": "email"}, 404, "not_found"),
                               ({"lead_id": "S1", "channel": "fax"}, 422, "invalid_option"),
                               ({"lead_id": "", "channel": "email"}, 422, "invalid_request")):
        a = fast.post(path, json=body, headers={**api.as_("viewer"), "Accept-Language": "en"})
        assert a.status_code == status and a.json()["error"]["code"] == code, a.text
    r = fast.post(path, json={"lead_id": "S1", "channel": "email"}, headers={"Accept-Language": "fr"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated" and "jeton" in r.json()["error"]["message"].lower()
    assert fast.get("/api/v1/policy", headers=api.as_("viewer")).json()["source"] == "default"  # routed as before


def test_loading_and_refreshing_the_policy_hold_the_facts_lock(monkeypatch) -> None:  # noqa: ANN001
    """The worker's DuckDB connection serves one query at a time: the policy's engine queries wait for the
    dashboard warm-up's (deploy smoke: a build's stream was closed by a concurrent figure query)."""
    from types import SimpleNamespace

    from levier.web.pages_cache import facts_lock
    from levier.web.routes.api import policy as api_policy

    seen: list[tuple[str, bool]] = []

    class Loaded:
        due = True

        def refresh_due(self, seconds: float) -> bool:
            return self.due

        def refresh_every(self, seconds: float) -> None:
            seen.append(("refresh", facts_lock()._is_owned()))  # type: ignore[attr-defined]
            self.due = False

    def load(ws: object) -> Loaded:
        seen.append(("load", facts_lock()._is_owned()))  # type: ignore[attr-defined]
        return Loaded()

    monkeypatch.setattr(api_policy.Policy, "load", staticmethod(load))
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(workspace=None)))
    first = api_policy.policy_of(request)
    assert api_policy.policy_of(request) is first  # loaded once; no refresh due: no lock, no query
    assert seen == [("load", True), ("refresh", True)]
    assert not facts_lock()._is_owned()  # type: ignore[attr-defined]
