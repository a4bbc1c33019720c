"""Engine-side reductions of the per-lead facts to sufficient statistics.

Each function runs one ``GROUP BY`` in the engine and returns a small pandas frame whose size
depends on the number of distinct cells (segments × touch counts, TTF minutes, entities),
never on the number of leads or touches. Segment columns are named ``seg_<column>``.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from levier.analysis.perlead import UNKNOWN

__all__ = ["seg_cols", "cells", "ttf_histogram", "last_day_histogram", "entities", "accounts", "clusters", "daily_volume", "rep_daily_max", "top_leads", "TTF_FINE_MINUTES", "CLUSTER_KEYS", "TOP_LEADS"]

#: TTF is kept at 1-minute resolution below this many minutes (48 h), at 1-hour resolution above.
TTF_FINE_MINUTES = 48 * 60
DAILY_CAP = 8  # daily touch counts above this are pooled in the top cell


def seg_cols(segment_by: tuple[str, ...]) -> list[str]:
    return [f"seg_{c}" for c in segment_by]


def _run(expr: ir.Table) -> pd.DataFrame:
    return expr.execute()


def cells(facts: ir.Table, segs: list[str]) -> pd.DataFrame:
    """Leads per (segment, x, converted) with the guardrail and quality sums of each cell."""
    agg = facts.group_by([*segs, "x", "converted"]).agg(
        n=facts.count(),
        effective=facts.effective.sum(),
        out_touches=facts.out_touches.sum(),
        complaints=facts.complaints.sum(),
        unsubscribes=facts.unsubscribes.sum(),
        replies=facts.replies.sum(),
        meetings=facts.meetings.sum(),
        censored=facts.censored.sum(),
        contacted=(facts.ttf_s.notnull()).cast("int64").sum(),
    )
    return _run(agg)


def ttf_histogram(facts: ir.Table, segs: list[str]) -> pd.DataFrame:
    """Contacted leads per (segment, TTF bucket in minutes, converted)."""
    f = facts.filter(facts.ttf_s.notnull())
    minutes = (f.ttf_s / 60).floor().cast("int64")
    bucket = ibis.cases((minutes < TTF_FINE_MINUTES, minutes), else_=(minutes / 60).floor().cast("int64") * 60)
    f = f.mutate(ttf_min=bucket)
    return _run(f.group_by([*segs, "ttf_min", "converted"]).agg(n=f.count()))


def last_day_histogram(facts: ir.Table, segs: list[str]) -> pd.DataFrame:
    """Converted, contacted leads per (segment, day of their last counted touch)."""
    f = facts.filter((facts.converted == 1) & facts.last_day.notnull())
    return _run(f.group_by([*segs, "last_day"]).agg(n=f.count()))


def entities(facts: ir.Table, segs: list[str], column: str) -> pd.DataFrame:
    """Per (segment, entity): leads, Σ touches, conversions, complaints, out touches."""
    return _run(
        facts.group_by([*segs, column]).agg(
            leads=facts.count(),
            touches=facts.x.sum(),
            conversions=facts.converted.sum(),
            complaints=facts.complaints.sum(),
            out_touches=facts.out_touches.sum(),
            vip=facts.vip.max(),
        )
    )


#: the flags whose combinations :func:`clusters` counts
CLUSTER_KEYS = ("vip", "litigation", "do_not_contact", "opted_out")
#: the leads :func:`top_leads` returns
TOP_LEADS = 5


def accounts(facts: ir.Table, segs: list[str], min_leads: int) -> tuple[ir.Table, pd.DataFrame]:
    """:func:`entities` by account, kept in the engine, and the moments of the leads per account.

    Returns the expression of the per (segment, account) rows of the accounts with at least
    ``min_leads`` leads over all segments (and of the ``"unknown"`` account) — the caller keeps
    them in the engine (``levier.analysis.accounts``) — and one row of moments of the leads per
    known account: ``accounts`` (count), ``leads`` (Σ), ``leads_sq`` (Σ²). Exact when ``facts``
    hold every lead of each account they hold (the audit's hash parts are by account). ``segs``
    may be empty: totals per account, what the dashboard, clusters and outliers read (the audit
    asks per segment only for the account unit's points).
    """
    ent = facts.group_by([*segs, "account_id"]).agg(
        leads=facts.count(), touches=facts.x.sum(), conversions=facts.converted.sum(),
        complaints=facts.complaints.sum(), out_touches=facts.out_touches.sum(), vip=facts.vip.max(),
    )
    tot = ent.group_by(t_acc=ent.account_id).agg(total=ent.leads.sum())
    j = ent.join(tot, ent.account_id == tot.t_acc)
    kept = j.filter((j.total >= min_leads) | (j.account_id == UNKNOWN)).select(*ent.columns)
    known = tot.filter(tot.t_acc != UNKNOWN)
    moments = known.agg(accounts=known.count(), leads=known.total.sum(), leads_sq=(known.total * known.total).sum())
    return kept, _run(moments).fillna(0).astype("int64")


def clusters(facts: ir.Table) -> pd.DataFrame:
    """Leads per flag combination (vip, litigation, do_not_contact, opted_out)."""
    keys = list(CLUSTER_KEYS)
    return _run(facts.group_by(keys).agg(n=facts.count(), conversions=facts.converted.sum(), touches=facts.x.sum()))


def daily_volume(touches: ir.Table, facts: ir.Table, segs: list[str]) -> pd.DataFrame:
    """Per (segment, touch channel, touches that lead got that day on that channel): guardrail counts.

    Also returns the all-channel rows with ``channel = "*"``.
    """
    out = touches.filter(touches.direction == "out")
    keep = facts.select("lead_id", *segs, hcat=facts.created_at, hz=facts.horizon)
    j = keep.join(out, keep.lead_id == out.lead_id)
    j = j.filter((j.at >= j.hcat) & (j.at < j.hz))
    outcome = j.outcome.fill_null("")
    j = j.mutate(day=j.at.truncate("D"), c=(outcome == "complaint").cast("int64"), u=(outcome == "unsubscribed").cast("int64"))
    per_channel = j.group_by(["lead_id", "day", *segs, "channel"]).agg(k=j.count(), c=j.c.sum(), u=j.u.sum())
    frames = []
    with per_channel.cache() as pc:
        per_day = pc.group_by(["lead_id", "day", *segs]).agg(k=pc.k.sum(), c=pc.c.sum(), u=pc.u.sum()).mutate(channel=ibis.literal("*"))
        for d in (pc, per_day):
            d = d.mutate(k=ibis.least(d.k, DAILY_CAP))
            frames.append(_run(d.group_by([*segs, "channel", "k"]).agg(days=d.count(), touches=d.k.sum(), complaints=d.c.sum(), unsubscribes=d.u.sum())))
    return pd.concat(frames, ignore_index=True)


def rep_daily_max(touches: ir.Table, start: object, end: object) -> pd.DataFrame:
    """Per touch owner in the period: outbound touches, active days and the busiest day."""
    t = touches.filter((touches.direction == "out") & (touches.at >= ibis.literal(start, "timestamp")) & (touches.at < ibis.literal(end, "timestamp")))
    d = t.group_by([t.owner.fill_null("unknown").name("owner"), t.at.truncate("D").name("day")]).agg(k=t.count())
    return _run(d.group_by("owner").agg(touches=d.k.sum(), days=d.count(), max_day=d.k.max(), busy_days=(d.k >= 150).cast("int64").sum()))


def top_leads(facts: ir.Table, k: int = TOP_LEADS) -> pd.DataFrame:
    """The ``k`` leads with the most contacts (for the outlier list)."""
    return _run(facts.order_by([facts.x.desc(), facts.lead_id]).limit(k).select("lead_id", "x", "converted", "complaints"))
