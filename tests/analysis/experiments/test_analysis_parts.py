"""The engine aggregation by hash parts of the units (decision 0235) equals the single query.

A seeded workspace with lead, account and visitor experiments (duplicated assignments, units
tagged only on web events, leads without account, non-integer amounts and scores, a quantile
cap): the statistics computed in 3 forced hash parts equal those of one query (floats 1e-9),
for every unit kind; the part count is the per-unit values over ``UNIT_CELLS``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from levier.analysis.experiments import MetricSpec, collect_statistics
from levier.analysis.experiments import analysis as engine_analysis
from levier.analysis.experiments.statistics import Statistic
from levier.data._frames import insert_frames
from levier.workspace import create_workspace

T0 = datetime(2026, 10, 1)
ARMS = ["control", "b", "c"]
OUTCOMES = ["delivered", "opened", "replied", "complaint", "bounced"]

TOUCH_METRICS = [
    MetricSpec(name="replies", kind="count", outcomes=("replied",), window_days=14),
    MetricSpec(name="any_reply", kind="any", outcomes=("replied",), window_days=21),
    MetricSpec(name="complaint_rate", kind="ratio", outcomes=("complaint",), direction_filter="out", direction="lower"),
    MetricSpec(name="out_touches", kind="count", direction_filter="out", covariate="pre_touches"),
]
LEAD_METRICS = [
    MetricSpec(name="conversion", kind="conversion", stage="opportunity", window_days=30),
    MetricSpec(name="conv_score", kind="conversion", stage="opportunity", covariate="score"),
    MetricSpec(name="revenue", kind="revenue", window_days=90, cap_quantile=0.9),
    MetricSpec(name="web_conv", kind="web", outcomes=("conversion",)),
]
ACCOUNT_METRICS = [MetricSpec(name="lead_conv", kind="conversion", per="lead"),
                   MetricSpec(name="lead_reply", kind="any", outcomes=("replied",), per="lead")]
VISITOR_METRICS = [MetricSpec(name="form", kind="web", outcomes=("conversion",)),
                   MetricSpec(name="exposures", kind="web_count", outcomes=("exposure",)),
                   MetricSpec(name="conversion", kind="conversion", stage="opportunity")]


def _frames(seed: int = 7) -> dict[str, list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    day = lambda lo, hi: T0 + timedelta(hours=int(rng.integers(lo * 24, hi * 24)))  # noqa: E731
    leads = [dict(lead_id=f"L{i}", account_id=None if i % 9 == 0 else f"A{i % 40}", created_at=day(-60, 20),
                  company_size=["smb", "mid", "enterprise"][i % 3], channel=["inbound", "outbound"][i % 2],
                  score=None if i % 11 == 0 else float(rng.normal(50, 15))) for i in range(300)]
    asg = [dict(experiment_key="exp", unit_id=f"L{i}", variant=ARMS[int(rng.integers(0, 3))], assigned_at=day(0, 3))
           for i in range(280)]
    asg += [dict(experiment_key="exp", unit_id=f"L{i}", variant="c", assigned_at=T0 + timedelta(days=5))
            for i in range(0, 280, 13)]  # later duplicates: ignored
    asg += [dict(experiment_key="acc", unit_id=f"A{i}", variant=ARMS[i % 3], assigned_at=T0) for i in range(40)]
    asg += [dict(experiment_key="vis", unit_id=f"V{i}", variant=ARMS[i % 3], assigned_at=day(0, 2)) for i in range(90)]
    touches = [dict(touch_id=f"T{k}", lead_id=f"L{int(rng.integers(0, 300))}", at=day(-40, 60), channel="email",
                    direction=["out", "in"][int(rng.integers(0, 2))], outcome=OUTCOMES[int(rng.integers(0, 5))])
               for k in range(3000)]
    stages, deals = [], []
    for i in range(300):
        if rng.random() < 0.35:
            stages.append(dict(lead_id=f"L{i}", stage="opportunity", at=day(-5, 50)))
        if rng.random() < 0.25:
            deals.append(dict(deal_id=f"D{i}", lead_id=f"L{i}" if i % 7 else None, account_id=f"A{i % 40}",
                              created_at=day(0, 10), won=bool(rng.random() < 0.7), closed_at=day(0, 100),
                              amount=float(rng.gamma(2.0, 700.0))))
    web = []
    for k in range(1500):
        v = int(rng.integers(0, 120))  # V90..V119 only appear tagged: units by their first tagged event
        tagged = rng.random() < 0.5
        web.append(dict(event_id=f"E{k}", anonymous_id=f"V{v}", at=day(-3, 30),
                        type=["page_view", "exposure", "conversion"][int(rng.integers(0, 3))],
                        lead_id=f"L{v * 2}" if v % 4 == 0 else None, utm_source=["google", "mail", None][v % 3],
                        variant=f"vis/{ARMS[v % 3]}" if tagged else None))
    return {"leads": leads, "assignments": asg, "touches": touches, "stage_events": stages, "deals": deals,
            "web_events": web}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Any:
    w = create_workspace(tmp_path_factory.mktemp("parts") / "ws")
    insert_frames(w.facts, _frames())
    yield w
    w.close()


def _close(a: Any, b: Any) -> bool:
    """Equal structures, numbers within 1e-9 (relative or absolute)."""
    if isinstance(a, Statistic):
        return type(a) is type(b) and _close(a.to_dict(), b.to_dict())
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, float | int) and not isinstance(a, bool) and isinstance(b, float | int):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    return a == b


CASES = [("exp", "lead", TOUCH_METRICS + LEAD_METRICS, ["company_size", "channel"]),
         ("acc", "account", TOUCH_METRICS + LEAD_METRICS[:3] + ACCOUNT_METRICS, ["company_size"]),
         ("vis", "visitor", VISITOR_METRICS, ["utm_source"])]


@pytest.mark.parametrize(("key", "unit", "metrics", "dims"), CASES, ids=[c[1] for c in CASES])
def test_hash_parts_add_up_to_the_single_query(ws: Any, monkeypatch: pytest.MonkeyPatch, key: str, unit: str,
                                               metrics: list[MetricSpec], dims: list[str]) -> None:
    whole = collect_statistics(ws.tables, key, metrics, ARMS, dimensions=dims, unit=unit)
    assert engine_analysis.unit_part_count(ws.tables, key, metrics, unit) == 1
    rows = int(ws.tables["assignments"].filter(ws.tables["assignments"].experiment_key == key).count().execute())
    # per-unit value columns (unit_id, variant and the dimensions aside): what the part count is sized on
    width = len(engine_analysis.unit_table(ws.tables, key, metrics, dims, unit).columns) - 2 - len(dims)
    monkeypatch.setattr(engine_analysis, "UNIT_CELLS", -(-rows * width // 3))
    assert engine_analysis.unit_part_count(ws.tables, key, metrics, unit) == 3
    ticks: list[tuple[int, int]] = []
    parted = collect_statistics(ws.tables, key, metrics, ARMS, dimensions=dims, unit=unit,
                                progress=lambda done, total: ticks.append((done, total)))
    assert parted.cells.keys() == whole.cells.keys() and len(whole.cells) > len(metrics) * len(ARMS)
    diff = [k for k in whole.cells if not _close(whole.cells[k], parted.cells[k])]
    assert diff == []
    assert ticks[-1] == (3 * (1 + len(dims)), 3 * (1 + len(dims))) and len(ticks) == 3 * (1 + len(dims))
    # every unit is counted once: the parts partition the units of each arm
    assert sum(parted.units().values()) == sum(whole.units().values()) > 0


def test_quantile_cap_is_taken_over_every_unit(ws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rev = [MetricSpec(name="revenue", kind="revenue", window_days=90, cap_quantile=0.9)]
    wide = engine_analysis.unit_table(ws.tables, "exp", rev)
    values = wide.execute()["v0"].to_numpy()
    limit = float(np.quantile(values, 0.9))
    assert limit > 0 and (values > limit).any()  # the cap bites
    monkeypatch.setattr(engine_analysis, "UNIT_CELLS", 110)  # 302 assignment rows × 1 value → 3 parts
    assert engine_analysis.unit_part_count(ws.tables, "exp", rev) == 3
    data = collect_statistics(ws.tables, "exp", rev, ARMS)
    capped = np.minimum(values, limit)
    arms = wide.execute()["variant"].to_numpy()
    for arm in ARMS:
        s = data.stat("revenue", arm)
        assert s.n == (arms == arm).sum()
        assert s.sum == pytest.approx(capped[arms == arm].sum(), rel=1e-12)
        assert s.sum_squares == pytest.approx((capped[arms == arm] ** 2).sum(), rel=1e-12)


def test_part_count_is_the_per_unit_values_over_the_budget(ws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # 280 + 22 assignment rows of "exp"; width: 4 values + 1 denominator (ratio) + 1 covariate = 6
    metrics = TOUCH_METRICS
    assert engine_analysis.unit_part_count(ws.tables, "exp", metrics) == 1
    monkeypatch.setattr(engine_analysis, "UNIT_CELLS", 302 * 6 // 4)
    assert engine_analysis.unit_part_count(ws.tables, "exp", metrics) == 4
    monkeypatch.setattr(engine_analysis, "UNIT_CELLS", 302 * 6 // 4 + 1)
    assert engine_analysis.unit_part_count(ws.tables, "exp", metrics) == 4
    monkeypatch.setattr(engine_analysis, "UNIT_CELLS", 302 * 6)
    assert engine_analysis.unit_part_count(ws.tables, "exp", metrics) == 1
