"""Journeys by hash parts: web sessions, time-decay, ordered Shapley and the web funnel run one
part at a time above PART_ROWS and add up to the single query (decision 0206).

The workspace mixes every way a visitor and a lead meet: visitors identified as one lead (with
events before and after), visitors carrying two leads, leads reached from two visitors, visitors
never identified, sales touches; sessions open on gaps, UTMs and first events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from levier.analysis.attribution import JourneyOptions, attribute
from levier.analysis.attribution import journeys as jmod
from levier.analysis.attribution.journeys import (
    journey_parts,
    path_counts,
    time_decay,
    time_to_conversion,
    touch_events,
)
from levier.analysis.marketing import web_funnel
from levier.data import parts as hashparts

from .conftest import REL, assert_same_attribution, frames_workspace

ALL = ["first", "last", "last_non_direct", "linear", "position", "time_decay", "markov", "shapley"]
UTMS = [("google", "cpc"), ("brevo", "email"), (None, None), (None, None), ("linkedin", "paid_social"), (None, None)]
REFS = [None, "https://www.google.com/", "https://blog.example.org/x", None]


def _visit(rng: np.random.Generator, web: list[dict[str, Any]], anon: str, at: datetime, leads: list[str | None],
           tagged: bool = False) -> datetime:
    """A few sessions of visitor ``anon``; each lead in ``leads`` submits a form at the end of a
    session (``tagged``: half the session starts already carry that lead, as a logged-in visit)."""
    for lead in leads:
        for _ in range(int(rng.integers(1, 4))):
            src, med = UTMS[int(rng.integers(0, len(UTMS)))]
            known = lead if tagged and rng.integers(0, 2) else None
            web.append(dict(event_id=f"E{len(web):05d}", anonymous_id=anon, at=at, type="page_view", utm_source=src,
                            utm_medium=med, referrer=REFS[int(rng.integers(0, len(REFS)))], utm_campaign=["x", "y"][len(web) % 2],
                            lead_id=known))
            for _k in range(int(rng.integers(0, 3))):  # internal pages: 1–40 min later (some open a session)
                at += timedelta(minutes=int(rng.integers(1, 41)))
                web.append(dict(event_id=f"E{len(web):05d}", anonymous_id=anon, at=at, type="page_view", page="/p"))
            at += timedelta(hours=int(rng.integers(1, 60)))
        if lead is not None:
            web.append(dict(event_id=f"E{len(web):05d}", anonymous_id=anon, at=at, type="form_submit", lead_id=lead))
            at += timedelta(minutes=5)
    return at


def _frames(seed: int = 11) -> dict[str, list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 9, 1)
    web: list[dict[str, Any]] = []
    leads, stages, touches, deals = [], [], [], []
    for v in range(120):
        at = t0 + timedelta(days=int(rng.integers(0, 40)), minutes=int(rng.integers(0, 900)))
        kind = v % 6
        if kind == 0:  # never identified
            plan: list[str | None] = [None]
        elif kind == 1:  # two leads on one visitor (a shared computer)
            plan = [f"L{v:03d}", f"L{v + 1000:03d}"]
        elif kind == 2:  # a lead reached from two visitors: this one and the previous visitor's lead
            plan = [f"L{v - 1:03d}"]
        else:
            plan = [f"L{v:03d}"]
        end = _visit(rng, web, f"a{v}", at, plan, tagged=kind == 1)
        if kind == 3 and v % 4 == 3:  # keeps browsing after identification, without lead_id
            _visit(rng, web, f"a{v}", end + timedelta(hours=2), [None])
        for lead in (p for p in plan if p is not None and kind != 2):
            leads.append(dict(lead_id=lead, created_at=at, channel="inbound", company_size="smb"))
            stages.append(dict(lead_id=lead, stage="lead", at=at))
            for k in range(int(rng.integers(0, 4))):
                touches.append(dict(touch_id=f"T{lead}{k}", lead_id=lead, at=at + timedelta(days=k // 2 + 1),
                                    channel=["email", "call", "sms"][k % 3], direction="out", outcome="delivered"))
            if int(rng.integers(0, 2)):
                conv = end + timedelta(days=int(rng.integers(0, 5)), hours=int(rng.integers(0, 12)))
                stages.append(dict(lead_id=lead, stage="opportunity", at=conv))
                deals.append(dict(deal_id=f"D{lead}", lead_id=lead, created_at=conv, amount=float(300 + 13 * v), won=bool(v % 2)))
    return {"leads": leads, "stage_events": stages, "touches": touches, "web_events": web, "deals": deals}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    yield from frames_workspace(tmp_path_factory, "parts", _frames())


def _force(ws: Any, monkeypatch: pytest.MonkeyPatch, n: int) -> int:
    """Make the journey queries run on about ``n`` hash parts; returns the count."""
    rows = ws.facts.count("touches") + ws.facts.count("web_events")
    monkeypatch.setattr(hashparts, "PART_ROWS", max(-(-rows // n), 1))
    return journey_parts(ws)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns), na_position="first").reset_index(drop=True)


def _pc(pc: Any) -> dict[str, tuple[float, float, float]]:
    return {">".join(p): (c, n, v) for p, c, n, v in zip(pc.paths, pc.conversions, pc.nulls, pc.value, strict=True)}


def test_the_workspace_has_every_case(mixed) -> None:  # noqa: ANN001
    w = mixed.table("web_events").execute()
    per_visitor = w.dropna(subset=["lead_id"]).groupby("anonymous_id")["lead_id"].nunique()
    per_lead = w.dropna(subset=["lead_id"]).groupby("lead_id")["anonymous_id"].nunique()
    assert (per_visitor == 2).sum() >= 10 and (per_lead >= 2).sum() >= 10
    opens_own_lead = w[(w["type"] == "page_view") & w["lead_id"].notna()]  # a page view of the visitor's other lead
    assert opens_own_lead["anonymous_id"].isin(per_visitor[per_visitor == 2].index).sum() >= 5
    assert w.groupby("anonymous_id")["lead_id"].count().eq(0).sum() >= 10  # never identified


def test_each_journey_lands_whole_in_one_part(mixed, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The touches of every part, put together, are exactly the touches of the single query: the
    session window saw whole visitors, and no journey is split or repeated across parts."""
    whole = _sorted(touch_events(mixed).execute())
    n = _force(mixed, monkeypatch, 5)
    assert n >= 5
    frames = [touch_events(mixed, part=p).execute() for p in hashparts.parts(n)]
    assert all(len(f) for f in frames)
    by_part = [set(f["journey"]) for f in frames]
    assert sum(len(s) for s in by_part) == len(set().union(*by_part))  # disjoint
    pd.testing.assert_frame_equal(_sorted(pd.concat(frames, ignore_index=True)), whole)


def test_attribution_parts_add_up_to_the_single_query(mixed, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Every model (transition counts for the rules and Markov order 2, time-decay, channel sets)
    and ordered Shapley with time-decay alone (the journey summary, first-touch sequences)."""
    whole = attribute(mixed, ALL, order=2).results
    ordered = attribute(mixed, ["time_decay", "shapley"], ordered_shapley=True, half_life_days=3.0).results
    assert ordered[1].total_conversions > 5 and ordered[1].details.coalitions > 5
    assert _force(mixed, monkeypatch, 3) >= 3
    for x, y in zip(attribute(mixed, ALL, order=2).results, whole, strict=True):
        assert_same_attribution(x, y)
    got = attribute(mixed, ["time_decay", "shapley"], ordered_shapley=True, half_life_days=3.0).results
    for x, y in zip(got, ordered, strict=True):
        assert_same_attribution(x, y)
    ref = ordered[1].details.by_position
    assert [(c, k) for c, k, _ in got[1].details.by_position] == [(c, k) for c, k, _ in ref]
    np.testing.assert_allclose([x for *_, x in got[1].details.by_position], [x for *_, x in ref], rtol=REL, atol=1e-12)


def test_paths_and_time_to_conversion_by_parts(mixed, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    opts = JourneyOptions(level="campaign", lookback_days=10, start=datetime(2026, 9, 10), end=datetime(2026, 10, 20),
                          session_gap_minutes=20)
    paths, ttc = _pc(path_counts(mixed, opts)), time_to_conversion(mixed, opts)
    assert len(paths) > 10 and ttc.journeys > 5
    assert _force(mixed, monkeypatch, 2) >= 2
    got = _pc(path_counts(mixed, opts))
    assert got.keys() == paths.keys()
    for path, vals in paths.items():
        assert got[path] == pytest.approx(vals, rel=REL)
    assert time_to_conversion(mixed, opts) == ttc


def test_time_decay_totals_by_hand(small) -> None:  # noqa: ANN001
    """One converting journey (L1: three touches, value 1000): the totals read off the per-touch
    spread (1/touches) are whole."""
    r = time_decay(small)
    assert (r.total_conversions, r.total_value) == (1.0, 1000.0)


def test_parts_counted_once_per_attribute(mixed, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    calls = []
    real = jmod.part_count
    monkeypatch.setattr(jmod, "part_count", lambda *a, **k: calls.append(a) or real(*a, **k))
    attribute(mixed, ALL)
    attribute(mixed, ["time_decay", "shapley"], ordered_shapley=True)
    assert len(calls) == 2


def test_web_funnel_by_visitor_parts(mixed, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    start, end = datetime(2026, 9, 15), datetime(2026, 10, 10)
    whole = web_funnel(mixed, start, end, session_gap_minutes=20)
    assert whole.sessions > whole.bounced_sessions > 10
    monkeypatch.setattr(hashparts, "PART_ROWS", max(mixed.facts.count("web_events") // 4, 1))
    assert hashparts.part_count(mixed, ("web_events",)) >= 4
    assert web_funnel(mixed, start, end, session_gap_minutes=20) == whole
    assert web_funnel(mixed, session_gap_minutes=20, parts=3) == web_funnel(mixed, session_gap_minutes=20, parts=1)


def test_top_paths_by_parts_are_the_top_of_the_whole(mixed, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """A path's journeys sit in several parts: the parts' counts are added in an engine table
    (``parts.stacked``) before the top n, which equals the single query's, ties included."""
    from levier.analysis.attribution.engine import top_paths

    whole = top_paths(mixed, n=8)
    assert len(whole) == 8 and whole["journeys"].iloc[0] > whole["journeys"].iloc[-1]
    assert _force(mixed, monkeypatch, 3) >= 3
    split = top_paths(mixed, n=8)
    pd.testing.assert_frame_equal(split.reset_index(drop=True), whole.reset_index(drop=True), check_dtype=False, rtol=REL)
    left = mixed.facts.con.raw_sql("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '_lv_parts_%'").fetchone()[0]
    assert left == 0  # the stacking table is dropped
