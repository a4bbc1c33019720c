"""The account figures reduced in the engine (decision 0222) against the pandas reference.

The reference is the audit's former path: every account of the per-lead facts in a pandas frame,
then the dashboard's former ``account_view`` / ``_pick`` (kept here), ``clusters_from`` without moments,
``outliers._entities``, ``cadence.entity_points`` and the scatter's sort. On the demo (20,000
leads, 843 accounts in view) the lists, counts and ids are equal; the account unit's correlation
figures are equal up to the order of float sums (1e-9).
"""

from __future__ import annotations

import pandas as pd
import pytest

from levier.analysis import AuditOptions, cadence, dashboard, outliers, run_audit
from levier.analysis import accounts as accts
from levier.analysis import queries as q
from levier.analysis.audit import _frame
from levier.analysis.composition import clusters_from
from levier.analysis.perlead import lead_facts, lead_parts
from levier.analysis.scatter import MAX_ENTITY_POINTS
from levier.analysis.segments import label_of, subset

ALL = "2026-07-01..2026-10-31"
SUMS = ["leads", "touches", "conversions", "complaints", "out_touches"]


def _tables(ws) -> dict:  # noqa: ANN001
    return {n: ws.table(n) for n in ("leads", "stage_events", "touches")}


def _reference(ws, framing, period, segs: list[str]) -> pd.DataFrame:  # noqa: ANN001
    """Every (segment, account) of ``period`` in pandas, as the audit held them before 0222."""
    f = lead_facts(_tables(ws), framing, period)
    f = f.select("account_id", "x", "converted", "complaints", "out_touches", "vip", *segs).execute()
    g = f.groupby([*segs, "account_id"], as_index=False).agg(
        leads=("x", "size"), touches=("x", "sum"), conversions=("converted", "sum"),
        complaints=("complaints", "sum"), out_touches=("out_touches", "sum"), vip=("vip", "max"))
    return g


def _account_view(ent: pd.DataFrame, min_leads: int) -> pd.DataFrame:
    """One row per account with its quadrant (q1..q4): the dashboard's account view before 0222."""
    a = ent.groupby("account_id", as_index=False)[["leads", "touches", "conversions"]].sum()
    a = a[(a["leads"] >= min_leads) & (a["account_id"] != "unknown")].copy()
    if a.empty:
        return a.assign(mean_touches=[], conversion_rate=[], quadrant=[])
    a["mean_touches"] = a["touches"] / a["leads"]
    a["conversion_rate"] = a["conversions"] / a["leads"]
    hx = a["mean_touches"] > a["mean_touches"].mean()
    hy = a["conversion_rate"] > a["conversion_rate"].mean()
    a["quadrant"] = "q3"
    a.loc[hx & hy, "quadrant"] = "q1"
    a.loc[~hx & hy, "quadrant"] = "q2"
    a.loc[hx & ~hy, "quadrant"] = "q4"
    return a


def _pick(cur: pd.DataFrame, prev: pd.DataFrame | None, quadrant: str, by: list[str]) -> tuple[dict, ...]:
    sel = cur[cur["quadrant"] == quadrant].copy()
    if sel.empty:
        return ()
    before = set() if prev is None or prev.empty else set(prev.loc[prev["quadrant"] == quadrant, "account_id"])
    sel["cycles"] = 1 + sel["account_id"].isin(before).astype(int)
    sel = sel.sort_values(["cycles", *by, "account_id"], ascending=[False] * (1 + len(by)) + [True], kind="mergesort").head(dashboard.LIST_SIZE)
    key = f"cycles_in_{quadrant}"
    return tuple(
        {"account_id": str(r.account_id), "leads": int(r.leads), "mean_touches": round(float(r.mean_touches), 2), "conversion_rate": round(float(r.conversion_rate), 4), key: int(r.cycles)}
        for r in sel.itertuples(index=False)
    )


def _totals(ref: pd.DataFrame) -> pd.DataFrame:
    return ref.groupby("account_id", as_index=False)[[*SUMS, "vip"]].sum()


@pytest.fixture(params=[1, 4], ids=["one-part", "four-parts"])
def n_parts(request, demo_ws, monkeypatch: pytest.MonkeyPatch) -> int:  # noqa: ANN001
    from levier.data import parts

    if request.param > 1:  # the audited period (September) holds about a quarter of the leads
        monkeypatch.setattr(parts, "FACT_ROWS", max(demo_ws.facts.count("leads") // (4 * request.param), 1))
    n = lead_parts(demo_ws, demo_ws.table("leads"), _frame(demo_ws, AuditOptions(min_entity_leads=2)).period)
    assert n >= request.param
    return n


def test_dashboard_and_outliers_equal_the_pandas_reference(demo_ws, n_parts: int) -> None:
    res = run_audit(demo_ws, AuditOptions(min_entity_leads=2))  # September vs August: 843 accounts, recurring ones
    fr = res.framing
    cur, prev = _reference(demo_ws, fr, fr.period, []), _reference(demo_ws, fr, fr.compare_to, [])
    view, before = _account_view(cur, fr.min_entity_leads), _account_view(prev, fr.min_entity_leads)
    assert len(view) > 800 and res.dashboard.meta["accounts_in_view"] == len(view)
    coach, imitate = _pick(view, before, "q3", ["leads"]), _pick(view, before, "q1", ["conversion_rate", "leads"])
    assert res.dashboard.coach == coach and res.dashboard.imitate == imitate
    assert len(coach) == len(imitate) == 10
    assert coach[0]["cycles_in_q3"] == 2 and imitate[0]["cycles_in_q1"] == 2

    t = _tables(demo_ws)
    with lead_facts(t, fr, fr.period).cache() as facts:
        agg = {"reps": q.rep_daily_max(t["touches"], fr.period.start_dt, fr.period.end_dt), "top_leads": q.top_leads(facts),
               "ent": {"owner": q.entities(facts, [], "owner"), "account_id": cur}}
    reference = outliers.top_outliers(demo_ws, agg, res.overall, fr)
    assert "account" in [o.kind for o in reference]
    assert [o.to_dict("en") for o in res.outliers] == [o.to_dict("en") for o in reference]


@pytest.mark.parametrize("k", [1, 5, 40])
def test_large_accounts_and_outlier_candidates(demo_ws, k: int) -> None:
    """The large accounts are those of the full table; of the account outliers only those that can
    rank in the top ``k`` come back, and they are those of the reference."""
    res = run_audit(demo_ws, AuditOptions(period=ALL, compare_to="none", segment_by=()))
    fr = res.framing
    cur = _reference(demo_ws, fr, fr.period, [])
    no_flags = pd.DataFrame(columns=["vip", "litigation", "do_not_contact", "opted_out", "n", "conversions", "touches"])
    large = [c for c in clusters_from(no_flags, cur) if c["kind"] == "large_account"]  # the cut from every account
    assert large and [c for c in res.clusters if c["kind"] == "large_account"] == large
    p = float(cur["conversions"].sum() / cur["leads"].sum())
    with lead_facts(_tables(demo_ws), fr, fr.period).cache() as facts:
        acc = accts.collect([q.accounts(facts, [], outliers.MIN_LEADS)[0].cache()], [])
    try:
        got = acc.outlier_candidates(outliers.MIN_LEADS, lambda c, n: abs(outliers._z(c, n, p)), outliers.Z_MIN, k)
    finally:
        acc.release()

    def top(frame: pd.DataFrame) -> list:
        cands = outliers._entities(frame, "account_id", "account", p)
        return sorted(cands, key=lambda o: (-round(o.score, 9), o.id))[:k]

    assert len(got) <= k and top(got) == top(cur)
    assert len(top(cur)) == min(k, len(outliers._entities(cur, "account_id", "account", p))) > 0


def test_account_unit_points_and_scatter_equal_the_pandas_reference(demo_ws, n_parts: int) -> None:
    res = run_audit(demo_ws, AuditOptions(unit="account", segment_by=("channel",), min_entity_leads=2))
    fr = res.framing
    segs = [f"seg_{c}" for c in fr.segment_by]
    m = fr.min_entity_leads
    for period, key_of in ((fr.period, lambda s: s), (fr.compare_to, lambda s: s.previous)):
        ref = _reference(demo_ws, fr, period, segs)
        for s in (res.overall, *res.segments):
            part = subset(ref, s.key)
            pts = cadence.entity_points(part.groupby("account_id", as_index=False)[[*SUMS]].sum(), m)
            c, want = key_of(s), cadence.correlate(pts)
            got_q = c.quadrants
            assert got_q.counts == cadence.quadrants(pts).counts, label_of(s.key)
            assert c.correlation.n == want.n and c.correlation.code == want.code
            for name in ("r", "slope", "intercept", "p_value", "spearman"):
                a, b = getattr(c.correlation, name), getattr(want, name)
                assert (a is None and b is None) or a == pytest.approx(b, rel=1e-9, abs=1e-12), (label_of(s.key), name)
            if period is fr.period:
                sens = cadence.sensitivity(pts, want)
                assert s.sensitivity.cutoff == sens.cutoff and s.sensitivity.trimmed_share == sens.trimmed_share
                assert s.sensitivity.code == sens.code and s.sensitivity.flag == sens.flag
    ref = _reference(demo_ws, fr, fr.period, segs)
    e = ref[ref["leads"] >= m].sort_values(["leads", *segs, "account_id"], ascending=[False] + [True] * (len(segs) + 1), kind="mergesort").head(MAX_ENTITY_POINTS)
    want_points = [{"x": r["touches"] / r["leads"], "y": r["conversions"] / r["leads"], "n": int(r["leads"]), "segment": label_of({c: r[f"seg_{c}"] for c in fr.segment_by}), "id": str(r["account_id"])} for r in e.to_dict("records")]
    assert len(want_points) > 400 and res.scatter["points"] == want_points
