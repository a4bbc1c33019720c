"""Public A/B endpoints: variant (same hashing, kept assignments, exclusions), events, CORS, rate limit."""

from __future__ import annotations

import json
import threading
from datetime import datetime

import pytest

from levier.analysis.experiments import assign_variant
from levier.analysis.experiments.protocol import Arm, Change, Protocol, ProtocolStore, WebSettings
from levier.data._frames import insert_frames

KEY = "hero-2026-10"
PAGE = "https://www.example.com"
HEADLINE = Change(selector="h1", action="text", value="Book a demo in 2 minutes")


def _publish(ws, key: str = KEY, **web: object) -> Protocol:  # noqa: ANN001
    settings = {"enabled": True, "origins": [PAGE], **web}
    proto = Protocol(key=key, unit="visitor", arms=[Arm(name="control"), Arm(name="treatment", changes=[HEADLINE])],
                     web=WebSettings(**settings))
    return ProtocolStore(ws.path).save(proto)


def _rows(ws, table: str, key: str = KEY) -> list[dict]:  # noqa: ANN001
    t = ws.facts.raw(table)
    t = t.filter(t.experiment_key == key) if table == "assignments" else t
    return t.execute().to_dict("records")


def _variant(api, unit: str, key: str = KEY, **headers: str):  # noqa: ANN001, ANN202
    return api.client.get(f"/api/v1/experiments/{key}/variant", params={"unit_id": unit}, headers=headers)


def test_variant_needs_no_session_and_uses_the_same_hashing(api) -> None:  # noqa: ANN001
    _publish(api.ws)
    units = [f"v{i}" for i in range(40)]
    answers = [_variant(api, u) for u in units]
    assert all(r.status_code == 200 for r in answers)
    got = {r.json()["unit_id"]: r.json()["variant"] for r in answers}
    assert got == {u: assign_variant(KEY, u, ["control", "treatment"]) for u in units}
    assert {"control", "treatment"} == set(got.values())
    treated = next(r.json() for r in answers if r.json()["variant"] == "treatment")
    assert treated["changes"] == [{"selector": "h1", "action": "text", "value": "Book a demo in 2 minutes"}]
    assert treated["new"] is True and answers[0].headers["cache-control"] == "no-store"
    stored = {r["unit_id"]: r["variant"] for r in _rows(api.ws, "assignments")}
    assert stored == got
    again = _variant(api, "v3").json()
    assert again["variant"] == got["v3"] and again["new"] is False
    assert len(_rows(api.ws, "assignments")) == 40
    imports = api.ws.facts.imports().execute()
    assert set(imports["preset"]) == {"levier-live"} and imports["rows_inserted"].sum() == 40


def test_a_stored_assignment_wins_over_the_hash_and_new_weights(api) -> None:  # noqa: ANN001
    unit = next(f"u{i}" for i in range(100) if assign_variant(KEY, f"u{i}", ["control", "treatment"]) == "control")
    insert_frames(api.ws.facts, {"assignments": [
        {"experiment_key": KEY, "unit_id": unit, "variant": "treatment", "assigned_at": datetime(2026, 10, 1)}]})
    _publish(api.ws)
    body = _variant(api, unit).json()
    assert body["variant"] == "treatment" and body["new"] is False and body["changes"][0]["selector"] == "h1"
    assert len(_rows(api.ws, "assignments")) == 1
    # re-balancing: all weight on control; the stored unit keeps treatment, a new one goes to control
    proto = ProtocolStore(api.ws.path).load(KEY)
    proto = proto.model_copy(update={"arms": [Arm(name="control", weight=1), Arm(name="treatment", weight=0, changes=[HEADLINE])]})
    ProtocolStore(api.ws.path).save(proto, "stop treatment")
    assert _variant(api, unit).json()["variant"] == "treatment"
    assert all(_variant(api, f"n{i}").json()["variant"] == "control" for i in range(10))


def test_excluded_leads_get_no_variant_and_no_row(api) -> None:  # noqa: ANN001
    insert_frames(api.ws.facts, {"leads": [
        {"lead_id": "L1", "created_at": datetime(2026, 10, 1)},
        {"lead_id": "L2", "created_at": datetime(2026, 10, 1), "vip": True},
        {"lead_id": "L3", "created_at": datetime(2026, 10, 1), "opted_out_at": datetime(2026, 10, 2)},
    ]})
    ProtocolStore(api.ws.path).save(Protocol(key="mail-1", unit="lead", web=WebSettings(enabled=True)))
    assert _variant(api, "L2", "mail-1").json() == {
        "experiment": "mail-1", "unit_id": "L2", "variant": None, "changes": [], "excluded": True, "reason": "vip", "new": False}
    assert _variant(api, "L3", "mail-1").json()["reason"] == "opted_out"
    assert _variant(api, "L1", "mail-1").json()["variant"] == assign_variant("mail-1", "L1", ["control", "treatment"])
    assert [r["unit_id"] for r in _rows(api.ws, "assignments", "mail-1")] == ["L1"]


def test_unknown_or_unpublished_experiments_are_not_found(api) -> None:  # noqa: ANN001
    ProtocolStore(api.ws.path).save(Protocol(key="draft"))
    for key in ("draft", "nope", "..%2Fetc"):
        r = _variant(api, "v1", key)
        assert r.status_code == 404, key
    assert _variant(api, "v1", "draft").json()["error"]["code"] == "not_found"
    assert _rows(api.ws, "assignments", "draft") == []


def test_cors_allow_list_and_preflight(api) -> None:  # noqa: ANN001
    _publish(api.ws)
    ok = _variant(api, "v1", origin=PAGE)
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == PAGE
    bad = _variant(api, "v1", origin="https://evil.example")
    assert bad.status_code == 403 and bad.json()["error"]["code"] == "forbidden"
    pre = api.client.options(f"/api/v1/experiments/{KEY}/variant",
                             headers={"origin": PAGE, "access-control-request-method": "GET"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == PAGE
    assert api.client.options("/api/v1/events", headers={"origin": PAGE}).status_code == 204
    assert api.client.options("/api/v1/events", headers={"origin": "https://evil.example"}).status_code == 403


def test_rate_limit_per_client_and_experiment(api) -> None:  # noqa: ANN001
    _publish(api.ws, rate_per_minute=3)
    codes = [_variant(api, f"v{i}").status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    r = _variant(api, "v9")
    assert r.json()["error"]["code"] == "too_many_requests" and int(r.headers["retry-after"]) == 20


def test_events_are_stored_as_web_events(api) -> None:  # noqa: ANN001
    _publish(api.ws)
    variant = _variant(api, "v7").json()["variant"]
    payload = {"experiment": KEY, "unit_id": "v7", "type": "exposure", "page": "/landing", "utm_campaign": "oct",
               "variant": "forged"}
    r1 = api.client.post("/api/v1/events", content=json.dumps(payload), headers={"content-type": "text/plain", "origin": PAGE})
    r2 = api.client.post("/api/v1/events", json={**payload, "type": "conversion"})
    assert r1.status_code == 201 and r2.status_code == 201, (r1.text, r2.text)
    assert r1.headers["access-control-allow-origin"] == PAGE
    assert r1.json()["variant"] == f"{KEY}/{variant}"
    rows = sorted(_rows(api.ws, "web_events"), key=lambda r: r["type"])
    assert [(r["type"], r["anonymous_id"], r["variant"], r["page"], r["utm_campaign"]) for r in rows] == [
        ("conversion", "v7", f"{KEY}/{variant}", "/landing", "oct"), ("exposure", "v7", f"{KEY}/{variant}", "/landing", "oct")]
    assert rows[0]["event_id"] != rows[1]["event_id"]
    w = api.ws.facts.raw("web_events")
    assert int(w.filter(w.lead_id.isnull() & w.referrer.isnull() & w.at.notnull()).count().execute()) == 2
    assert all(r["event_id"].startswith("lvr_") for r in rows)


@pytest.mark.parametrize(("payload", "status", "code"), [
    ({"experiment": KEY, "unit_id": "never-seen", "type": "exposure"}, 409, "rule_violation"),
    ({"experiment": KEY, "unit_id": "v1", "type": "page_view"}, 422, "invalid_option"),
    ({"experiment": KEY, "unit_id": "v1", "type": "exposure", "lead_id": "L1"}, 422, "invalid_option"),
    ({"experiment": "nope", "unit_id": "v1", "type": "exposure"}, 404, "not_found"),
    ("not json", 422, "invalid_option"),
])
def test_bad_events_are_refused(api, payload, status: int, code: str) -> None:  # noqa: ANN001
    _publish(api.ws)
    _variant(api, "v1")
    body = payload if isinstance(payload, str) else json.dumps(payload)
    r = api.client.post("/api/v1/events", content=body, headers={"content-type": "text/plain"})
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    assert _rows(api.ws, "web_events") == []


def test_concurrent_first_calls_store_each_unit_once(api) -> None:  # noqa: ANN001
    _publish(api.ws, rate_per_minute=10_000)
    units = [f"c{i}" for i in range(30)]
    errors: list[object] = []

    def hit(offset: int) -> None:
        for u in units[offset:] + units[:offset]:
            r = _variant(api, u)
            if r.status_code != 200:
                errors.append(r.text)

    threads = [threading.Thread(target=hit, args=(k * 7,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = _rows(api.ws, "assignments")
    assert sorted(r["unit_id"] for r in rows) == sorted(units)
    assert len({r["_row_id"] for r in rows}) == 30


def test_snippet_is_served(api) -> None:  # noqa: ANN001
    r = api.client.get("/api/v1/experiments/snippet.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert "data-experiment" in r.text and "sendBeacon" in r.text


def test_only_the_two_landing_page_operations_are_public(api) -> None:  # noqa: ANN001
    spec = api.client.get("/api/v1/openapi.json").json()
    public = sorted((m, path) for path, item in spec["paths"].items() for m, op in item.items() if op.get("security") == [])
    assert public == [("get", "/api/v1/experiments/{key}/variant"), ("post", "/api/v1/events")]


# -- several worker processes (decision 0130) ---------------------------------------------------
def test_rate_limit_is_divided_among_worker_processes(workspace, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from levier.analysis.experiments.live import WORKERS_ENV, LiveExperiments

    proto = _publish(workspace, rate_per_minute=10)
    monkeypatch.setenv(WORKERS_ENV, "3")
    live = LiveExperiments(workspace, clock=lambda: 0.0)
    assert live.workers == 3 and live.rate_limit(proto) == 3  # 3 workers × 3 ≤ 10 per minute
    assert [live.allow("1.2.3.4", proto)[0] for _i in range(4)] == [True, True, True, False]
    assert LiveExperiments(workspace, workers=50).rate_limit(proto) == 1
    monkeypatch.setenv(WORKERS_ENV, "nonsense")
    assert LiveExperiments(workspace).workers == 1
    app_module = pytest.importorskip("levier.web.app")
    assert getattr(app_module, "ENV_WORKERS", WORKERS_ENV) == WORKERS_ENV  # the name `levier serve` sets


def test_workers_writing_the_facts_see_each_others_new_units(workspace) -> None:  # noqa: ANN001
    """A server engine: every worker writes the facts; each has its own cache."""
    from levier.analysis.experiments.live import LiveExperiments

    _publish(workspace)
    a, b = LiveExperiments(workspace, workers=2), LiveExperiments(workspace, workers=2)
    assert b.variant(KEY, "seen-first").new  # b's cache is loaded before a stores the next unit
    first = a.variant(KEY, "u1")
    again = b.variant(KEY, "u1")
    assert first.new and not again.new and again.variant == first.variant
    assert b.record_event(KEY, "u1", "exposure")["variant"] == f"{KEY}/{first.variant}"
    assert len(_rows(workspace, "assignments")) == 2


class _ServerEngine:
    """A `levier serve` worker on a server engine (facts by URL): read-only facts, the engine name aside."""

    facts_writable = False

    def __init__(self, ws) -> None:  # noqa: ANN001
        self._ws = ws
        self.facts = type("Facts", (), {"backend_name": "warehouse", "__getattr__": lambda _self, n: getattr(ws.facts, n)})()

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._ws, name)


def test_a_unit_flushed_while_serving_is_found_in_the_facts(workspace) -> None:  # noqa: ANN001
    """Several workers on a server engine queue their rows, and the parent flushes while serving: a unit
    another worker stored, flushed before this worker looked, is found in the facts, not assigned again."""
    from levier.analysis.experiments.live import LiveExperiments
    from levier.data.inbox import flush_inbox, pending_facts

    _publish(workspace)
    a, b = LiveExperiments(_ServerEngine(workspace), workers=2), LiveExperiments(_ServerEngine(workspace), workers=2)
    assert b.variant(KEY, "v0").new  # b's cache is loaded before a stores v1
    first = a.variant(KEY, "v1")
    assert first.new and _rows(workspace, "assignments") == [] and len(pending_facts(workspace, "assignments")) == 2  # queued
    assert flush_inbox(workspace).rows == {"assignments": 2}  # the serve parent's periodic flush: the inbox is empty again
    again = b.variant(KEY, "v1")
    assert not again.new and again.variant == first.variant
    assert b.pending() == {"assignments": 0, "web_events": 0} and pending_facts(workspace, "assignments") == []  # nothing queued twice


def test_read_only_workers_share_queued_assignments_and_analyses_count_a_unit_once(tmp_path) -> None:  # noqa: ANN001
    from levier.analysis.experiments import MetricSpec, collect_statistics
    from levier.analysis.experiments.live import LiveExperiments
    from levier.analysis.experiments.storage import existing_assignments
    from levier.data.inbox import flush_inbox, pending_facts
    from levier.workspace import create_workspace, open_workspace

    ws = create_workspace(tmp_path / "ws")
    _publish(ws)
    ws.close()
    w1, w2 = open_workspace(tmp_path / "ws", read_only=True), open_workspace(tmp_path / "ws", read_only=True)
    try:
        a, b = LiveExperiments(w1, workers=2), LiveExperiments(w2, workers=2)
        b.variant(KEY, "v0")
        first = a.variant(KEY, "v1")
        again = b.variant(KEY, "v1")  # b's cache predates a's row: it reads the queued rows
        assert first.new and not again.new and again.variant == first.variant
        b.record_event(KEY, "v1", "conversion")
        queued = pending_facts(w1, "assignments", experiment_key=KEY)
        assert sorted(r["unit_id"] for r in queued) == ["v0", "v1"]
    finally:
        w1.close()
        w2.close()
    with open_workspace(tmp_path / "ws") as ws:
        assert flush_inbox(ws).rows == {"assignments": 2, "web_events": 1}
        # two workers answering the same new unit at once may both store it: the first row counts
        other = "treatment" if first.variant == "control" else "control"
        insert_frames(ws.facts, {"assignments": [{"experiment_key": KEY, "unit_id": "v1", "variant": other,
                                                  "assigned_at": datetime(2099, 1, 1), "_row_id": 99}]})
        assert existing_assignments(ws, KEY)["v1"] == first.variant
        data = collect_statistics(ws.tables, KEY, [MetricSpec(name="conv", kind="web", outcomes=("conversion",))],
                                  ["control", "treatment"], unit="visitor")
        assert sum(data.units().values()) == 2  # v0 and v1, once each
        assert data.stat("conv", first.variant).sum == 1
        assert sum(s.sum for arm in data.arms if (s := data.stat("conv", arm)) is not None) == 1
