"""Cadence touches (outbound, by the owner rep) and replies, vectorised per chunk."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from levier.data.demo import truth as T
from levier.data.demo._arrow import ids, labels, timestamps
from levier.data.demo.leads import CAMPAIGNS, LeadChunk, campaign_index

__all__ = ["TouchFrame", "cadence_touches", "touch_columns", "OUTCOMES", "DIRECTIONS", "MIN_GAP"]

OUTCOMES = ("delivered", "opened", "clicked", "replied", "connected", "no_answer", "bounced",
            "complaint", "unsubscribed", "meeting_booked")
DIRECTIONS = ("out", "in")
O = {name: i for i, name in enumerate(OUTCOMES)}  # noqa: E741
CH = {name: i for i, name in enumerate(T.TOUCH_CHANNELS)}
MIN_GAP = 1800  # seconds between two touches of the same lead
# Outcome distribution per touch channel (cadence touches that are not the decisive one).
_OUTCOME_P = {
    "email": {"delivered": 0.635, "opened": 0.22, "clicked": 0.07, "replied": 0.05, "bounced": T.BOUNCE_RATE},
    "call": {"no_answer": 0.62, "connected": 0.33, "meeting_booked": 0.05},
    "sms": {"delivered": 0.9, "replied": 0.1},
    "social": {"delivered": 0.8, "replied": 0.2},
    "meeting": {"meeting_booked": 1.0},
    "mail": {"delivered": 1.0},
    "other": {"delivered": 1.0},
}
_DECISIVE = np.array([O["replied"], O["meeting_booked"], O["replied"], O["replied"],
                      O["meeting_booked"], O["delivered"], O["replied"]])
KIND_CADENCE, KIND_REPLY = 0, 1


@dataclass
class TouchFrame:
    """Touch rows of a chunk as numpy arrays (``lead`` = global lead number)."""

    lead: np.ndarray
    at: np.ndarray
    channel: np.ndarray
    direction: np.ndarray
    owner: np.ndarray
    outcome: np.ndarray  # -1 = null
    campaign: np.ndarray
    kind: np.ndarray  # KIND_* or a defect code

    @property
    def size(self) -> int:
        return int(self.lead.size)

    def take(self, idx: np.ndarray) -> TouchFrame:
        return TouchFrame(*(getattr(self, f.name)[idx] for f in fields(self)))

    @staticmethod
    def concat(frames: list[TouchFrame]) -> TouchFrame:
        return TouchFrame(*(np.concatenate([getattr(fr, f.name) for fr in frames]) for f in fields(TouchFrame)))


def _positions(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lead = np.repeat(np.arange(k.size), k)
    starts = np.cumsum(k) - k
    return lead, np.arange(lead.size) - starts[lead]


def _times(rng: np.random.Generator, c: LeadChunk, reps: tuple[T.Rep, ...],
           lead: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Sorted touch times per lead: first at created + ttf, the rest in office hours."""
    cadence = np.array([min(r.cadence_days, T.CADENCE_MAX_DAYS) for r in reps])[c.owner] * T.DAY
    created, first = c.created[lead], c.created[lead] + c.ttf[lead]
    limit = created + T.CADENCE_MAX_DAYS * T.DAY - 60
    off = rng.uniform(0, 1, lead.size) * (cadence[lead] - c.ttf[lead]) + c.ttf[lead]
    t = (created + off.astype(np.int64)) // T.DAY * T.DAY + rng.integers(7 * 3600, 17 * 3600, lead.size)
    t = np.where(t <= first, t + T.DAY, t)
    t = np.where(t >= limit, t - T.DAY, t)
    t = np.where(pos == 0, first, t)
    order = np.lexsort((t, lead))
    t = t[order]
    t[pos == 0] = first[pos == 0]
    # enforce MIN_GAP between consecutive touches of a lead, then cap below the 21-day limit
    big = lead.astype(np.int64) << 40
    u = np.maximum.accumulate(t - MIN_GAP * pos + big) - big
    t = u + MIN_GAP * pos
    k = c.k[lead]
    return np.minimum(t, limit - (k - 1 - pos) * MIN_GAP)


def _outcomes(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    out = np.zeros(channel.size, np.int64)
    for name, probs in _OUTCOME_P.items():
        idx = np.flatnonzero(channel == CH[name])
        keys = np.array([O[o] for o in probs])
        w = np.array(list(probs.values()))
        out[idx] = keys[np.minimum(np.searchsorted(np.cumsum(w) / w.sum(), rng.random(idx.size), side="right"), w.size - 1)]
    return out


def _complaints(rng: np.random.Generator, c: LeadChunk, lead: np.ndarray, at: np.ndarray,
                channel: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    spike = T.COMPLAINT_SPIKE
    seg = T.SEGMENTS.index(str(spike["segment"]))
    lo = np.datetime64(f"{spike['month']}-01T00:00:00", "s").astype(np.int64)
    hi = (np.datetime64(str(spike["month"]), "M") + 1).astype("datetime64[s]").astype(np.int64)
    rate = np.where((c.segment[lead] == seg) & (at >= lo) & (at < hi), float(spike["rate"]), T.COMPLAINT_RATE)
    hit = (channel == CH["email"]) & (rng.random(at.size) < rate) & (outcome != O["bounced"])
    return np.where(hit, O["complaint"], outcome)


def cadence_touches(rng: np.random.Generator, c: LeadChunk, reps: tuple[T.Rep, ...]) -> TouchFrame:
    """All legitimate touches of the chunk; also sets conversion and opt-out times on ``c``."""
    lead, pos = _positions(c.k)
    at = _times(rng, c, reps, lead, pos)
    cum = np.cumsum(T.TOUCH_CHANNEL_SHARES, axis=1)[c.size[lead]]
    channel = np.minimum((rng.random(lead.size)[:, None] > cum).sum(axis=1), len(T.TOUCH_CHANNELS) - 1)
    last = pos == c.k[lead] - 1
    channel = np.where(last & c.opt_out[lead], CH["email"], channel)
    outcome = _complaints(rng, c, lead, at, channel, _outcomes(rng, channel))
    outcome = np.where(last & c.converted[lead], _DECISIVE[channel], outcome)
    outcome = np.where(last & c.opt_out[lead], O["unsubscribed"], outcome)
    last_at = np.zeros(c.n, np.int64)
    last_at[lead[last]] = at[last]
    c.conv_at = np.where(c.converted, last_at + rng.integers(T.DAY, 5 * T.DAY, c.n), 0)
    c.opted_out_at = np.where(c.opt_out, last_at + rng.integers(60, 3600, c.n), 0)
    seq = np.array([campaign_index("seq-" + s.replace("/", "-")) for s in T.SEGMENTS])[c.segment]
    cadence = TouchFrame(c.start + lead, at, channel, np.zeros(lead.size, np.int64), c.owner[lead],
                         outcome, seq[lead], np.full(lead.size, KIND_CADENCE))
    return TouchFrame.concat([cadence, _replies(rng, c, last_at, seq)])


def _replies(rng: np.random.Generator, c: LeadChunk, last_at: np.ndarray, seq: np.ndarray) -> TouchFrame:
    """Inbound replies after the last cadence touch (every converter, some others)."""
    replied = c.converted | ((c.k > 0) & ~c.opt_out & (rng.random(c.n) < T.REPLY_SHARE_NON_CONVERTED))
    idx = np.flatnonzero(replied)
    at = last_at[idx] + rng.integers(3600, 20 * 3600, idx.size)
    outcome = np.where(c.converted[idx], O["meeting_booked"], O["replied"])
    channel = np.where(rng.random(idx.size) < 0.8, CH["email"], CH["call"])
    return TouchFrame(c.start + idx, at, channel, np.ones(idx.size, np.int64), c.owner[idx],
                      outcome, seq[idx], np.full(idx.size, KIND_REPLY))


def touch_columns(f: TouchFrame, touch_numbers: np.ndarray, reps: tuple[T.Rep, ...], width: int) -> dict[str, pa.Array]:
    return {
        "touch_id": ids("T", touch_numbers, 10),
        "lead_id": ids("L", f.lead, width),
        "at": timestamps(f.at),
        "channel": labels(T.TOUCH_CHANNELS, f.channel),
        "direction": labels(DIRECTIONS, f.direction),
        "owner": labels([r.owner for r in reps], f.owner),
        "outcome": labels(OUTCOMES, np.maximum(f.outcome, 0), mask=f.outcome < 0),
        "campaign_id": labels(CAMPAIGNS, f.campaign),
    }
