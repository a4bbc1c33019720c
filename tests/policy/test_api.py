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
