"""KPI registry API: roles, validation errors in the one JSON error shape, targets, dashboards, alerts."""

from __future__ import annotations

from datetime import datetime as dt

from tests.web.conftest import api  # noqa: F401  (fixture)


def test_registry_api(api) -> None:  # noqa: ANN001, F811
    assert any(k["key"] == "conversion_rate" for k in api.call("GET", "/kpi", "viewer").json())
    body = {"key": "replies", "formula": "count(touches, outcome == 'replied')", "owner": "editor", "kind": "impact"}
    assert api.call("POST", "/kpi", "viewer", json=body).status_code == 403
    r = api.call("POST", "/kpi", "editor", json=body)
    assert r.status_code == 201 and r.json()["owner"] == "editor"
    bad = api.call("POST", "/kpi", "editor", json={**body, "key": "x", "formula": "sum(deals.amout)"})
    assert bad.status_code == 422 and "unknown column 'amout'" in bad.json()["error"]["message"]
    two = api.call("PATCH", "/kpi/replies", "editor", json={"owner": ["editor", "viewer"]})
    assert two.status_code == 409 and "exactly one owner" in two.json()["error"]["message"]
    t = api.call("POST", "/kpi/replies/targets", "editor", json={"value": 40, "deadline": "2026-12-31", "baseline": 10})
    assert t.status_code == 201 and api.call("GET", "/kpi/replies/targets", "viewer").json()[0]["value"] == 40
    assert api.call("POST", "/kpi/win_rate/north-star", "editor").json()["north_star"] is True
    assert api.call("GET", "/kpi/north-star", "viewer").json()["key"] == "win_rate"
    d = api.call("POST", "/kpi/dashboards", "editor", json={"name": "ceo board", "role": "ceo", "kpis": []})
    assert d.status_code == 201 and d.json()["warnings"] == []
    assert api.call("GET", "/kpi/alerts", "viewer").json() == []
    okr = api.call("POST", "/kpi/objectives", "editor", json={"title": "More replies", "key_results": [
        {"kpi": "replies", "value": 30, "deadline": "2026-12-31", "baseline": 5},
        {"kpi": "win_rate", "value": 0.3, "deadline": "2026-12-31"}]})
    assert okr.status_code == 201 and len(okr.json()["key_results"]) == 2


def test_series_get_reads_stored_points_and_post_refreshes(api) -> None:  # noqa: ANN001, F811
    import sqlalchemy as sa
    from tests.kpi.test_timeseries import days

    from levier.kpi.models import KpiPoint, KpiSeriesState

    days(api.ws, dt(2026, 9, 1), 21, batch=1)
    q = {"grain": "week", "start": "2026-09-07", "end": "2026-09-21"}
    got = api.call("GET", "/kpi/lead/series", "viewer", params=q)
    assert got.status_code == 200 and got.json()["points"] == [] and got.json()["refreshed_at"] is None and got.json()["stale"] is True
    with api.ws.session() as s:  # the GET wrote nothing
        assert s.scalar(sa.select(sa.func.count()).select_from(KpiPoint)) == 0
        assert s.scalar(sa.select(sa.func.count()).select_from(KpiSeriesState)) == 0
    assert api.call("POST", "/kpi/lead/series/refresh", "viewer", params=q).status_code == 403
    ref = api.call("POST", "/kpi/lead/series/refresh", "editor", params=q).json()
    assert [p["value"] for p in ref["points"]] == [45.0, 46.0] and ref["recomputed"] == 2 and ref["stale"] is False
    again = api.call("GET", "/kpi/lead/series", "viewer", params=q).json()
    assert again["points"] == ref["points"] and again["refreshed_at"] == ref["refreshed_at"] and again["stale"] is False
    days(api.ws, dt(2026, 9, 22), 1, batch=2)  # new facts: the stored series says it is stale
    assert api.call("GET", "/kpi/lead/series", "viewer", params=q).json()["stale"] is True
