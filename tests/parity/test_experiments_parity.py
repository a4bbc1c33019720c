"""Experiments on DuckDB and PySpark: the same assignments give the same sufficient statistics."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from levier.analysis.experiments import MetricSpec, assign_batch, collect_statistics
from levier.analysis.experiments.metrics import default_metrics
from levier.analysis.experiments.storage import (
    daily_traffic,
    eligible_leads,
    existing_assignments,
    lead_exclusions,
)

KEY = "parity-exp"
ARMS = ["control", "short", "long"]


def _frames(n: int = 120, seed: int = 11) -> dict[str, list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 9, 1)
    ids = [f"L{i:03d}" for i in range(n)]
    variants = assign_batch(KEY, ids, ARMS, [2, 1, 1])
    leads, asg, touches, stages, deals = [], [], [], [], []
    for i, lead in enumerate(ids):
        created = t0 + timedelta(hours=int(rng.integers(0, 24 * 20)))
        at = created + timedelta(minutes=5)
        leads.append(dict(lead_id=lead, created_at=created, channel=["inbound", "outbound", "partner"][i % 3],
                          company_size=["smb", "mid", None][i % 3], score=float(rng.integers(0, 101))))
        asg.append(dict(experiment_key=KEY, unit_id=lead, variant=variants[lead], assigned_at=at))
        for j in range(int(rng.integers(0, 9))):
            when = at + timedelta(days=int(rng.integers(-20, 40)), seconds=int(rng.integers(0, 86400)))
            outcome = ["delivered", "opened", "complaint", "unsubscribed", "bounced", "replied"][int(rng.integers(0, 6))]
            touches.append(dict(touch_id=f"T{i:03d}{j}", lead_id=lead, at=when, channel="email",
                                direction=["out", "in"][j % 2], outcome=outcome))
        if rng.random() < 0.3 + 0.1 * (variants[lead] == "short"):
            stages.append(dict(lead_id=lead, stage="opportunity", at=at + timedelta(days=int(rng.integers(1, 45)))))
            if rng.random() < 0.5:
                deals.append(dict(deal_id=f"D{i:03d}", lead_id=lead, created_at=at + timedelta(days=2), won=True,
                                  closed_at=at + timedelta(days=int(rng.integers(5, 120))),
                                  amount=float(rng.integers(1, 50)) * 100.0))
    # a unit assigned to another experiment and an orphan assignment (no lead row)
    asg.append(dict(experiment_key="other", unit_id="L000", variant="x", assigned_at=t0))
    asg.append(dict(experiment_key=KEY, unit_id="ghost", variant="long", assigned_at=t0))
    return {"leads": leads, "assignments": asg, "touches": touches, "stage_events": stages, "deals": deals}


def _metrics() -> list[MetricSpec]:
    primary, secondary, guardrails = default_metrics()
    revenue = secondary[0].model_copy(update={"name": "revenue_capped", "cap_quantile": None, "cap": 2500.0})
    extra = [
        MetricSpec(name="replied", kind="any", outcomes=("replied",), window_days=30),
        MetricSpec(name="touches_out", kind="count", direction_filter="out", window_days=30, covariate="pre_touches"),
        MetricSpec(name="conversion_cuped", kind="conversion", stage="opportunity", covariate="score"),
    ]
    return [primary, revenue, secondary[0], *guardrails, *extra]  # secondary[0]: winsorised at its 99th percentile


def _cells(ws: Any) -> dict[str, Any]:
    data = collect_statistics(ws.tables, KEY, _metrics(), ARMS, dimensions=["channel", "company_size"])
    out = data.to_dict()
    out["cells"] = {f"{c['metric']}|{c['dimension']}|{c['value']}|{c['arm']}": c["statistic"] for c in out["cells"]}
    return out


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_collect_statistics_parity(parity_pair, parity_check) -> None:  # noqa: ANN001
    pair = parity_pair(_frames())
    duck, spark = parity_check(_cells, pair)
    assert duck["arms"] == ARMS
    n = {arm: duck["cells"][f"conversion|||{arm}"]["n"] for arm in ARMS}
    variants = assign_batch(KEY, [f"L{i:03d}" for i in range(120)], ARMS, [2, 1, 1])
    expected = {arm: sum(v == arm for v in variants.values()) for arm in ARMS}
    expected["long"] += 1  # the orphan assignment is a unit too (no lead row: dimensions "(none)")
    assert n == expected
    # overall + 3 channels + 3 sizes per arm, + the orphan's "(none)" channel in arm long
    assert len(duck["cells"]) == len(_metrics()) * (len(ARMS) * (1 + 3 + 3) + 1)
    # the stored assignments themselves read back identically
    a, b = pair.run(lambda ws: existing_assignments(ws, KEY))
    assert a == b and len(a) == 121



@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_experiment_readers_parity(parity_check) -> None:  # noqa: ANN001
    """What an experiment reads from the facts before any statistic: eligible units, exclusions, traffic."""
    def run(ws: Any) -> dict[str, Any]:
        return {"eligible": sorted(eligible_leads(ws, since=datetime(2026, 8, 10), until=datetime(2026, 9, 1))),
                "excluded": lead_exclusions(ws), "traffic": daily_traffic(ws, days=14)}

    duck, _spark = parity_check(run)
    assert len(duck["eligible"]) == 44  # two leads a day from 2026-08-10 to 2026-08-31
    assert duck["excluded"] == {"L000": "opted_out", "L017": "opted_out", "L025": "vip", "L034": "opted_out",
                                "L050": "vip", "L051": "opted_out", "L068": "opted_out", "L075": "vip"}
    assert duck["traffic"] == 2.0  # 28 leads created in the last 14 days of data


def _account_frames() -> dict[str, list[dict[str, Any]]]:
    """The lead frames grouped three leads per account, randomised by account (plus a duplicate row)."""
    frames = _frames(n=60, seed=5)
    for lead in frames["leads"]:
        lead["account_id"] = f"A{int(lead['lead_id'][1:]) // 3:02d}"
    accounts = sorted({lead["account_id"] for lead in frames["leads"]})
    variants = assign_batch("acc-exp", accounts, ARMS[:2])
    t0 = datetime(2026, 9, 10)
    frames["assignments"] = [dict(experiment_key="acc-exp", unit_id=a, variant=variants[a], assigned_at=t0) for a in accounts]
    frames["assignments"].append(dict(experiment_key="acc-exp", unit_id="A00", variant="x", assigned_at=t0 + timedelta(days=1)))
    return frames


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
def test_account_unit_statistics_parity(parity_pair, parity_check) -> None:  # noqa: ANN001
    primary, secondary, guardrails = default_metrics()
    metrics = [primary, primary.model_copy(update={"name": "lead_conversion", "per": "lead"}),
               secondary[0].model_copy(update={"cap_quantile": None}), guardrails[0],
               MetricSpec(name="conv_score", kind="conversion", covariate="score")]

    def run(ws: Any) -> Any:
        out = collect_statistics(ws.tables, "acc-exp", metrics, ARMS[:2], dimensions=["channel"], unit="account").to_dict()
        out["cells"] = {f"{c['metric']}|{c['dimension']}|{c['value']}|{c['arm']}": c["statistic"] for c in out["cells"]}
        return out

    duck, _spark = parity_check(run, parity_pair(_account_frames()))
    assert duck["unit"] == "account" and duck["arms"] == ARMS[:2]  # the duplicate "x" row of A00 is ignored
    assert sum(duck["cells"][f"conversion|||{arm}"]["n"] for arm in ARMS[:2]) == 20
    assert duck["cells"]["lead_conversion|||control"]["kind"] == "ratio"
