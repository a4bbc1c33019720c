"""Marketing: Markov-chain journeys → web events (stitched for inbound leads) and spend."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from levier.data.demo import truth as T
from levier.data.demo._arrow import ids, labels, timestamps
from levier.data.demo.leads import CAMPAIGNS, LeadChunk, campaign_index

__all__ = ["Journeys", "simulate_journeys", "web_columns", "SpendLedger", "N_STATES"]

CHANNEL_STATES = T.JOURNEY_STATES[1:7]
N_STATES = len(CHANNEL_STATES)
CONV, NULL = N_STATES, N_STATES + 1
EXTRACTION = T.EXTRACTION.astype(np.int64)
_CUM = np.cumsum(T.TRANSITIONS, axis=1)
_TYPES = ("page_view", "form_start", "form_submit")
_INNER_PAGES = ("/tarifs", "/fonctionnalites", "/cas-clients", "/a-propos", "/blog")


@dataclass
class Journeys:
    """Sessions of a chunk's visitors: ``visitor`` / ``state`` per session, in order."""

    visitor: np.ndarray  # chunk-local visitor index per session
    state: np.ndarray  # channel state 0..5 per session
    converted: np.ndarray  # per visitor
    transitions: np.ndarray  # counts [from start+6 channels, to 6 channels + conv + null]


def _walk(rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run ``m`` chains from ``start`` until absorption (no step cap: the chain is exact)."""
    vis, step, st = [], [], []
    active, cur, n = np.arange(m), np.zeros(m, np.int64), 0
    outcome = np.zeros(m, np.int64)
    while active.size:
        nxt = np.minimum((rng.random(active.size)[:, None] > _CUM[cur]).sum(axis=1), N_STATES + 1)
        moving = nxt < N_STATES
        outcome[active[~moving]] = nxt[~moving]
        vis.append(active[moving]), step.append(np.full(int(moving.sum()), n)), st.append(nxt[moving])
        active, cur, n = active[moving], nxt[moving] + 1, n + 1
    return np.concatenate(vis), np.concatenate(step), np.concatenate(st), outcome


def simulate_journeys(rng: np.random.Generator, conversions: int) -> Journeys:
    """Visitors from the chain, stopped at the ``conversions``-th converting visitor."""
    batch = max(64, int(conversions * 4.0))
    while True:
        vis, step, st, outcome = _walk(rng, batch)
        conv_cum = np.cumsum(outcome == CONV)
        if conv_cum[-1] >= conversions:
            break
        batch *= 2
    m = int(np.searchsorted(conv_cum, conversions) + 1) if conversions else int(batch // 4)
    keep = vis < m
    order = np.lexsort((step[keep], vis[keep]))
    vis, st = vis[keep][order], st[keep][order]
    counts = np.zeros((N_STATES + 1, N_STATES + 2), np.int64)
    prev = np.where(np.r_[True, vis[1:] != vis[:-1]], 0, np.r_[0, st[:-1]] + 1)
    np.add.at(counts, (prev, st), 1)
    last = np.r_[vis[1:] != vis[:-1], True]
    np.add.at(counts, (st[last] + 1, outcome[vis[last]]), 1)
    return Journeys(vis, st, outcome[:m] == CONV, counts)


def _session_campaign(rng: np.random.Generator, state: np.ndarray, at: np.ndarray) -> np.ndarray:
    camp = np.full(state.size, -1, np.int64)
    for s, name in enumerate(CHANNEL_STATES):
        names = T.UTM[name][2]
        idx = np.flatnonzero(state == s)
        if not names or not idx.size:
            continue
        if name == "email":
            month = at[idx].astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
            first = np.datetime64("2026-06", "M").astype(np.int64)
            pick = np.clip(month - first, 0, len(names) - 1)
        else:
            pick = rng.integers(0, len(names), idx.size)
        camp[idx] = np.array([campaign_index(c) for c in names])[pick]
    return camp


def _landings(rng: np.random.Generator, j: Journeys, c: LeadChunk, inbound: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Landing time of every session, and the page-view count per session."""
    n_vis = j.converted.size
    extra = rng.integers(0, 3, j.visitor.size)  # in-site page views after the landing
    dur = extra * 150 + 300  # landing → (form_start at +150) → form_submit at +300
    end = np.zeros(n_vis, np.int64)  # end of the last session (form_submit for converters)
    end[j.converted] = c.created[inbound]
    span = int(EXTRACTION - 7200 - T.START.astype(np.int64))
    end[~j.converted] = T.START.astype(np.int64) + rng.integers(0, span, int((~j.converted).sum()))
    last = np.r_[j.visitor[1:] != j.visitor[:-1], True]
    gap = 1800 + rng.exponential(2 * 86400, j.visitor.size).astype(np.int64)
    # walk backwards: landing[last] = end - dur; landing[i] = landing[i+1] - gap[i] - dur[i]
    back = np.where(last, dur, dur + gap)
    rev = back[::-1]
    grp = j.visitor[::-1]
    csum = np.cumsum(rev)
    first_of_grp = np.r_[True, grp[1:] != grp[:-1]]
    base = np.maximum.accumulate(np.where(first_of_grp, csum - rev, 0))
    landing = (end[grp] - (csum - base))[::-1]
    return landing, extra


def web_columns(rng: np.random.Generator, j: Journeys, c: LeadChunk, first_event: int,
                first_visitor: int, width: int, spend: SpendLedger) -> dict[str, pa.Array]:
    """Web events of the chunk; sets ``c.campaign`` of inbound leads to their last session's."""
    inbound = np.flatnonzero((c.channel == 0) & ~c.vip)
    landing, extra = _landings(rng, j, c, inbound)
    camp = _session_campaign(rng, j.state, landing)
    spend.add(j.state, landing, camp)
    last = np.r_[j.visitor[1:] != j.visitor[:-1], True]
    conv = j.converted[j.visitor]
    form = last & (conv | (rng.random(j.visitor.size) < T.FORM_ABANDON_SHARE))
    submit = last & conv
    lead_of_visitor = np.full(j.converted.size, -1, np.int64)
    lead_of_visitor[j.converted] = inbound
    c.campaign[inbound] = camp[last & conv]
    n_ev = 1 + extra + form + submit
    sess = np.repeat(np.arange(j.visitor.size), n_ev)
    pos = np.arange(sess.size) - np.repeat(np.cumsum(n_ev) - n_ev, n_ev)
    kind = np.where(pos == 0, 0, np.where(pos <= extra[sess], 1, np.where(pos == 1 + extra[sess], 2, 3)))
    at = landing[sess] + np.where(kind == 3, extra[sess] * 150 + 300, pos * 150)  # submit = session end
    etype = np.select([kind <= 1, kind == 2], [0, 1], 2)
    state = j.state[sess]
    pages = np.array([T.UTM[s][4][0] for s in CHANNEL_STATES])[state]
    alt = np.array([T.UTM[s][4][-1] for s in CHANNEL_STATES])[state]
    page = np.where(rng.random(sess.size) < 0.5, pages, alt)
    page = np.where(kind == 1, np.array(_INNER_PAGES)[rng.integers(0, len(_INNER_PAGES), sess.size)], page)
    page = np.where(kind >= 2, T.FORM_PAGE, page)
    landing_ev = kind == 0
    utm_src = np.array([T.UTM[s][0] for s in CHANNEL_STATES], dtype=object)[state]
    utm_med = np.array([T.UTM[s][1] for s in CHANNEL_STATES], dtype=object)[state]
    ref = np.array([T.UTM[s][3] for s in CHANNEL_STATES], dtype=object)[state]
    ref = np.where(landing_ev, ref, T.OWN_HOST)
    lead = lead_of_visitor[j.visitor[sess]]
    ev_camp = camp[sess]
    return {
        "event_id": ids("E", first_event + np.arange(sess.size), 10),
        "anonymous_id": ids("anon-", first_visitor + j.visitor[sess], 9),
        "lead_id": pc.if_else(pa.array(lead >= 0), ids("L", c.start + np.maximum(lead, 0), width),
                              pa.scalar(None, pa.string())),
        "at": timestamps(at),
        "type": labels(_TYPES, etype),
        "page": pa.array(page.astype(str)),
        "utm_source": pa.array(np.where(landing_ev, utm_src, None), pa.string()),
        "utm_medium": pa.array(np.where(landing_ev, utm_med, None), pa.string()),
        "utm_campaign": labels(CAMPAIGNS, np.maximum(ev_camp, 0), mask=(ev_camp < 0) | ~landing_ev),
        "referrer": pa.array(ref, pa.string()),
        "variant": pa.nulls(sess.size, pa.string()),
    }


class SpendLedger:
    """Paid sessions per day × campaign, turned into ``spend`` rows at the end."""

    def __init__(self) -> None:
        self.first_day = T.SPEND_START.astype(np.int64)
        self.days = int((T.EXTRACTION.astype("datetime64[D]") - T.SPEND_START).astype(np.int64))
        self.counts = np.zeros((self.days, len(CAMPAIGNS)), np.int64)

    def add(self, state: np.ndarray, landing: np.ndarray, camp: np.ndarray) -> None:
        paid = np.isin(state, [CHANNEL_STATES.index(s) for s in T.SPEND_SOURCES]) & (camp >= 0)
        day = landing[paid] // T.DAY - self.first_day
        ok = (day >= 0) & (day < self.days)
        np.add.at(self.counts, (day[ok], camp[paid][ok]), 1)

    def columns(self, rng: np.random.Generator) -> dict[str, pa.Array]:
        day, camp = np.nonzero(self.counts)
        src_of = {campaign_index(cn): T.SPEND_SOURCES[s] for s in T.SPEND_SOURCES for cn in T.UTM[s][2]}
        cpc_of = {campaign_index(cn): T.COST_PER_SESSION[s] for s in T.SPEND_SOURCES for cn in T.UTM[s][2]}
        cost = self.counts[day, camp] * np.array([cpc_of[x] for x in camp]) * rng.lognormal(0, 0.15, day.size)
        return {
            "date": pa.array((self.first_day + day).astype("datetime64[D]"), pa.date32()),
            "source": pa.array([src_of[x] for x in camp], pa.string()),
            "campaign_id": labels(CAMPAIGNS, camp),
            "cost": pa.array(np.round(cost, 2), pa.float64()),
            "currency": pa.array(np.full(day.size, "EUR")),
        }
