"""Journeys built in the engine: touches and web sessions → channel paths per lead.

A *touch* is a web session start (a ``page_view`` that opens a session: first event of the
visitor, more than ``session_gap_minutes`` after the previous one, or carrying UTMs; a mere
referrer inside a session is internal navigation) labelled with its channel (:func:`channel_label`), or a sales touch (``touches``,
labelled ``sales_<channel>``). Visitors are stitched to leads through any event where
``web_events.lead_id`` is set. A journey is the touches of one lead (or of one anonymous
visitor never identified) within ``lookback_days`` before its conversion — the first time
the lead reaches ``conversion_stage`` — or, for a journey that does not convert, before its
last touch. Everything here stays an Ibis expression until the final aggregate: path counts,
channel-set counts, time-decay credits and the time-to-conversion histogram.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from levier.analysis.attribution.paths import SEPARATOR, PathCounts
from levier.analysis.attribution.result import Attribution
from levier.analysis.attribution.rules import time_decay_weights
from levier.data.parts import Part, add_frames, count_for, in_part, part_count
from levier.data.parts import parts as all_parts
from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = [
    "JourneyOptions", "TimeToConversion", "channel_label", "touch_events", "conversions",
    "journey_touches", "journey_parts", "part_list", "earliest_touch", "converted_journeys", "conversion_parts", "conversion_minutes", "path_counts", "set_counts", "time_decay", "time_to_conversion",
    "session_starts",
]

PAID_SEARCH = ("cpc", "ppc", "paid", "paid_search", "paidsearch", "sem")
PAID_SOCIAL = ("paid_social", "paidsocial", "social_paid", "social-paid")
EMAIL = ("email", "e-mail", "newsletter", "mail")
ORGANIC = ("organic", "seo")
REFERRAL = ("referral", "ref")
SOCIAL = ("social", "social_organic", "organic_social", "social-network")
DISPLAY = ("display", "cpm", "banner")
SEARCH_HOSTS = r"(google|bing|duckduckgo|qwant|yahoo|ecosia|yandex|baidu)\."
SOCIAL_HOSTS = r"(facebook|linkedin|twitter|instagram|youtube|tiktok|t\.co|x\.com|lnkd\.in)"
SOURCES = ("web", "touches")


@dataclass(frozen=True)
class JourneyOptions:
    """How journeys are cut: conversion stage, lookback window, period, sources."""

    conversion_stage: str = "opportunity"
    lookback_days: float = 30.0
    start: datetime | None = None  # journeys ending (conversion / last touch) in [start, end)
    end: datetime | None = None
    sources: tuple[str, ...] = SOURCES
    session_gap_minutes: float = 30.0
    won_value_only: bool = False  # value = amount of won deals only (default: every deal)
    level: str = "channel"  # or "campaign": labels become channel/campaign
    internal_hosts: tuple[str, ...] = ()  # the site's own hosts: such a referrer means direct

    def __post_init__(self) -> None:
        if self.lookback_days <= 0:
            raise OptionError(_("The lookback window must be positive, not {value} days.", value=self.lookback_days))
        unknown = [s for s in self.sources if s not in SOURCES]
        if unknown or not self.sources:
            raise OptionError(_("Unknown journey source(s) {names}; use web and/or touches.", names=", ".join(unknown) or "∅"))
        if self.level not in ("channel", "campaign"):
            raise OptionError(_("--level must be channel or campaign, not '{value}'.", value=self.level))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"] = self.start.isoformat() if self.start else None
        out["end"] = self.end.isoformat() if self.end else None
        out["sources"] = list(self.sources)
        out["internal_hosts"] = list(self.internal_hosts)
        return out


def channel_label(medium: ir.StringValue, source: ir.StringValue, referrer: ir.StringValue) -> ir.StringValue:
    """UTM medium / source and referrer → channel (paid_search, email, organic, … direct)."""
    m, s, r = medium.lower().strip(), source.lower().strip(), referrer.lower().strip()
    return ibis.cases(
        (m.isin(PAID_SEARCH), "paid_search"), (m.isin(PAID_SOCIAL), "paid_social"), (m.isin(EMAIL), "email"),
        (m.isin(ORGANIC), "organic"), (m.isin(REFERRAL), "referral"), (m.isin(SOCIAL), "social"),
        (m.isin(DISPLAY), "display"), (m.notnull() & (m != ""), m),
        (s.notnull() & (s != ""), "other"),
        (r.re_search(SEARCH_HOSTS), "organic"), (r.re_search(SOCIAL_HOSTS), "social"),
        (r.notnull() & (r != ""), "referral"),
        else_="direct",
    )


def _whole_visitors(w: ir.Table, part: Part | None) -> ir.Table:
    """The web events of the visitors whose journeys may fall in ``part`` (all of them for one part).

    The session window partitions by ``anonymous_id`` and the journey windows by journey, so a
    part keeps *whole visitors*, chosen by the journeys their events can land in: a visitor's
    events go to the journeys of the leads it carries (an event with ``lead_id``: that lead; one
    without: the visitor's stitched lead, one of them), or to ``anon:<anonymous_id>`` when it carries
    none. A visitor enters every part one of those keys hashes into (a visitor linked to two leads
    may be sessionised in two parts), and :func:`_web_touches` then keeps the touches whose
    journey hashes into the part: every journey lands whole in exactly one part (decision 0206).
    """
    if part is None or part[1] <= 1:
        return w
    linked = in_part(w.filter(w.lead_id.notnull()), "lead_id", part).select("anonymous_id")
    per = w.group_by("anonymous_id").agg(leads=w.lead_id.count())
    anon = per.filter(per.leads == 0)
    anon = in_part(anon, ibis.literal("anon:") + anon.anonymous_id, part).select("anonymous_id")
    members = ibis.union(linked, anon, distinct=True)
    return w.semi_join(members, "anonymous_id")


def session_starts(w: ir.Table, gap: float, by: Sequence[str] = (), *, bounces: bool = True) -> ir.Table:
    """The page views of ``w`` that open a session, with ``alone`` (1: the session's only event;
    ``bounces=False``: not computed, one window function instead of three).

    A session opens at a visitor's first event, after a gap over ``gap`` seconds, or on a tagged
    (UTM) page view; it is alone when nothing follows within the gap before the next tagged one.
    One window per visitor (and per ``by`` column, e.g. a KPI period): callers split the visitors
    into hash parts before it on large embedded workspaces (decision 0206). The one definition of
    a session and a bounce for the web funnel and the web KPIs.
    """
    win = ibis.window(group_by=[w.anonymous_id, *(w[c] for c in by)], order_by=[w.at, w.event_id])
    marks = {"prev_at": w.at.lag().over(win)}
    if bounces:
        marks |= {"next_at": w.at.lead().over(win), "next_tagged": (w.utm_medium.notnull() | w.utm_source.notnull()).lead().over(win)}
    ev = w.mutate(**marks)
    opens = (ev.type == "page_view") & (ev.prev_at.isnull() | ((ev.at.epoch_seconds() - ev.prev_at.epoch_seconds()) > gap)
                                        | ev.utm_medium.notnull() | ev.utm_source.notnull())
    if not bounces:
        return ev.filter(opens).drop("prev_at")
    alone = ev.next_at.isnull() | ((ev.next_at.epoch_seconds() - ev.at.epoch_seconds()) > gap) | ev.next_tagged.fill_null(False)
    return ev.filter(opens).mutate(alone=alone.cast("int64")).drop("prev_at", "next_at", "next_tagged")



def _web_touches(ws: Any, opts: JourneyOptions, part: Part | None = None) -> ir.Table:
    w = _whole_visitors(ws.table("web_events"), part)
    known = w.filter(w.lead_id.notnull()).group_by("anonymous_id").agg(stitched=w.lead_id.max())
    s = session_starts(w, opts.session_gap_minutes * 60, bounces=False)
    s = s.left_join(known, s.anonymous_id == known.anonymous_id)
    lead = s.lead_id.coalesce(s.stitched)
    referrer = s.referrer
    for host in opts.internal_hosts:
        referrer = ibis.ifelse(referrer.lower().contains(host.lower()), ibis.null("string"), referrer)
    out = s.select(
        journey=lead.coalesce(ibis.literal("anon:") + s.anonymous_id), lead_id=lead, at=s.at,
        channel=channel_label(s.utm_medium, s.utm_source, referrer), campaign=s.utm_campaign,
    )
    return in_part(out, "journey", part)


def earliest_touch(opts: JourneyOptions) -> datetime | None:
    """The oldest sales touch a journey of the period can keep: ``start`` minus the lookback (None: no start).

    A journey of the period ends at or after ``start`` and keeps the touches within ``lookback_days``
    before its end, so an older sales touch is in no output row; removing it before the journey
    windows changes none of their values either (a journey's last touch, conversion and value come
    from its newer touches, or the journey had none and is cut anyway). Web events are not cut:
    an older event can decide whether a newer one opens a session (decision 0248).
    """
    return opts.start - timedelta(days=opts.lookback_days) if opts.start else None


def _sales_touches(ws: Any, part: Part | None = None, since: datetime | None = None) -> ir.Table:
    t = ws.table("touches")
    if since is not None:
        t = t.filter(t.at >= ibis.literal(since, "timestamp"))
    t = in_part(t, "lead_id", part)
    return t.select(journey=t.lead_id, lead_id=t.lead_id, at=t.at,
                    channel=ibis.literal("sales_") + t.channel.lower(), campaign=t.campaign_id)


def touch_events(ws: Any, opts: JourneyOptions | None = None, part: Part | None = None) -> ir.Table:
    """Every touch: journey, lead_id (nullable), at, channel, campaign.

    ``part`` ``(i, n)``: the touches of the journeys hashing into part ``i`` of ``n``, filtered
    before the session window (whole visitors, :func:`_whole_visitors`).
    """
    opts = opts or JourneyOptions()
    sides = []
    if "web" in opts.sources:
        sides.append(_web_touches(ws, opts, part))
    if "touches" in opts.sources:
        sides.append(_sales_touches(ws, part, earliest_touch(opts)))
    out = sides[0] if len(sides) == 1 else ibis.union(*sides)
    if opts.level == "campaign":
        out = out.mutate(channel=out.channel + "/" + out.campaign.fill_null("(none)"))
    return out.filter(out.at < opts.end) if opts.end else out


def conversions(ws: Any, opts: JourneyOptions | None = None) -> ir.Table:
    """lead_id, conv_at (first time the conversion stage is reached), value (deal amounts)."""
    opts = opts or JourneyOptions()
    st = ws.table("stage_events")
    reached = st.filter(st.stage == opts.conversion_stage).select("lead_id", "at")
    stages = tuple(getattr(getattr(ws, "config", None), "stages", ()) or ())
    if stages and opts.conversion_stage == stages[0]:  # the entry stage: creation counts too
        leads = ws.table("leads")
        reached = ibis.union(reached, leads.select(lead_id=leads.lead_id, at=leads.created_at))
    if opts.end:
        reached = reached.filter(reached.at < opts.end)
    conv = reached.group_by("lead_id").agg(conv_at=reached.at.min())
    d = ws.table("deals")
    d = d.filter(d.lead_id.notnull() & (d.amount > 0))
    if opts.won_value_only:
        d = d.filter(d.won.fill_null(False))
    values = d.group_by("lead_id").agg(deal_value=d.amount.sum())
    j = conv.left_join(values, conv.lead_id == values.lead_id)
    return j.select(lead_id=j.lead_id, conv_at=j.conv_at, value=j.deal_value.fill_null(0.0).cast("float64"))


#: the tables a journey query reads (their rows decide the hash parts, decision 0181)
JOURNEY_TABLES = ("touches", "web_events")


def journey_parts(ws: Any, opts: JourneyOptions | None = None) -> int:
    """How many hash parts of the journeys the engine queries run on (1: all at once).

    DuckDB's window operator holds a whole partitioned input in memory (a per-journey MAX over
    82M touches fails within a 2 GB memory_limit, where 8.2M fit): see :mod:`levier.data.parts`.
    Sized on the rows the windows read: with a period start (``opts.start``), only the sales
    touches from :func:`earliest_touch` on, and every web event.
    """
    since = earliest_touch(opts) if opts is not None else None
    if since is None or ws.facts.backend_name != "duckdb":
        return part_count(ws, JOURNEY_TABLES)
    t = ws.facts.raw("touches")
    return count_for(ws, int(t.filter(t.at >= ibis.literal(since, "timestamp")).count().execute()) + ws.facts.count("web_events"))


def part_list(ws: Any, parts: int | None = None, opts: JourneyOptions | None = None) -> list[Part]:
    """The hash parts a journey query runs on: ``parts`` of them, or :func:`journey_parts` (of ``opts``)
    when ``None`` (a caller running several queries counts once and passes the number down)."""
    return all_parts(journey_parts(ws, opts) if parts is None else parts)


def journey_touches(ws: Any, opts: JourneyOptions | None = None, part: Part | None = None) -> ir.Table:
    """Touches kept in their journey's lookback window, with the journey's outcome.

    Columns: journey, at, channel, campaign, converted (int 0/1), end_at, value. ``part``
    ``(i, n)`` keeps the journeys whose hash falls in part ``i`` of ``n``, filtered before every
    window (the session window included: :func:`touch_events`).
    """
    opts = opts or JourneyOptions()
    ev = touch_events(ws, opts, part).view()
    conv = in_part(conversions(ws, opts), "lead_id", part)
    conv = conv.select(conv_lead=conv.lead_id, conv_at=conv.conv_at, value=conv.value)
    j = ev.left_join(conv, ev.lead_id == conv.conv_lead)
    j = j.select("journey", "at", "channel", "campaign", "conv_at", "value")
    j = j.filter(j.conv_at.isnull() | (j.at <= j.conv_at))
    per = ibis.window(group_by=j.journey)
    j = j.mutate(last_at=j.at.max().over(per), jconv=j.conv_at.max().over(per), jvalue=j.value.max().over(per))
    end_at = j.jconv.coalesce(j.last_at)
    j = j.mutate(end_at=end_at, converted=j.jconv.notnull().cast("int64"), value=j.jvalue.fill_null(0.0))
    lookback = opts.lookback_days * 86400.0
    j = j.filter((j.end_at.epoch_seconds() - j.at.epoch_seconds()) <= lookback)
    if opts.start:
        j = j.filter(j.end_at >= opts.start)
    if opts.end:
        j = j.filter(j.end_at < opts.end)
    return j.select("journey", "at", "channel", "campaign", "converted", "end_at", "value")


def _per_journey(jt: ir.Table, path: ir.StringValue) -> ir.Table:
    return jt.group_by("journey").agg(path=path, converted=jt.converted.max(), value=jt.value.max())


def _reduce_frame(per: ir.Table) -> pd.DataFrame:
    agg = per.group_by("path").agg(
        conversions=per.converted.sum(), nulls=(1 - per.converted).sum(),
        value=(per.value * per.converted).sum(),
    )
    return agg.execute()


def _reduce(per: ir.Table) -> PathCounts:
    df = _reduce_frame(per)
    return PathCounts.from_arrays(df["path"].astype(str), df["conversions"], df["nulls"], df["value"].fillna(0.0))


def _counts(frames: list[pd.DataFrame]) -> PathCounts:
    df = add_frames(frames, ["path"])
    return PathCounts.from_arrays(df["path"].astype(str), df["conversions"], df["nulls"], df["value"].fillna(0.0))


def path_counts(ws: Any, opts: JourneyOptions | None = None, *, parts: int | None = None) -> PathCounts:
    """Distinct paths (touches ordered by time) with conversions, nulls and value.

    The distinct paths grow with the data: workspace attribution does not use this any more
    (:mod:`levier.analysis.attribution.engine` returns per-channel / per-state aggregates);
    it stays for exports, tests and the path-based reference. ``parts``: the hash parts of the
    journeys (:func:`journey_parts` when not given), one query each, their paths added.
    """
    frames = []
    for part in part_list(ws, parts, opts):
        jt = journey_touches(ws, opts, part)
        ordered = ibis.struct({"at": jt.at, "channel": jt.channel}).collect().sort().map(lambda s: s.channel)
        frames.append(_reduce_frame(_per_journey(jt, ordered.join(SEPARATOR))))
    return _counts(frames)


def set_counts(ws: Any, opts: JourneyOptions | None = None, *, parts: int | None = None) -> PathCounts:
    """Distinct channel *sets* (sorted) with conversions, nulls and value: Shapley's input
    (one query per hash part of the journeys, as :func:`path_counts`)."""
    frames = []
    for part in part_list(ws, parts, opts):
        jt = journey_touches(ws, opts, part)
        frames.append(_reduce_frame(_per_journey(jt, jt.channel.collect(distinct=True).sort().join(SEPARATOR))))
    return _counts(frames)


def _decay_frame(ws: Any, opts: JourneyOptions | None, half_life_days: float, part: Part) -> pd.DataFrame:
    """Per channel: time-decay credits and value, and each converting journey counted (and its
    value) once, spread as 1/touches over its touches — one window pass for both."""
    jt = journey_touches(ws, opts, part)
    jt = jt.filter(jt.converted == 1)
    age_days = (jt.end_at.epoch_seconds() - jt.at.epoch_seconds()).cast("float64") / 86400.0
    jt = jt.mutate(w=(age_days * (-np.log(2.0) / half_life_days)).exp())
    per = ibis.window(group_by=jt.journey)
    jt = jt.mutate(share=jt.w / jt.w.sum().over(per), each=1.0 / jt.w.count().over(per).cast("float64"))
    agg = jt.group_by("channel").agg(conversions=jt.share.sum(), value=(jt.share * jt.value).sum(),
                                     journeys=jt.each.sum(), journey_value=(jt.each * jt.value).sum())
    return agg.execute()


def time_decay(ws: Any, opts: JourneyOptions | None = None, half_life_days: float = 7.0,
               channels: tuple[str, ...] | None = None, *, parts: int | None = None) -> Attribution:
    """Time-decay credits computed in the engine: weight 2^(−age/half-life), normalised per journey.

    ``channels``: every channel of the journeys (sorted), when the caller already has them
    (:func:`levier.analysis.attribution.engine.journey_summary`); else one engine query finds them.
    ``parts``: the hash parts of the journeys (:func:`journey_parts` when not given), one query
    each (the share is normalised within a journey, which lands whole in one part).
    """
    time_decay_weights(np.zeros(1), half_life_days)  # validates the half-life
    n_parts = journey_parts(ws, opts) if parts is None else parts
    df = add_frames([_decay_frame(ws, opts, half_life_days, part) for part in part_list(ws, n_parts)], ["channel"])
    n = float(round(np.nan_to_num(df["journeys"].to_numpy(dtype=float)).sum()))  # Σ 1/touches over touches: whole journeys
    v = float(np.nan_to_num(df["journey_value"].to_numpy(dtype=float)).sum())
    if channels is None:
        from levier.analysis.attribution.engine import journey_summary

        channels = journey_summary(ws, opts, parts=n_parts).channels
    got = {c: (x, y) for c, x, y in zip(df["channel"], df["conversions"], df["value"], strict=True) if isinstance(c, str)}
    return Attribution(
        "time_decay", channels, tuple(float(got.get(c, (0.0, 0.0))[0]) for c in channels),
        tuple(float(got.get(c, (0.0, 0.0))[1]) for c in channels), n, v, {"half_life_days": half_life_days},
    )


@dataclass(frozen=True)
class TimeToConversion:
    """Days from the first touch of a converting journey (in the window) to its conversion."""

    journeys: int
    median_days: float | None
    p90_days: float | None
    mean_days: float | None
    resolution: str = "1 minute"
    histogram: tuple[tuple[int, int], ...] = field(default=(), repr=False)  # (minutes, journeys)

    def to_dict(self) -> dict[str, Any]:
        return {"journeys": self.journeys, "median_days": self.median_days, "p90_days": self.p90_days,
                "mean_days": self.mean_days, "resolution": self.resolution}


def converted_journeys(ws: Any, opts: JourneyOptions | None = None, part: Part | None = None) -> ir.Table:
    """Each journey converting in the period: ``journey``, ``first`` (its first kept touch), ``end_at``
    (its conversion) — the converted journeys of :func:`journey_touches`, without a journey window.

    Only a lead's journey converts (an anonymous visitor's never does), every one of its touches carries
    the lead, and it ends at the lead's conversion: so its kept touches are those of the lead up to the
    conversion and within the lookback before it, a join and a ``GROUP BY`` (which spill). The only
    window left is the web sessions' (:func:`touch_events`), so the hash parts are sized on the web
    events (:func:`conversion_parts`; decision 0248).
    """
    opts = opts or JourneyOptions()
    ev = touch_events(ws, opts, part).view()
    conv = in_part(conversions(ws, opts), "lead_id", part)
    conv = conv.select(conv_lead=conv.lead_id, conv_at=conv.conv_at)
    if opts.start:
        conv = conv.filter(conv.conv_at >= opts.start)
    if opts.end:
        conv = conv.filter(conv.conv_at < opts.end)
    j = ev.join(conv, ev.lead_id == conv.conv_lead)
    j = j.filter((j.at <= j.conv_at) & ((j.conv_at.epoch_seconds() - j.at.epoch_seconds()) <= opts.lookback_days * 86400.0))
    return j.group_by("journey").agg(first=j.at.min(), end_at=j.conv_at.max())


def conversion_parts(ws: Any) -> int:
    """Hash parts for :func:`converted_journeys`: its only window is the web sessions', so one per
    ``PART_ROWS`` web events (1 on other engines)."""
    return part_count(ws, ("web_events",))


def conversion_minutes(ws: Any, opts: JourneyOptions | None = None, *, parts: int | None = None, keys: Sequence[str] = (),
                       shape: Callable[[ir.Table], ir.Table] | None = None) -> pd.DataFrame:
    """The converted journeys counted by whole minutes ``m`` from their first kept touch to their conversion
    (``n``), per ``keys`` columns that ``shape`` adds (and may filter on), one query per hash part, added
    (:func:`conversion_parts` when ``parts`` is not given)."""
    frames = []
    for part in all_parts(conversion_parts(ws) if parts is None else parts):
        per = converted_journeys(ws, opts, part)
        per = per.mutate(m=((per.end_at.epoch_seconds() - per.first.epoch_seconds()) / 60).floor().cast("int64"))
        per = shape(per) if shape is not None else per
        frames.append(per.group_by([*keys, "m"]).agg(n=ibis._.count()).execute())
    return add_frames(frames, [*keys, "m"])


def time_to_conversion(ws: Any, opts: JourneyOptions | None = None, *, parts: int | None = None) -> TimeToConversion:
    """Exact quantiles (to the minute) from an engine histogram of minutes to conversion (:func:`conversion_minutes`)."""
    from levier.analysis.stats import weighted_quantile

    hist = conversion_minutes(ws, opts, parts=parts).sort_values("m")
    if hist.empty:
        return TimeToConversion(0, None, None, None)
    vals, cnt = hist["m"].to_numpy(dtype=float), hist["n"].to_numpy(dtype=float)
    q = [weighted_quantile(vals, cnt, p) for p in (0.5, 0.9)]
    day = 1440.0
    return TimeToConversion(
        int(cnt.sum()), None if q[0] is None else q[0] / day, None if q[1] is None else q[1] / day,
        float((vals * cnt).sum() / cnt.sum() / day), histogram=tuple(zip(vals.astype(int).tolist(), cnt.astype(int).tolist(), strict=False)),
    )
