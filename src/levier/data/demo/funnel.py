"""Funnel stages, deals and orders of a chunk of leads."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from levier.data.demo import truth as T
from levier.data.demo._arrow import ids, labels, timestamps
from levier.data.demo.leads import LeadChunk

__all__ = ["stage_columns", "plan_deals", "deal_columns", "order_columns", "STAGES"]

STAGES = ("lead", "mql", "sql", "opportunity", "won", "lost")
DEAL_STAGES = ("won", "lost", "proposal", "negotiation")
EXTRACTION = T.EXTRACTION.astype(np.int64)
_MQL_SHARE = np.array([0.60, 0.25, 0.50])  # non-converting leads reaching mql, by channel
_SQL_SHARE = 0.25


def observed_conversion(c: LeadChunk) -> np.ndarray:
    """Leads whose conversion happened before the extraction time."""
    return c.converted & (c.conv_at < EXTRACTION)


def _mql_sql(rng: np.random.Generator, c: LeadChunk) -> tuple[np.ndarray, np.ndarray]:
    span = (c.conv_at - c.created).astype(float)
    mql_conv = c.created + (rng.uniform(0.01, 0.3, c.n) * span).astype(np.int64)
    sql_conv = mql_conv + (rng.uniform(0.2, 0.9, c.n) * (c.conv_at - mql_conv)).astype(np.int64)
    has_mql = rng.random(c.n) < _MQL_SHARE[c.channel]
    has_sql = has_mql & (rng.random(c.n) < _SQL_SHARE)
    mql_other = c.created + rng.integers(3600, 10 * T.DAY, c.n)
    sql_other = mql_other + rng.integers(T.DAY, 10 * T.DAY, c.n)
    mql = np.where(c.converted, mql_conv, np.where(has_mql, mql_other, 0))
    sql = np.where(c.converted, sql_conv, np.where(has_sql, sql_other, 0))
    return mql, sql


def plan_deals(rng: np.random.Generator, c: LeadChunk) -> dict[str, np.ndarray]:
    """One deal per observed conversion (created at the conversion time)."""
    idx = np.flatnonzero(observed_conversion(c))
    size = c.size[idx]
    vip = c.vip[idx]
    created = c.conv_at[idx]
    closes = created + rng.integers(14 * T.DAY, 90 * T.DAY, idx.size)
    win_p = np.where(vip, T.WIN_RATE["vip"], np.array([T.WIN_RATE[s] for s in T.SIZES])[size])
    median = np.where(vip, T.AMOUNT_MEDIAN["vip"], np.array([T.AMOUNT_MEDIAN[s] for s in T.SIZES])[size])
    closed = closes < EXTRACTION
    return {
        "lead": idx,
        "created": created,
        "closed_at": np.where(closed, closes, 0),
        "closed": closed,
        "won": rng.random(idx.size) < win_p,
        "amount": np.round(median * rng.lognormal(0.0, 0.5, idx.size), -1),
        "open_stage": rng.integers(2, 4, idx.size),
        "lost_reason": rng.integers(0, len(T.LOST_REASONS), idx.size),
    }


def stage_columns(rng: np.random.Generator, c: LeadChunk, deals: dict[str, np.ndarray], width: int) -> dict[str, pa.Array]:
    mql, sql = _mql_sql(rng, c)
    opp = np.where(observed_conversion(c), c.conv_at, 0)
    end = np.zeros(c.n, np.int64)
    outcome = np.zeros(c.n, np.int64)
    closed = deals["closed"]
    end[deals["lead"][closed]] = deals["closed_at"][closed]
    outcome[deals["lead"][closed]] = np.where(deals["won"][closed], 4, 5)
    lead_n, stage, at = [], [], []
    for code, times in ((0, c.created), (1, mql), (2, sql), (3, opp), (-1, end)):
        keep = np.flatnonzero((times > 0) & (times < EXTRACTION))
        lead_n.append(keep)
        stage.append(outcome[keep] if code < 0 else np.full(keep.size, code))
        at.append(times[keep])
    lead_all = np.concatenate(lead_n)
    order = np.argsort(lead_all, kind="stable")
    return {
        "lead_id": ids("L", c.start + lead_all[order], width),
        "stage": labels(STAGES, np.concatenate(stage)[order]),
        "at": timestamps(np.concatenate(at)[order]),
    }


def deal_columns(d: dict[str, np.ndarray], c: LeadChunk, numbers: np.ndarray, width: int) -> dict[str, pa.Array]:
    closed, won = d["closed"], d["won"]
    stage = np.where(closed, np.where(won, 0, 1), d["open_stage"])
    return {
        "deal_id": ids("D", numbers, 9),
        "lead_id": ids("L", c.start + d["lead"], width),
        "account_id": ids("A", c.account[d["lead"]], 9),
        "created_at": timestamps(d["created"]),
        "stage": labels(DEAL_STAGES, stage),
        "amount": pa.array(d["amount"], pa.float64()),
        "currency": pa.array(np.full(d["lead"].size, "EUR")),
        "closed_at": timestamps(d["closed_at"], mask=~closed),
        "won": pa.array(won, pa.bool_(), mask=~closed),
        "lost_reason": labels(T.LOST_REASONS, d["lost_reason"], mask=~closed | won),
    }


def order_columns(rng: np.random.Generator, d: dict[str, np.ndarray], c: LeadChunk,
                  first_number: int) -> dict[str, pa.Array]:
    """Monthly orders of won deals from closing until churn or the extraction time."""
    won = np.flatnonzero(d["closed"] & d["won"])
    first = d["closed_at"][won] + rng.integers(T.DAY, 7 * T.DAY, won.size)
    churn = np.array([T.MONTHLY_CHURN[s] for s in T.SIZES])[c.size[d["lead"][won]]]
    months = rng.geometric(churn)
    available = np.where(first < EXTRACTION, (EXTRACTION - 1 - first) // (30 * T.DAY) + 1, 0)
    n = np.minimum(months, available)
    deal = np.repeat(won, n)
    step = np.arange(deal.size) - np.repeat(np.cumsum(n) - n, n)
    at = np.repeat(first, n) + step * 30 * T.DAY
    amount = np.round(d["amount"][deal] / 12 * rng.uniform(0.95, 1.05, deal.size), 2)
    return {
        "order_id": ids("O", first_number + np.arange(deal.size), 9),
        "account_id": ids("A", c.account[d["lead"][deal]], 9),
        "at": timestamps(at),
        "amount": pa.array(amount, pa.float64()),
    }
