"""Plan a chunk of leads: attributes, cadence length, time to first touch, conversion draw."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from levier.data.demo import truth as T
from levier.data.demo._arrow import ids, labels, timestamps

__all__ = ["LeadChunk", "plan_leads", "lead_columns", "CAMPAIGNS", "campaign_index", "SOURCES"]

SOURCES = ("website", "prospecting_list", "event", "partner_referral")
PARTNERS = ("partenaire-cabinet-conseil", "partenaire-integrateur", "partenaire-editeur")
_SIZE_SLUG = ("pme", "mid", "ge")
SEQUENCES = tuple(f"seq-{c}-{s}" for c in T.CHANNELS for s in T.SIZES)
OUTBOUND = tuple(f"prospection-{s}-{q}" for s in _SIZE_SLUG for q in ("t3", "t4"))
CAMPAIGNS: tuple[str, ...] = (
    SEQUENCES + OUTBOUND + PARTNERS
    + tuple(c for state in T.UTM.values() for c in state[2])
)
_INDEX = {c: i for i, c in enumerate(CAMPAIGNS)}
OCTOBER = np.datetime64("2026-10-01T00:00:00", "s").astype(np.int64)


def campaign_index(name: str) -> int:
    return _INDEX[name]


@dataclass
class LeadChunk:
    """The plan of one chunk of leads (numpy arrays, one entry per lead)."""

    start: int  # global number of the first lead
    channel: np.ndarray
    size: np.ndarray
    segment: np.ndarray
    vip: np.ndarray
    dnc: np.ndarray
    litigation: np.ndarray
    account: np.ndarray
    country: np.ndarray
    created: np.ndarray  # seconds since epoch (UTC)
    owner: np.ndarray  # rep index
    k: np.ndarray  # planned cadence touches
    ttf: np.ndarray  # seconds from creation to the first touch
    treatment: np.ndarray  # -1 outside the experiment, 0 control, 1 treatment
    p: np.ndarray = field(default_factory=lambda: np.zeros(0))
    p_arms: np.ndarray = field(default_factory=lambda: np.zeros((2, 0)))  # p in control / treatment
    converted: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    opt_out: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    campaign: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    score: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # filled by later stages
    conv_at: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    opted_out_at: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # 0 = never
    created_recorded: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    score_recorded: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n(self) -> int:
        return int(self.channel.size)

    @property
    def numbers(self) -> np.ndarray:
        return self.start + np.arange(self.n, dtype=np.int64)


def _categorical(rng: np.random.Generator, probs: np.ndarray, n: int) -> np.ndarray:
    cum = np.cumsum(probs)
    return np.minimum(np.searchsorted(cum / cum[-1], rng.random(n), side="right"), len(probs) - 1)


def _created(rng: np.random.Generator, n: int) -> np.ndarray:
    days = (T.EXTRACTION - T.START).astype(np.int64) // T.DAY
    weekday = (np.arange(days) + 2) % 7  # 2026-07-01 is a Wednesday (0 = Monday)
    w = np.where(weekday >= 5, 0.35, 1.0)
    day = _categorical(rng, w, n)
    office = rng.random(n) < 0.85
    tod = np.where(office, np.clip(rng.normal(11.5, 3.0, n), 0, 23.99), rng.uniform(0, 24, n))
    return T.START.astype(np.int64) + day * T.DAY + (tod * 3600).astype(np.int64)


def _accounts(rng: np.random.Generator, size: np.ndarray, start: int) -> np.ndarray:
    ratio = (0.85, 0.5, 0.25)  # accounts per lead: enterprise accounts hold many leads
    account = np.zeros(size.size, np.int64)
    base = 0
    for s in range(3):
        idx = np.flatnonzero(size == s)
        m = max(1, int(np.ceil(idx.size * ratio[s])))
        account[idx] = base + rng.integers(0, m, idx.size)
        base += m
    return 100 + start + account


def _ttf(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    n = channel.size
    fast_share = np.array([T.TTF_FAST_SHARE[c] for c in T.CHANNELS])[channel]
    fast = rng.random(n) < fast_share
    quick = rng.uniform(180, T.TTF_THRESHOLD_HOURS * 3600 - 60, n)
    median = np.where(channel == 0, 10 * 3600, 20 * 3600)
    slow = T.TTF_THRESHOLD_HOURS * 3600 + 300 + np.minimum(median * rng.lognormal(0, 1.0, n), 3 * 86400)
    return np.where(fast, quick, slow).astype(np.int64)


def _touch_counts(rng: np.random.Generator, segment: np.ndarray, touches_per_lead: float) -> np.ndarray:
    k = np.zeros(segment.size, np.int64)
    for s, name in enumerate(T.SEGMENTS):
        idx = np.flatnonzero(segment == s)
        k[idx] = 1 + _categorical(rng, T.touch_weights(name, touches_per_lead), idx.size)
    return k


def _owners(rng: np.random.Generator, team: np.ndarray, reps: tuple[T.Rep, ...]) -> np.ndarray:
    owner = np.zeros(team.size, np.int64)
    for t, name in enumerate(T.TEAMS):
        pool = np.array([i for i, r in enumerate(reps) if r.team == name])
        idx = np.flatnonzero(team == t)
        owner[idx] = pool[rng.integers(0, pool.size, idx.size)]
    return owner


def plan_leads(rng: np.random.Generator, start: int, n: int, reps: tuple[T.Rep, ...],
               touches_per_lead: float) -> LeadChunk:
    """Draw everything about ``n`` leads except touch times (see :mod:`.touches`)."""
    channel = _categorical(rng, T.CHANNEL_SHARES, n)
    size = np.zeros(n, np.int64)
    for c in range(3):
        idx = np.flatnonzero(channel == c)
        size[idx] = _categorical(rng, T.SIZE_SHARES[c], idx.size)
    vip = rng.random(n) < T.VIP_SHARE
    channel[vip], size[vip] = 2, 2
    segment = 3 * channel + size
    account = _accounts(rng, size, start)
    account[vip] = 1 + rng.integers(0, T.VIP_ACCOUNTS, int(vip.sum()))
    acc_country = _categorical(rng, T.COUNTRY_SHARES, n + 200)
    country = np.where(vip, 0, acc_country[(account - 100 - start).clip(0, n + 199)])
    dnc = rng.random(n) < T.DNC_SHARE
    litigation = rng.random(n) < T.LITIGATION_SHARE
    created = _created(rng, n)
    owner = _owners(rng, T.team_of(channel, size), reps)
    k = _touch_counts(rng, segment, touches_per_lead)
    k[vip] = rng.integers(T.VIP_TOUCHES[0], T.VIP_TOUCHES[1] + 1, int(vip.sum()))
    untouched = (rng.random(n) < T.UNTOUCHED_SHARE) & ~vip
    k[dnc | untouched] = 0
    ttf = _ttf(rng, channel)
    in_october = created >= OCTOBER
    treatment = np.where(in_october, (rng.random(n) < T.EXPERIMENT["split"]).astype(np.int64), -1)
    chunk = LeadChunk(start, channel, size, segment, vip, dnc, litigation, account, country,
                      created, owner, k, ttf, treatment)
    _draw_conversion(rng, chunk, reps)
    return chunk


def _draw_conversion(rng: np.random.Generator, c: LeadChunk, reps: tuple[T.Rep, ...]) -> None:
    p = np.zeros(c.n)
    for s, name in enumerate(T.SEGMENTS):
        idx = np.flatnonzero(c.segment == s)
        p[idx] = T.base_conversion(name, c.k[idx])
    mult = np.array([r.conversion_multiplier for r in reps])[c.owner]
    fast = (c.channel == 0) & (c.ttf <= T.TTF_THRESHOLD_HOURS * 3600)
    p = p * mult * np.where(fast, T.TTF_MULTIPLIER, 1.0)
    p = np.where(c.vip & (c.k > 0), T.VIP_CONVERSION, p)
    c.p_arms = np.minimum(np.stack([p, p * (1.0 + T.EXPERIMENT["true_relative_uplift"])]), T.CONVERSION_CAP)
    c.p = np.where(c.treatment == 1, c.p_arms[1], c.p_arms[0])
    c.converted = rng.random(c.n) < c.p
    c.opt_out = (~c.converted) & (c.k > 0) & ~c.vip & (rng.random(c.n) < T.OPT_OUT_SHARE)
    c.score = np.round(np.clip(rng.normal(25 + 100 * c.p, 12), 0, 100), 1)
    c.score_recorded = c.score.copy()
    c.created_recorded = c.created.copy()
    out_campaign = np.array([campaign_index(f"prospection-{_SIZE_SLUG[s]}-t3") for s in range(3)])[c.size]
    c.campaign = np.where(c.created >= OCTOBER, out_campaign + 1, out_campaign)
    partner = np.array([campaign_index(p) for p in PARTNERS])[rng.integers(0, 3, c.n)]
    c.campaign = np.where(c.channel == 2, partner, c.campaign)


def lead_columns(c: LeadChunk, reps: tuple[T.Rep, ...], width: int) -> dict[str, pa.Array]:
    """The ``leads`` rows of a chunk (recorded values, i.e. with injected defects)."""
    rng_source = np.where(c.channel == 0, 0, np.where(c.channel == 2, 3, np.where(c.account % 4 == 0, 2, 1)))
    rep_names = [r.owner for r in reps]
    team_names = [r.team for r in reps]
    return {
        "lead_id": ids("L", c.numbers, width),
        "account_id": ids("A", c.account, 9),
        "created_at": timestamps(c.created_recorded),
        "source": labels(SOURCES, rng_source),
        "channel": labels(T.CHANNELS, c.channel),
        "company_size": labels(T.SIZES, c.size),
        "campaign_id": labels(CAMPAIGNS, np.maximum(c.campaign, 0), mask=c.campaign < 0),
        "owner": labels(rep_names, c.owner),
        "team": labels(team_names, c.owner),
        "country": labels(T.COUNTRIES, c.country),
        "timezone": labels(T.TIMEZONES, c.country),
        "opted_out_at": timestamps(c.opted_out_at, mask=c.opted_out_at == 0),
        "vip": pa.array(c.vip, pa.bool_()),
        "litigation": pa.array(c.litigation, pa.bool_()),
        "do_not_contact": pa.array(c.dnc, pa.bool_()),
        "score": pa.array(c.score_recorded, pa.float64()),
    }
