"""Attribution from engine aggregates (no path on the driver) equals the path-based models."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from levier.analysis.attribution import JourneyOptions, attribute, attribute_paths, path_counts
from levier.analysis.attribution.engine import (
    chain_from_transitions,
    first_touch_counts,
    journey_summary,
    markov_engine,
    rule_credits,
    summary_from_transitions,
    top_paths,
    transition_counts,
)
from levier.analysis.attribution.markov import build_chain
from levier.analysis.attribution.paths import PathCounts
from levier.analysis.attribution.shapley import shapley
from levier.errors import OptionError

from .conftest import REFERENCE, REL, assert_same_attribution, frames_workspace

RULE_MODELS = ["first", "last", "last_non_direct", "linear", "position"]
ALL = [*RULE_MODELS, "markov", "shapley"]


# -- hand-worked: the small workspace ----------------------------------------------------
# journeys to opportunity: L1 paid_search>direct>sales_email (converted, 1000), L2
# sales_call>sales_call (null), anon a3 organic>email (null)
def test_transitions_by_hand(small) -> None:  # noqa: ANN001
    df = transition_counts(small, order=1)
    got = {(r.prev_1 if isinstance(r.prev_1, str) else None, r.channel): (r.n, r.conversions, r.nulls, r.value)
           for r in df.itertuples()}
    assert got == {
        (None, "paid_search"): (1, 0, 0, 0.0), ("paid_search", "direct"): (1, 0, 0, 0.0),
        ("direct", "sales_email"): (1, 1, 0, 1000.0), (None, "sales_call"): (1, 0, 0, 0.0),
        ("sales_call", "sales_call"): (1, 0, 1, 0.0), (None, "organic"): (1, 0, 0, 0.0),
        ("organic", "email"): (1, 0, 1, 0.0),
    }
    s = summary_from_transitions(df)
    assert (s.journeys, s.conversions, s.nulls, s.value) == (3.0, 1.0, 2.0, 1000.0)
    assert s.channels == ("direct", "email", "organic", "paid_search", "sales_call", "sales_email")
    assert journey_summary(small) == s


def test_rules_by_hand(small) -> None:  # noqa: ANN001
    r = rule_credits(small)
    assert r["first"].credit("paid_search") == 1.0 and r["last"].credit("sales_email") == 1.0
    assert r["last_non_direct"].credit("sales_email") == 1.0
    assert [r["linear"].credit(c) for c in ("paid_search", "direct", "sales_email")] == pytest.approx([1 / 3] * 3, rel=1e-15)
    assert [r["position"].value_credit(c) for c in ("paid_search", "direct", "sales_email")] == pytest.approx([400.0, 200.0, 400.0])
    assert r["first"].credit("sales_call") == 0.0 and r["first"].channels == journey_summary(small).channels
    # sales_email counted as "direct" too: the last non-direct touch is paid_search
    r2 = rule_credits(small, models=["last_non_direct"], direct=("direct", "sales_email"))
    assert r2["last_non_direct"].credit("paid_search") == 1.0
    with pytest.raises(OptionError):
        rule_credits(small, models=["time_decay"])
    with pytest.raises(OptionError):
        rule_credits(small, shares=(0.5, 0.5, 0.5))


def test_markov_by_hand(small) -> None:  # noqa: ANN001
    r = markov_engine(small)
    # P(conversion) = 1/3; removing any channel of the converting path leaves 0: effects 1, 1, 1
    assert r.details.p_conversion == pytest.approx(1 / 3, rel=1e-12)
    assert r.details.removal_effects == pytest.approx(
        {"direct": 1.0, "email": 0.0, "organic": 0.0, "paid_search": 1.0, "sales_call": 0.0, "sales_email": 1.0})
    assert r.credit("direct") == pytest.approx(1 / 3, rel=1e-12)
    assert r.value_credit("paid_search") == pytest.approx(1000 / 3, rel=1e-12)


def test_top_paths_and_first_touches(small) -> None:  # noqa: ANN001
    top = top_paths(small, n=2)
    assert top["path"].tolist() == ["organic>email", "paid_search>direct>sales_email"]  # ties: by path
    assert top["journeys"].tolist() == [1, 1] and top["conversions"].tolist() == [0, 1]
    ft = first_touch_counts(small)
    assert {">".join(p): (c, n) for p, c, n in zip(ft.paths, ft.conversions, ft.nulls, strict=True)} == {
        "paid_search>direct>sales_email": (1, 0), "sales_call": (0, 1), "organic>email": (0, 1)}


def test_no_journey(workspace) -> None:  # noqa: ANN001
    with pytest.raises(OptionError):
        attribute(workspace, ALL)


# -- the chain from transition rows equals build_chain on the reference paths ------------
def _transition_frame(pc: PathCounts, k: int) -> pd.DataFrame:
    """What the engine query returns, built by hand from path counts."""
    acc: dict[tuple[Any, ...], list[float]] = {}
    for path, c, n, v in zip(pc.paths, pc.conversions, pc.nulls, pc.value, strict=True):
        for t, ch in enumerate(path):
            prev = tuple(path[t - i] if t - i >= 0 else None for i in range(1, k + 1))
            cell = acc.setdefault((*prev, ch), [0.0, 0.0, 0.0, 0.0])
            cell[0] += c + n
            if t == len(path) - 1:
                cell[1] += c
                cell[2] += n
                cell[3] += v
    cols = [f"prev_{i}" for i in range(1, k + 1)]
    return pd.DataFrame([(*key, *vals) for key, vals in acc.items()], columns=[*cols, "channel", "n", "conversions", "nulls", "value"])


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_chain_equals_build_chain(order: int) -> None:
    pc = PathCounts.from_records([(p, c, n, 10.0 * c) for p, c, n in REFERENCE] + [("A>A>B>A", 2, 1, 7.5)])
    chain, channels = chain_from_transitions(_transition_frame(pc, order), order)
    ref = build_chain(pc, order)
    assert channels == pc.encoded().channels and chain.states == ref.states
    assert (chain.counts != ref.counts).nnz == 0
    np.testing.assert_allclose(chain.value_out, ref.value_out, rtol=1e-15)
    np.testing.assert_array_equal(chain.member, ref.member)


# -- equal to the path-based models on a varied workspace ---------------------------------
UTMS = [("google", "cpc", None), ("linkedin", "paid_social", None), ("brevo", "email", None),
        (None, None, "www.google.com"), (None, None, "blog.example.org"), (None, None, None), (None, None, None)]


def _frames(seed: int = 3) -> dict[str, list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 9, 1)
    leads, stages, touches, web, deals = [], [], [], [], []
    n_ev = 0
    for v in range(90):
        lead = f"L{v:03d}" if v % 3 else None
        at = t0 + timedelta(days=int(rng.integers(0, 50)), minutes=int(rng.integers(0, 600)))
        for _s in range(int(rng.integers(1, 7))):
            src, med, ref = UTMS[int(rng.integers(0, len(UTMS)))]
            web.append(dict(event_id=f"E{n_ev:05d}", anonymous_id=f"a{v}", at=at, type="page_view", utm_source=src,
                            utm_medium=med, referrer=ref, utm_campaign=["x", "y"][n_ev % 2], page="/"))
            n_ev += 1
            at += timedelta(days=int(rng.integers(0, 4)), hours=int(rng.integers(1, 30)))
        if lead:
            web.append(dict(event_id=f"E{n_ev:05d}", anonymous_id=f"a{v}", at=at, type="form_submit", page="/f", lead_id=lead))
            n_ev += 1
            leads.append(dict(lead_id=lead, created_at=at, channel="inbound", company_size="smb"))
            stages.append(dict(lead_id=lead, stage="lead", at=at))
            for k in range(int(rng.integers(0, 4))):  # some at the same instant: ties broken by channel
                touches.append(dict(touch_id=f"T{v:03d}{k}", lead_id=lead, at=at + timedelta(days=k // 2 + 1),
                                    channel=["email", "call", "sms"][k % 3], direction="out", outcome="delivered"))
            if v % 2:
                stages.append(dict(lead_id=lead, stage="opportunity", at=at + timedelta(days=3, hours=v % 5)))
                deals.append(dict(deal_id=f"D{v:03d}", lead_id=lead, created_at=at + timedelta(days=3),
                                  amount=float(500 + 17 * v), won=v % 4 == 1, closed_at=None))
    spend = [dict(date=date(2026, 9, 1), source="google_ads", campaign_id="c", cost=10.0)]
    return {"leads": leads, "stage_events": stages, "touches": touches, "web_events": web, "deals": deals, "spend": spend}


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    yield from frames_workspace(tmp_path_factory, "engine", _frames())


OPTIONS = {
    "default": JourneyOptions(),
    "lead_web": JourneyOptions(conversion_stage="lead", sources=("web",)),
    "campaign": JourneyOptions(level="campaign", lookback_days=10),
    "period": JourneyOptions(start=datetime(2026, 10, 1), end=datetime(2026, 10, 20)),
}


@pytest.mark.parametrize(("name", "order"), [("default", 1), ("default", 2), ("default", 3), ("lead_web", 1),
                                             ("campaign", 2), ("period", 3)])
def test_equals_path_based(varied, name: str, order: int) -> None:  # noqa: ANN001
    opts = OPTIONS[name]
    pc = path_counts(varied, opts)
    assert len(pc) > 5 and pc.total_conversions > 0
    ours = attribute(varied, ALL, options=opts, order=order)
    ref = attribute_paths(pc, ALL, order=order)
    for a, b in zip(ours.results, ref.results, strict=True):
        assert_same_attribution(a, b)
    m, r = ours.results[ALL.index("markov")].details, ref.results[ALL.index("markov")].details
    assert m.chain.states == r.chain.states and (m.chain.counts != r.chain.counts).nnz == 0
    assert m.p_conversion == pytest.approx(r.p_conversion, rel=REL)
    assert m.removal_effects == pytest.approx(r.removal_effects, rel=REL, abs=1e-12)
    assert m.value_removal_effects == pytest.approx(r.value_removal_effects, rel=REL, abs=1e-12)
    src = ours.source
    assert (src["journeys"], src["conversions"], src["nulls"]) == (pc.journeys, pc.total_conversions, pc.total_nulls)
    assert src["value"] == pytest.approx(pc.total_value, rel=REL) and src["channels"] == list(pc.channels)


def test_direct_is_present_and_ordered_shapley(varied) -> None:  # noqa: ANN001
    pc = path_counts(varied)
    assert any("direct" in p and p[-1] == "direct" for p in pc.paths)  # last-non-direct differs from last
    ours = attribute(varied, ["shapley", "time_decay"], ordered_shapley=True)
    ref = shapley(pc, ordered=True)
    assert_same_attribution(ours.results[0], ref)
    got, want = ours.results[0].details.by_position, ref.details.by_position
    assert [(c, p) for c, p, _x in got] == [(c, p) for c, p, _x in want]
    np.testing.assert_allclose([x for *_k, x in got], [x for *_k, x in want], rtol=REL, atol=1e-12)
    assert ours.results[1].channels == pc.channels


def test_top_paths_are_the_most_frequent(varied) -> None:  # noqa: ANN001
    pc = path_counts(varied)
    freq = sorted(((-(c + n), ">".join(p)) for p, c, n in zip(pc.paths, pc.conversions, pc.nulls, strict=True)))[:5]
    top = top_paths(varied, n=5)
    assert list(zip((-top["journeys"]).tolist(), top["path"].tolist(), strict=True)) == freq


@pytest.mark.parametrize("order", [1, 3])
def test_journey_parts_add_up_to_the_whole(varied, monkeypatch: pytest.MonkeyPatch, order: int) -> None:  # noqa: ANN001
    """Above PART_ROWS touches an embedded DuckDB engine runs the journey windows one hash part at a
    time (its window operator is not out of core): the added parts equal the one-query results."""
    from levier.analysis.attribution.engine import transition_counts
    from levier.analysis.attribution.journeys import journey_parts, set_counts
    from levier.data import parts

    whole_t, whole_s = transition_counts(varied, order=order), set_counts(varied)
    whole = attribute(varied, ALL, order=order)
    rows = varied.facts.count("touches") + varied.facts.count("web_events")
    monkeypatch.setattr(parts, "PART_ROWS", max(rows // 4, 1))
    assert journey_parts(varied) >= 4
    parts_t, parts_s = transition_counts(varied, order=order), set_counts(varied)
    keys = [c for c in whole_t.columns if c.startswith("prev_")] + ["channel"]
    a = whole_t.sort_values(keys, na_position="first").reset_index(drop=True)
    b = parts_t.sort_values(keys, na_position="first").reset_index(drop=True)[list(a.columns)]
    pd.testing.assert_frame_equal(a, b, check_dtype=False, rtol=REL)
    assert dict(zip(whole_s.paths, whole_s.conversions, strict=True)) == pytest.approx(dict(zip(parts_s.paths, parts_s.conversions, strict=True)))
    assert whole_s.journeys == parts_s.journeys
    for x, y in zip(whole.results, attribute(varied, ALL, order=order).results, strict=True):
        assert_same_attribution(x, y)


def test_a_period_reads_only_the_sales_touches_its_journeys_can_keep(varied, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """With a period start, sales touches older than start − lookback are cut before the journey windows
    (decision 0248): the journeys' touches equal those of the whole history cut after the windows, and
    the hash parts are sized on the rows the windows then read."""
    from dataclasses import replace

    from levier.analysis.attribution.journeys import earliest_touch, journey_parts, journey_touches
    from levier.data import parts

    opts = JourneyOptions(start=datetime(2026, 10, 10), end=datetime(2026, 10, 25), lookback_days=5)
    since = earliest_touch(opts)
    assert since == datetime(2026, 10, 5)
    t = varied.table("touches")
    older = int(t.filter(t.at < since).count().execute())
    assert older > 20  # the cut removes something
    keys = ["journey", "at", "channel"]
    cut = journey_touches(varied, opts).execute().sort_values(keys).reset_index(drop=True)
    ref = journey_touches(varied, replace(opts, start=None)).execute()
    ref = ref[ref["end_at"] >= opts.start].sort_values(keys).reset_index(drop=True)
    assert len(cut) > 20 and cut["converted"].sum() > 0
    pd.testing.assert_frame_equal(cut, ref[list(cut.columns)], check_dtype=False)

    monkeypatch.setattr(parts, "PART_ROWS", 10)
    web, touches = varied.facts.count("web_events"), varied.facts.count("touches")
    assert journey_parts(varied) == -(-(web + touches) // 10)
    assert journey_parts(varied, opts) == -(-(web + touches - older) // 10) < journey_parts(varied)
    assert journey_parts(varied, replace(opts, start=None)) == journey_parts(varied)


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_converted_journeys_without_windows_equal_the_windowed_ones(varied, name: str) -> None:  # noqa: ANN001
    """The converted journeys (first kept touch, end) from a join and a GROUP BY equal those of
    journey_touches' per-journey windows (decision 0248), web sessions and sales touches mixed."""
    from levier.analysis.attribution.journeys import converted_journeys, journey_touches

    opts = OPTIONS[name]
    jt = journey_touches(varied, opts)
    jt = jt.filter(jt.converted == 1)
    ref = jt.group_by("journey").agg(first=jt.at.min(), end_at=jt.end_at.max()).execute()
    got = converted_journeys(varied, opts).execute()
    assert len(ref) > 5
    a, b = (f.sort_values("journey").reset_index(drop=True) for f in (ref, got))
    pd.testing.assert_frame_equal(a, b[list(a.columns)], check_dtype=False)
