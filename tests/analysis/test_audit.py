"""run_audit on small hand-built workspaces: figures vs SciPy on the same per-lead data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from levier.analysis import AuditOptions, run_audit
from levier.analysis.perlead import lead_parts
from levier.errors import AnalysisError, OptionError


def _spec(n: int = 400, seed: int = 5) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        x = int(rng.poisson(4))
        out.append({"x": x, "converted": bool(rng.random() < 0.04 + 0.04 * x), "channel": ("inbound", "outbound")[i % 2], "ttf_h": float(rng.choice([0.5, 1.5, 3.0, 30.0]))})
    return out


def test_figures_equal_scipy_on_per_lead_data(make_ws) -> None:
    spec = _spec()
    ws = make_ws(spec)
    res = run_audit(ws, AuditOptions(period="2026-10", compare_to="none", segment_by=("channel",)))
    x = np.array([s["x"] for s in spec], float)
    y = np.array([s["converted"] for s in spec], float)
    ref = sps.linregress(x, y)
    c = res.overall.correlation
    assert res.overall.n == 400 and res.overall.conversions == int(y.sum())
    assert c.r == pytest.approx(ref.rvalue, abs=1e-12)
    assert c.slope == pytest.approx(ref.slope, abs=1e-12)
    assert c.intercept == pytest.approx(ref.intercept, abs=1e-12)
    assert c.r2 == pytest.approx(ref.rvalue**2, abs=1e-12)
    assert c.p_value == pytest.approx(sps.pearsonr(x, y).pvalue, rel=1e-9)
    assert c.spearman == pytest.approx(sps.spearmanr(x, y).statistic, abs=1e-12)
    assert res.overall.contacts["median"] == np.median(x)
    assert res.overall.contacts["q1"] == np.quantile(x, 0.25) and res.overall.contacts["q3"] == np.quantile(x, 0.75)
    contacted = np.array([s["ttf_h"] for s in spec if s["x"] > 0])
    assert res.overall.ttf.median_hours == pytest.approx(np.median(contacted))
    assert res.overall.ttf.p90_hours == pytest.approx(np.quantile(contacted, 0.9))
    assert res.overall.ttf.share_within_sla == pytest.approx((contacted < 2).mean())
    inbound = [s for s in spec if s["channel"] == "inbound"]
    xi = np.array([s["x"] for s in inbound], float)
    yi = np.array([s["converted"] for s in inbound], float)
    seg = next(s for s in res.segments if s.label == "inbound")
    assert seg.correlation.r == pytest.approx(sps.pearsonr(xi, yi).statistic, abs=1e-12)
    assert [s.label for s in res.segments] == ["inbound", "outbound"]


def test_quadrants_by_hand(make_ws) -> None:
    # x: 0 1 2 3 4 5, converted: 0 0 1 0 1 1 → mean x 2.5, mean y 0.5
    spec = [{"x": x, "converted": c} for x, c in [(0, 0), (1, 0), (2, 1), (3, 0), (4, 1), (5, 1)]]
    res = run_audit(make_ws(spec), AuditOptions(period="2026-10", compare_to="none", segment_by=()))
    q = res.overall.quadrants
    assert (q.x_mean, q.y_mean) == (2.5, 0.5)
    assert q.counts == {"q1": 2, "q2": 1, "q3": 2, "q4": 1}


def test_to_dict_is_json_and_follows_contract(make_ws, tmp_path) -> None:
    res = run_audit(make_ws(_spec(200)), AuditOptions(period="2026-10", compare_to="none"))
    d = res.to_dict("en")
    json.dumps(d, allow_nan=False)
    for key in ("version", "framing", "definitions", "overall", "segments", "composition", "clusters", "thresholds", "diagnostic", "outliers", "dashboard", "comparison", "cleaning", "scatter"):
        assert key in d
    seg = d["segments"][0]
    for key in ("key", "label", "n", "conversions", "conversion_rate", "contacts", "ttf", "effective_contact_rate", "correlation", "quadrants", "sensitivity", "response_curve", "ttf_curve", "complaints", "traffic_light"):
        assert key in seg
    assert len(d["diagnostic"]) == 10 and {a["answer"] for a in d["diagnostic"]} <= {"yes", "no", "unknown"}
    fr = res.to_dict("fr")
    assert fr["diagnostic"][0]["question"] != d["diagnostic"][0]["question"]
    frame = res.to_frame()
    assert list(frame["segment"])[0] == "all" and len(frame) == 1 + len(res.segments)


def test_degenerate_segments_return_codes(make_ws) -> None:
    spec = [{"x": 3, "converted": False, "channel": "inbound"} for _ in range(40)] + [{"x": i % 5, "converted": i % 3 == 0, "channel": "partner"} for i in range(5)]
    res = run_audit(make_ws(spec), AuditOptions(period="2026-10", compare_to="none", segment_by=("channel",)))
    inbound, partner = res.segments
    assert inbound.correlation.code == "zero_variance" and inbound.light.colour == "grey"
    assert partner.code == "too_few" and partner.light.colour == "grey"
    assert inbound.response_curve.fit.code in ("too_few", "zero_variance")


def test_comparison_and_delta(make_ws) -> None:
    from tests.analysis.conftest import build_workspace

    cur = _spec(300)
    prev = [dict(s, converted=False) if i % 2 else s for i, s in enumerate(_spec(300, seed=9))]
    ws = make_ws(cur, start="2026-10-01")
    build_workspace(ws, prev, start="2026-09-01", prefix="P")
    res = run_audit(ws, AuditOptions(period="2026-10", compare_to="previous", segment_by=("channel",)))
    o = res.overall
    assert res.framing.compare_to.label == "2026-09"
    cr_prev = sum(s["converted"] for s in prev) / 300
    assert o.previous.n == 300 and o.previous.conversion_rate == pytest.approx(cr_prev)
    assert o.delta_cr_points == pytest.approx(100 * (o.conversion_rate - cr_prev))
    from statsmodels.stats.proportion import proportions_ztest

    _, p = proportions_ztest([o.conversions, o.previous.conversions], [300, 300])
    assert res.to_dict("en")["comparison"]["cr_test_p"] == pytest.approx(p)
    assert res.dashboard.meta["compare_to"] == "2026-09"


def test_user_errors(make_ws) -> None:
    ws = make_ws(_spec(20))
    with pytest.raises(OptionError, match="--period"):
        run_audit(ws, AuditOptions(period="October"))
    with pytest.raises(OptionError, match="--segment-by"):
        run_audit(ws, AuditOptions(period="2026-10", segment_by=("colour",)))
    with pytest.raises(OptionError, match="--conversion-stage"):
        run_audit(ws, AuditOptions(period="2026-10", conversion_stage="signed"))
    with pytest.raises(OptionError, match="--unit"):
        run_audit(ws, AuditOptions(period="2026-10", unit="team"))
    with pytest.raises(AnalysisError, match="2026-03"):
        run_audit(ws, AuditOptions(period="2026-03"))


def test_default_period_is_last_full_month(make_ws) -> None:
    # leads hourly from 2026-10-31 00:00 to 2026-11-02 01:00; with a 1-day window October is mature
    res = run_audit(make_ws(_spec(50), start="2026-10-31"), AuditOptions(compare_to="none", conversion_window_days="1d"))
    assert res.framing.period.label == "2026-10" and res.overall.n == 24


def test_default_period_waits_for_complete_conversion_windows() -> None:
    from datetime import datetime

    from levier.analysis.framing import default_period

    latest = datetime(2026, 10, 31, 23, 0)
    assert default_period(latest).label == "2026-10"
    # a lead created on October 20 may still convert until November 19: October is not final
    assert default_period(latest, 30).label == "2026-09"
    assert default_period(datetime(2026, 11, 30, 12, 0), 30).label == "2026-10"
    assert default_period(datetime(2026, 1, 15), 30).label == "2025-11"


@pytest.mark.parametrize("unit", ["lead", "account"])
def test_account_parts_add_up_with_leads_without_account(make_ws, monkeypatch: pytest.MonkeyPatch, unit: str) -> None:
    """The audit's hash parts split the leads by account (a lead without one: by itself), so the
    "unknown" account spreads over the parts; forced parts give the same audit as one query."""
    from levier.data import parts

    spec = _spec(300)
    for i, s in enumerate(spec):
        s["account_id"] = None if i % 5 == 0 else f"A{i % 23}"
    ws = make_ws(spec)
    opts = AuditOptions(period="2026-10", compare_to="none", segment_by=("channel",), unit=unit)
    whole = run_audit(ws, opts).to_dict("en")
    period = run_audit(ws, opts).framing.period
    monkeypatch.setattr(parts, "FACT_ROWS", max(ws.facts.count("leads") // 5, 1))
    assert lead_parts(ws, ws.table("leads"), period) >= 5
    split = run_audit(ws, opts).to_dict("en")
    for d in (whole, split):
        d.pop("timings", None)
        d["framing"].pop("generated_at", None)
    assert json.dumps(split, sort_keys=True, default=str) == json.dumps(whole, sort_keys=True, default=str)
    assert whole["dashboard"]["meta"]["accounts_in_view"] == 23  # every known account has ≥ 3 leads


def test_clusters_from_moments_equal_clusters_from_every_account() -> None:
    """The audit passes the engine's moments of leads per account, and only the larger accounts:
    the large-account cut (mean + 3 sd) and the flagged groups are those of the full table."""
    import pandas as pd

    from levier.analysis.composition import clusters_from

    rng = np.random.default_rng(3)
    leads = np.concatenate([rng.integers(1, 4, 400), [60, 45, 12]])
    acc = pd.DataFrame({"account_id": [f"A{i}" for i in range(len(leads))], "leads": leads, "touches": leads * 3,
                        "conversions": leads // 4, "vip": [0] * len(leads)})
    flags = pd.DataFrame({"vip": [1, 0], "litigation": [0, 0], "do_not_contact": [0, 0], "opted_out": [0, 0],
                          "n": [5, 100], "conversions": [1, 7], "touches": [20, 300]})
    full = clusters_from(flags, acc)
    moments = {"accounts": len(acc), "leads": int(leads.sum()), "leads_sq": int((leads.astype(np.int64) ** 2).sum())}
    assert clusters_from(flags, acc[acc["leads"] >= 3], moments) == full
    assert [c["id"] for c in full if c["kind"] == "large_account"] == ["A400", "A401"]
