"""Journeys, attribution, funnel and marketing KPIs: the same numbers on DuckDB and PySpark."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from tests.parity.conftest import assert_parity

from levier.analysis.attribution import (
    JourneyOptions,
    attribute,
    channel_value,
    path_counts,
    set_counts,
    spend_by_channel,
    time_to_conversion,
)
from levier.analysis.funnel import funnel
from levier.analysis.kpis import compute_kpis
from levier.analysis.marketing import pipeline_velocity, retention, sales_cycle, web_funnel

UTMS = [("google", "cpc", None), ("linkedin", "paid_social", None), ("brevo", "email", None), (None, None, "www.google.com"),
        (None, None, "blog.example.org"), (None, None, None)]
OCT, NOV = datetime(2026, 10, 1), datetime(2026, 11, 1)


def _frames(seed: int = 5) -> dict[str, list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 9, 1)
    leads, stages, touches, web, deals, orders = [], [], [], [], [], []
    n_ev = 0
    for v in range(60):
        lead = f"L{v:03d}" if v % 2 == 0 else None
        at = t0 + timedelta(days=int(rng.integers(0, 50)), minutes=int(rng.integers(0, 600)))
        for _s in range(int(rng.integers(1, 5))):
            src, med, ref = UTMS[int(rng.integers(0, len(UTMS)))]
            web.append(dict(event_id=f"E{n_ev:05d}", anonymous_id=f"a{v}", at=at, type="page_view", utm_source=src,
                            utm_medium=med, referrer=ref, page="/"))
            n_ev += 1
            if rng.random() < 0.5:
                web.append(dict(event_id=f"E{n_ev:05d}", anonymous_id=f"a{v}", at=at + timedelta(minutes=2), type="page_view", page="/x"))
                n_ev += 1
            at += timedelta(days=int(rng.integers(1, 6)), minutes=int(rng.integers(0, 300)))
        if lead:
            web.append(dict(event_id=f"E{n_ev:05d}", anonymous_id=f"a{v}", at=at, type="form_start", page="/f"))
            web.append(dict(event_id=f"E{n_ev + 1:05d}", anonymous_id=f"a{v}", at=at + timedelta(minutes=3), type="form_submit", page="/f", lead_id=lead))
            n_ev += 2
            created = at + timedelta(minutes=3)
            leads.append(dict(lead_id=lead, created_at=created, channel=["inbound", "outbound"][v % 4 // 2], company_size="smb"))
            stages.append(dict(lead_id=lead, stage="lead", at=created))
            for k in range(int(rng.integers(0, 4))):
                touches.append(dict(touch_id=f"T{v:03d}{k}", lead_id=lead, at=created + timedelta(days=k + 1, hours=3),
                                    channel=["email", "call"][k % 2], direction="out", outcome="delivered"))
            if v % 3 != 1:
                stages.append(dict(lead_id=lead, stage="mql", at=created + timedelta(days=2, minutes=v)))
            if v % 3 == 0:
                stages.append(dict(lead_id=lead, stage="opportunity", at=created + timedelta(days=6, hours=v % 7)))
                closed = created + timedelta(days=20 + v % 9)
                deals.append(dict(deal_id=f"D{v:03d}", lead_id=lead, created_at=created + timedelta(days=6), amount=float(1000 + 37 * v),
                                  won=v % 4 == 0, closed_at=closed if v % 5 else None))
                if v % 4 == 0:
                    for m in range(3):
                        orders.append(dict(order_id=f"O{v}{m}", account_id=f"A{v}", at=closed + timedelta(days=30 * m), amount=100.0 + v))
    spend = [dict(date=date(2026, 9, 1) + timedelta(days=d), source=s, campaign_id="c", cost=float(5 + d % 3))
             for d in range(61) for s in ("google_ads", "linkedin_ads", "brevo")]
    return {"leads": leads, "stage_events": stages, "touches": touches, "web_events": web, "deals": deals,
            "orders": orders, "spend": spend}


@pytest.fixture(scope="module")
def pair(parity_pair):  # noqa: ANN001, ANN201
    p = parity_pair(_frames())
    yield p
    p.duck.close()


def _paths(pc: Any) -> list[Any]:
    return sorted((">".join(p), float(c), float(n), float(v)) for p, c, n, v in zip(pc.paths, pc.conversions, pc.nulls, pc.value, strict=False))


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_journeys_parity(pair) -> None:  # noqa: ANN001
    opts = JourneyOptions(lookback_days=30)
    a, _ = assert_parity(pair, lambda ws: {"paths": _paths(path_counts(ws, opts)), "sets": _paths(set_counts(ws, opts)),
                                           "lead": _paths(path_counts(ws, JourneyOptions(conversion_stage="lead", sources=("web",)))),
                                           "ttc": time_to_conversion(ws, opts).to_dict()})
    assert len(a["paths"]) > 5 and any(c > 0 for _p, c, _n, _v in a["paths"])


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_attribution_parity(pair) -> None:  # noqa: ANN001
    models = ["first", "last_non_direct", "time_decay", "position", "markov", "shapley"]
    assert_parity(pair, lambda ws: attribute(ws, models, options=JourneyOptions(start=OCT, end=NOV), order=2).to_dict())


def _rows(df: Any) -> list[Any]:
    rows = [tuple(None if v is None or v != v else (float(v) if isinstance(v, (int, float, np.number)) else v) for v in r)
            for r in df.itertuples(index=False)]
    return sorted(rows, key=lambda r: [("" if v is None else str(v)) if not isinstance(v, float) else "" for v in r])


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_engine_aggregates_parity(pair) -> None:  # noqa: ANN001
    """The per-state / per-channel aggregates that replace path strings on the driver."""
    from levier.analysis.attribution.engine import first_touch_counts, top_paths, transition_counts

    opts = JourneyOptions(lookback_days=30)
    a, _ = assert_parity(pair, lambda ws: {"t3": _rows(transition_counts(ws, opts, 3)), "top": _rows(top_paths(ws, opts, 5)),
                                           "first": _paths(first_touch_counts(ws, opts)),
                                           "ordered": attribute(ws, ["shapley", "last_non_direct"], options=opts,
                                                                ordered_shapley=True).to_dict()})
    assert len(a["t3"]) > 10 and len(a["top"]) == 5


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_funnel_and_marketing_parity(pair) -> None:  # noqa: ANN001
    def run(ws: Any) -> dict[str, Any]:
        return {"funnel": funnel(ws, start=datetime(2026, 9, 1), end=NOV, segment_by=["channel"]).to_dict(),
                "web": web_funnel(ws, OCT, NOV).to_dict(), "cycle": sales_cycle(ws).to_dict(),
                "velocity": pipeline_velocity(ws, OCT, NOV).to_dict(), "retention": retention(ws, None, datetime(2027, 1, 1)).to_dict(),
                "kpis": [v.to_dict() for v in compute_kpis(ws, OCT, NOV, ("conversion_rate", "mql_to_sql_rate", "cpl", "roas", "ttf_hours"))]}

    a, _ = assert_parity(pair, run)
    assert a["funnel"]["overall"]["steps"][1]["reached"] > 0


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_marketing_view_parity(pair) -> None:  # noqa: ANN001
    """The marketing view: CPL, CPLQ, CAC, ROAS, ROMI per channel (and per channel/campaign)."""
    opts = JourneyOptions(start=datetime(2026, 9, 1), end=NOV)

    def run(ws: Any) -> dict[str, Any]:
        return {"channel": channel_value(ws, ("last", "markov"), options=opts,
                                         qualified_stage="mql", customer_stage="opportunity").to_dict(),
                "campaign": spend_by_channel(ws, replace(opts, level="campaign")),
                "spend": spend_by_channel(ws, replace(opts, start=OCT))}

    a, _ = assert_parity(pair, run)
    # spend: Sept + Oct, days 0..60 of 5 + d % 3 per source (61 days from 2026-09-01, NOV excluded)
    per_source = sum(5.0 + d % 3 for d in range(61))
    rows = {(r["model"], r["channel"]): r for r in a["channel"]["rows"]}
    assert per_source == 365.0
    assert {ch: r["spend"] for (m, ch), r in rows.items() if m == "last" and r["spend"]} == {
        "paid_search": 365.0, "paid_social": 365.0, "email": 365.0}
    assert a["spend"] == {"paid_search": 185.0, "paid_social": 185.0, "email": 185.0}  # October only
    social = rows[("last", "paid_social")]
    assert (social["leads"], social["customers"], social["revenue"]) == (9.0, 2.0, 3332.0)
    assert social["romi"] == pytest.approx((3332.0 - 365.0) / 365.0, rel=1e-12)
    assert a["campaign"] == {"paid_search/c": 365.0, "paid_social/c": 365.0, "email/c": 365.0}
