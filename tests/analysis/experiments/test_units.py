"""Account and visitor randomisation units in the engine: hand-worked tables, refusals, equivalence."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from levier.analysis.experiments import MetricSpec, assign_batch, collect_statistics, read_out
from levier.analysis.experiments.metrics import default_metrics
from levier.analysis.experiments.statistics import (
    ProportionStatistic,
    RatioStatistic,
    SampleMeanStatistic,
)
from levier.data._frames import insert_frames
from levier.errors import OptionError
from levier.i18n import use_language
from levier.workspace import create_workspace

T0 = datetime(2026, 10, 1)
ARMS = ["control", "treatment"]


def _ws(tmp_path: Path, frames: dict[str, list[dict[str, Any]]]) -> Any:
    ws = create_workspace(tmp_path / "ws")
    insert_frames(ws.facts, frames)
    return ws


def _d(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026 if month >= 9 else 2027, month, day, hour)


# -- accounts ----------------------------------------------------------------------------------
def _lead(lid: str, acc: str | None, created: datetime, size: str, score: float | None) -> dict[str, Any]:
    return dict(lead_id=lid, account_id=acc, created_at=created, company_size=size, score=score, channel="inbound")


ACCOUNT_FRAMES: dict[str, list[dict[str, Any]]] = {
    "leads": [_lead("L1", "A1", _d(9, 1), "smb", 40), _lead("L2", "A1", _d(9, 10), "mid", 60),
              _lead("L3", "A2", _d(9, 5), "mid", 50),
              _lead("L4", "A3", _d(9, 2), "smb", 80), _lead("L5", "A3", _d(9, 3), "mid", 20),
              _lead("L6", "A3", _d(10, 20), "mid", 99),  # created after the assignment
              _lead("L7", "A4", _d(9, 1), "mid", 10), _lead("L8", "A5", _d(9, 1), "enterprise", None),
              _lead("L9", None, _d(9, 1), "smb", 10)],
    "assignments": [dict(experiment_key="abm", unit_id=u, variant=v, assigned_at=T0)
                    for u, v in [("A1", "control"), ("A2", "control"), ("A3", "treatment"), ("A4", "treatment"),
                                 ("A5", "treatment")]]
    + [dict(experiment_key="abm", unit_id="A2", variant="treatment", assigned_at=_d(10, 2)),  # duplicate: ignored
       dict(experiment_key="other", unit_id="A1", variant="treatment", assigned_at=T0)],
    "stage_events": [dict(lead_id="L1", stage="opportunity", at=_d(10, 5)),
                     dict(lead_id="L2", stage="opportunity", at=_d(10, 10)),
                     dict(lead_id="L4", stage="opportunity", at=_d(10, 15)),
                     dict(lead_id="L5", stage="sql", at=_d(10, 15)),
                     dict(lead_id="L6", stage="opportunity", at=_d(10, 25)),
                     dict(lead_id="L7", stage="opportunity", at=_d(12, 1)),  # after the 30-day window
                     dict(lead_id="L8", stage="opportunity", at=_d(10, 2)),
                     dict(lead_id="L9", stage="opportunity", at=_d(10, 2))],  # no account
    "deals": [dict(deal_id="D1", lead_id="L1", account_id="A1", created_at=_d(10, 6), won=True, closed_at=_d(10, 20), amount=1000.0),
              dict(deal_id="D2", lead_id=None, account_id="A3", created_at=_d(10, 6), won=True, closed_at=_d(11, 1), amount=500.0),
              dict(deal_id="D3", lead_id="L7", account_id=None, created_at=_d(10, 6), won=True, closed_at=_d(10, 10), amount=300.0),
              dict(deal_id="D4", lead_id="L8", account_id="A5", created_at=_d(10, 6), won=False, closed_at=_d(10, 10), amount=999.0),
              dict(deal_id="D5", lead_id=None, account_id="A3", created_at=_d(10, 6), won=True, closed_at=_d(3, 1), amount=200.0)],
    "touches": [dict(touch_id=f"T{i}", lead_id=lid, at=at, channel="email", direction=d, outcome=o)
                for i, (lid, at, d, o) in enumerate([
                    ("L1", _d(10, 2), "out", "delivered"), ("L1", _d(10, 3), "out", "complaint"),
                    ("L2", _d(10, 4), "out", "delivered"), ("L3", _d(10, 2), "out", "delivered"),
                    ("L4", _d(10, 2), "out", "delivered"), ("L4", _d(10, 3), "in", "replied"),
                    ("L5", _d(10, 5), "out", "complaint"), ("L7", _d(9, 20), "out", "delivered")])],
}

CONV = MetricSpec(name="conversion", kind="conversion", stage="opportunity", window_days=30)
CONV_LEAD = CONV.model_copy(update={"name": "lead_conversion", "per": "lead"})
REVENUE = MetricSpec(name="revenue", kind="revenue", window_days=90)
COMPLAINTS = MetricSpec(name="complaint_rate", kind="ratio", outcomes=("complaint",), direction_filter="out", direction="lower")
REPLIED = MetricSpec(name="replied", kind="any", outcomes=("replied",))
CUPED = CONV.model_copy(update={"name": "conv_score", "covariate": "score"})
PRE = MetricSpec(name="touches_out", kind="count", direction_filter="out", covariate="pre_touches")


@pytest.fixture(scope="module")
def account_data(tmp_path_factory: pytest.TempPathFactory) -> Any:
    ws = _ws(tmp_path_factory.mktemp("acc"), ACCOUNT_FRAMES)
    data = collect_statistics(ws.tables, "abm", [CONV, CONV_LEAD, REVENUE, COMPLAINTS, REPLIED, CUPED, PRE], ARMS,
                              dimensions=["company_size"], unit="account")
    yield data
    ws.close()


def test_account_metrics_by_hand(account_data: Any) -> None:
    d = account_data
    assert d.unit == "account" and d.units() == {"control": 2.0, "treatment": 3.0}  # the duplicate A2 row is ignored
    # converted if any lead of the account reached opportunity within 30 days of the assignment
    assert d.stat("conversion", "control") == ProportionStatistic(2, 1)      # A1 yes, A2 no
    assert d.stat("conversion", "treatment") == ProportionStatistic(3, 2)    # A3, A5 yes; A4 too late
    # won revenue per account in 90 days: deals by account_id, or by their lead's account
    assert d.stat("revenue", "control") == SampleMeanStatistic(2, 1000.0, 1e6)
    assert d.stat("revenue", "treatment") == SampleMeanStatistic(3, 800.0, 500.0**2 + 300.0**2)
    assert d.stat("replied", "treatment") == ProportionStatistic(3, 1)


def test_lead_level_kpi_is_a_cluster_ratio(account_data: Any) -> None:
    # converted leads / leads created before the window's end, per account: A1 2/2, A2 0/1 | A3 2/3, A4 0/1, A5 1/1
    c, t = account_data.stat("lead_conversion", "control"), account_data.stat("lead_conversion", "treatment")
    assert c == RatioStatistic(2, SampleMeanStatistic(2, 2, 4), SampleMeanStatistic(2, 3, 5), 4)
    assert t == RatioStatistic(3, SampleMeanStatistic(3, 3, 5), SampleMeanStatistic(3, 5, 11), 7)
    # the delta-method variance is the cluster-robust (linearised) variance: var(m - R d) / mean(d)²
    m, dd = np.array([2.0, 0, 1]), np.array([3.0, 1, 1])
    r = m.sum() / dd.sum()
    assert t.mean == pytest.approx(0.6) and t.variance == pytest.approx(np.var(m - r * dd, ddof=1) / dd.mean() ** 2)
    # complaints per outbound touch, summed per account: A1 1/3, A2 0/1 | A3 1/2, A4 0/0, A5 0/0
    assert account_data.stat("complaint_rate", "control") == RatioStatistic(
        2, SampleMeanStatistic(2, 1, 1), SampleMeanStatistic(2, 4, 10), 3)
    assert account_data.stat("complaint_rate", "treatment") == RatioStatistic(
        3, SampleMeanStatistic(3, 1, 1), SampleMeanStatistic(3, 2, 4), 2)


def test_account_covariates_and_breakdowns(account_data: Any) -> None:
    # score: mean over the account's leads created before its assignment (A3: L4 80, L5 20; L6 is later)
    s = account_data.stat("conv_score", "treatment")
    assert (s.pre.sum, s.pre.sum_squares) == (50.0 + 10.0 + 0.0, 2500.0 + 100.0)
    assert account_data.stat("conv_score", "control").pre.sum == 100.0
    # touches in the 30 days before the assignment: A4's touch of 20 September
    assert account_data.stat("touches_out", "treatment").pre.sum == 1.0
    assert account_data.stat("touches_out", "treatment").post.sum == 2.0  # A3: L4 and L5 outbound in the window
    # breakdown values come from the account's first lead
    sizes = {(arm, v): account_data.stat("conversion", arm, "company_size", v).n
             for arm in ARMS for v in account_data.breakdowns()["company_size"]
             if account_data.stat("conversion", arm, "company_size", v) is not None}
    assert sizes == {("control", "smb"): 1, ("control", "mid"): 1, ("treatment", "smb"): 1,
                     ("treatment", "mid"): 1, ("treatment", "enterprise"): 1}
    res = read_out(account_data)
    assert {e.metric for e in res.effects} >= {"conversion", "lead_conversion"}


# -- visitors ----------------------------------------------------------------------------------
def _web(eid: str, anon: str, at: datetime, typ: str, variant: str | None, lead: str | None = None,
         utm: str | None = None) -> dict[str, Any]:
    return dict(event_id=eid, anonymous_id=anon, lead_id=lead, at=at, type=typ, variant=variant, utm_source=utm)


VISITOR_FRAMES: dict[str, list[dict[str, Any]]] = {
    "leads": [_lead("L1", None, _d(10, 1, 12), "smb", 1), _lead("L3", None, _d(10, 1, 12), "smb", 1),
              _lead("L5", None, _d(10, 4), "smb", 1)],
    "assignments": [dict(experiment_key="hero", unit_id=u, variant=v, assigned_at=_d(10, 1, 10))
                    for u, v in [("V1", "control"), ("V2", "control"), ("V3", "treatment"), ("V4", "treatment")]]
    + [dict(experiment_key="hero", unit_id="V2", variant="treatment", assigned_at=_d(10, 1, 11))],  # duplicate
    "web_events": [
        _web("e1", "V1", _d(9, 30), "page_view", None, utm="google"),
        _web("e2", "V1", _d(10, 1, 10), "exposure", "hero/control"),
        _web("e3", "V1", _d(10, 1, 12), "conversion", "hero/control", lead="L1"),
        _web("e4", "V2", _d(10, 1, 10), "exposure", "hero/control"),
        _web("e5", "V3", _d(10, 1, 10), "exposure", "hero/treatment", utm="newsletter"),
        _web("e6", "V3", _d(10, 1, 12), "conversion", "hero/treatment", lead="L3"),
        _web("e7", "V4", _d(10, 1, 10), "conversion", "other/b"),  # another experiment's event
        _web("e8", "V4", _d(10, 1, 10), "exposure", "hero/treatment"),
        _web("e9", "V4", _d(10, 2), "exposure", "hero/treatment"),
        _web("e10", "V5", _d(10, 3), "exposure", "hero/treatment"),  # no assignment row: a unit by its tag
        _web("e11", "V5", _d(10, 4), "conversion", "hero/treatment", lead="L5"),
    ],
    "stage_events": [dict(lead_id="L1", stage="opportunity", at=_d(10, 10)),
                     dict(lead_id="L5", stage="opportunity", at=_d(10, 20))],
}

WEB_CONV = MetricSpec(name="form_conversion", kind="web", outcomes=("conversion",))
EXPOSURES = MetricSpec(name="exposures", kind="web_count", outcomes=("exposure",))


@pytest.fixture(scope="module")
def visitor_ws(tmp_path_factory: pytest.TempPathFactory) -> Any:
    ws = _ws(tmp_path_factory.mktemp("vis"), VISITOR_FRAMES)
    yield ws
    ws.close()


def test_visitor_metrics_by_hand(visitor_ws: Any) -> None:
    ws = visitor_ws
    data = collect_statistics(ws.tables, "hero", [WEB_CONV, EXPOSURES, CONV], ARMS, dimensions=["utm_source"],
                              unit="visitor")
    assert data.units() == {"control": 2.0, "treatment": 3.0}
    assert data.stat("form_conversion", "control") == ProportionStatistic(2, 1)    # V1
    assert data.stat("form_conversion", "treatment") == ProportionStatistic(3, 2)  # V3, V5 (V4's is another test's)
    assert data.stat("exposures", "treatment") == SampleMeanStatistic(3, 4, 6)     # 1, 2, 1
    # a lead-level KPI through the stitched lead, over every assigned visitor
    assert data.stat("conversion", "control") == ProportionStatistic(2, 1)         # V1 → L1
    assert data.stat("conversion", "treatment") == ProportionStatistic(3, 1)       # V5 → L5; L3 never converted
    assert data.stat("conversion", "control", "utm_source", "google").n == 1
    assert data.stat("conversion", "treatment", "utm_source", "newsletter").n == 1
    assert data.stat("conversion", "treatment", "utm_source", "(none)").n == 2


@pytest.mark.parametrize(("metric", "dims", "match"), [
    (CONV, ["channel"], "Breakdown 'channel' is not available for visitor units"),
    (CUPED, [], "CUPED covariate is not available for visitor units"),
    (CONV_LEAD, [], "per: lead is not available for visitor units"),
])
def test_visitor_refusals(visitor_ws: Any, metric: MetricSpec, dims: list[str], match: str) -> None:
    ws = visitor_ws
    with use_language("en"), pytest.raises(OptionError, match=match):
        collect_statistics(ws.tables, "hero", [metric], ARMS, dimensions=dims, unit="visitor")
    with use_language("en"), pytest.raises(OptionError, match="Unknown randomisation unit"):
        collect_statistics(ws.tables, "hero", [CONV], ARMS, unit="household")


# -- one lead per account: the account analysis is the lead analysis ----------------------------
def _one_lead_frames(n: int = 150, seed: int = 5) -> dict[str, list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    ids = [f"L{i:03d}" for i in range(n)]
    variants = assign_batch("solo", ids, ARMS)
    leads, asg, touches, stages, deals = [], [], [], [], []
    for i, lead in enumerate(ids):
        at = T0 + timedelta(hours=int(rng.integers(0, 500)))
        leads.append(dict(lead_id=lead, account_id=f"A{lead}", created_at=at - timedelta(days=3),
                          company_size=["smb", "mid"][i % 2], score=float(rng.integers(0, 100))))
        asg.append(dict(experiment_key="solo", unit_id=lead, variant=variants[lead], assigned_at=at))
        asg.append(dict(experiment_key="solo-acc", unit_id=f"A{lead}", variant=variants[lead], assigned_at=at))
        for j in range(int(rng.integers(0, 6))):
            touches.append(dict(touch_id=f"T{i}-{j}", lead_id=lead, at=at + timedelta(days=int(rng.integers(-20, 40))),
                                channel="email", direction=["out", "in"][j % 2],
                                outcome=["delivered", "complaint", "replied"][int(rng.integers(0, 3))]))
        if rng.random() < 0.3:
            stages.append(dict(lead_id=lead, stage="opportunity", at=at + timedelta(days=int(rng.integers(0, 40)))))
            deals.append(dict(deal_id=f"D{i}", lead_id=lead, account_id=f"A{lead}", created_at=at, won=True,
                              closed_at=at + timedelta(days=int(rng.integers(1, 120))), amount=float(rng.integers(1, 9)) * 100))
    return {"leads": leads, "assignments": asg, "touches": touches, "stage_events": stages, "deals": deals}


def test_one_lead_per_account_equals_lead_analysis(tmp_path: Path) -> None:
    ws = _ws(tmp_path, _one_lead_frames())
    primary, secondary, guardrails = default_metrics()
    metrics = [primary, *secondary, *guardrails, REPLIED, CUPED, PRE]
    lead = collect_statistics(ws.tables, "solo", metrics, ARMS, dimensions=["company_size"])
    acc = collect_statistics(ws.tables, "solo-acc", metrics, ARMS, dimensions=["company_size"], unit="account")
    assert lead.cells == acc.cells and len(lead.cells) == len(metrics) * 2 * 3
    assert read_out(lead).to_dict()["effects"] == read_out(acc).to_dict()["effects"]
    # per: lead under account randomisation with one lead each: a ratio with denominator 1, same mean and variance
    lead_conv = CONV.model_copy(update={"per": "lead", "name": "conversion"})
    per = collect_statistics(ws.tables, "solo-acc", [lead_conv], ARMS, unit="account")
    for arm in ARMS:
        r, p = per.stat("conversion", arm), lead.stat("conversion", arm)
        assert isinstance(r, RatioStatistic) and r.d.sum == r.n
        assert r.mean == pytest.approx(p.mean) and r.variance == pytest.approx(p.sum * (p.n - p.sum) / p.n / (p.n - 1))
    ws.close()


def test_daily_traffic_counts_new_units_of_each_kind(account_data: Any, visitor_ws: Any, tmp_path: Path) -> None:
    from levier.analysis.experiments.storage import daily_traffic

    ws = _ws(tmp_path, ACCOUNT_FRAMES)
    # last lead 20 October; the 28 days before: L6 (new lead of the known account A3) only
    assert daily_traffic(ws, unit="lead") == pytest.approx(1 / 28)
    assert daily_traffic(ws, unit="account") is None  # every account's first lead is older
    assert daily_traffic(ws, unit="account", days=60) == pytest.approx(5 / 60)  # A1..A5 first seen in September
    assert daily_traffic(visitor_ws, unit="visitor", days=7) == pytest.approx(5 / 7)
    ws.close()
