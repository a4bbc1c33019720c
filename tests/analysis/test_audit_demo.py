"""On the default demo data (20,000 leads, seed 7) the audit recovers the generator's truth."""

from __future__ import annotations

import json

import pytest

from levier.analysis import AuditOptions, run_audit
from levier.analysis.perlead import lead_parts

ALL = "2026-07-01..2026-10-31"  # every lead of the demo: the most statistical power


@pytest.fixture(scope="module")
def full(demo_ws):
    return run_audit(demo_ws, AuditOptions(period=ALL, compare_to="none"))


@pytest.fixture(scope="module")
def default(demo_ws):
    return run_audit(demo_ws)


def _seg(res, label):
    return next(s for s in res.segments if s.label == label)


def test_plateau_for_inbound_smb(full, demo_dir) -> None:
    truth = json.loads((demo_dir / "ground_truth.json").read_text())["conversion"]["curves"]["inbound/smb"]["params"]
    fit = _seg(full, "inbound/smb").response_curve.fit
    assert fit.shape == "plateau" == truth["kind"]
    assert abs(fit.knee - truth["knee"]) <= 1.5


def test_s_for_outbound_enterprise(full) -> None:
    fit = _seg(full, "outbound/enterprise").response_curve.fit
    assert fit.shape == "s"
    assert 5 <= fit.params["m"] <= 9  # logistic midpoint ~7 touches


@pytest.fixture(scope="module")
def october(demo_ws):
    return run_audit(demo_ws, AuditOptions(period="2026-10"))


def test_default_month_is_the_last_mature_one(default) -> None:
    # data end on 2026-10-31; with a 30-day window October's conversions are not final yet
    assert default.framing.period.label == "2026-09" and default.framing.compare_to.label == "2026-08"
    assert _seg(default, "inbound/smb").response_curve.fit.shape == "plateau"
    # one month of outbound/enterprise (~550 leads) is too few to tell S from linear, but it rises
    bins = [b for b in _seg(default, "outbound/enterprise").response_curve.bins if b.n >= 20]
    assert bins[-1].rate > 3 * bins[0].rate


def test_ttf_effect_for_inbound(demo_ws) -> None:
    res = run_audit(demo_ws, AuditOptions(period=ALL, compare_to="none", segment_by=("channel",)))
    inbound = _seg(res, "inbound").ttf
    assert inbound.sla_effect.p_value < 1e-6
    assert inbound.cr_within_sla / inbound.cr_beyond_sla > 1.3


def test_outliers_clusters_and_dashboard(october, demo_dir) -> None:
    default = october  # the hyperactive rep's days are in October
    truth = json.loads((demo_dir / "ground_truth.json").read_text())["defects"]["hyperactive_rep"]
    owner = truth["details"].get("owner") if isinstance(truth.get("details"), dict) else None
    assert all(day.startswith("2026-10") for day in truth["details"]["per_day"])
    top = default.outliers[0]
    assert top.kind == "rep" and top.category == "error"
    if owner:
        assert top.id == owner
    vip = next(c for c in default.clusters if c["kind"] == "vip")
    assert vip["conversion_rate"] > 2 * default.overall.conversion_rate and vip["mean_touches"] < default.overall.contacts["mean"]
    d = default.to_dict("fr")
    assert len(d["dashboard"]["coach_accounts"]) == 10 and len(d["dashboard"]["imitate_accounts"]) == 10
    assert len(d["diagnostic"]) == 10 and len(d["thresholds"]) == 9
    json.dumps(d, allow_nan=False)


def test_thresholds_follow_the_curves(full) -> None:
    th = {t.segment: t for t in full.thresholds}
    assert 5 <= th["inbound/smb"].min_touches <= 8
    assert th["inbound/smb"].ttf_target_hours == 2.0
    assert th["outbound/smb"].min_touches is None  # linear truth: no knee


def test_hash_parts_add_up_to_the_whole_audit(demo_ws, default, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above FACT_ROWS leads in the period on DuckDB the audit reduces the per-lead facts one hash
    part of the leads at a time (decisions 0205, 0247): the added parts give the same audit,
    comparison included."""
    from levier.data import parts

    monkeypatch.setattr(parts, "FACT_ROWS", max(demo_ws.facts.count("leads") // 16, 1))
    assert lead_parts(demo_ws, demo_ws.table("leads"), default.framing.period) >= 4
    assert lead_parts(demo_ws, demo_ws.table("leads"), default.framing.compare_to) >= 4
    split = run_audit(demo_ws)
    a, b = default.to_dict("en"), split.to_dict("en")
    for d in (a, b):
        d.pop("timings", None)
        d["framing"].pop("generated_at", None)
    assert json.dumps(b, sort_keys=True, default=str) == json.dumps(a, sort_keys=True, default=str)
    assert default.overall.previous is not None  # the comparison period ran in parts too
