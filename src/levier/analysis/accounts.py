"""The audit's account figures, reduced in the engine (decision 0222).

The audit's hash parts hold whole accounts (``perlead.part_key``), so each part's table of
accounts is complete; the parts' tables stay in the engine (one cached table each) and
:class:`AccountTable` reduces them to what a figure needs, so the driver never holds one row per
account:

- the account unit's scatter points: one weighted point per distinct (mean touches, conversion
  rate) pair — the entities with the same pair are one point of weight *count*, which the
  correlation, quadrants and sensitivity of :mod:`levier.analysis.cadence` read as it reads the
  lead cells;
- the scatter's largest entities (ordering + limit);
- the dashboard's account view: the means of the accounts in view (exact, from the distinct
  pairs) and the coach / imitate lists (quadrant in the engine, recurring = the same quadrant in
  the comparison period; ordering + limit);
- the large-account cluster (leads above a cut; ordering + limit);
- the account outliers: the (leads, conversions) pairs are few, their z-scores are computed in
  Python exactly as :mod:`levier.analysis.outliers` does, and only the accounts that can be
  among the top ``k`` come back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from levier.analysis.cadence import Points
from levier.analysis.perlead import UNKNOWN

__all__ = ["AccountTable", "AccountView", "SUMS", "collect", "view", "pick"]

#: the summed columns of an account row (``vip`` takes the maximum)
SUMS = ("leads", "touches", "conversions", "complaints", "out_touches")
ID = "account_id"


def _totals(rows: ir.Table, keys: Sequence[str] = (ID,)) -> ir.Table:
    return rows.group_by(list(keys)).agg(**{c: rows[c].sum() for c in SUMS}, vip=rows.vip.max())


@dataclass
class AccountTable:
    """The per (segment, account) rows of one period in the engine, and their reductions.

    ``rows``: one row per (``segs``…, ``account_id``) of the accounts with enough leads (and of
    the ``"unknown"`` account), ``segs`` being the ``seg_<column>`` names; ``totals``: one row
    per account over the segments (``rows`` itself when there are no segment columns).
    :meth:`release` drops the cached tables.
    """

    rows: ir.Table
    segs: tuple[str, ...]
    totals: ir.Table
    _held: list = field(default_factory=list, repr=False)

    def release(self) -> None:
        for t in self._held:
            t.release()
        self._held.clear()

    def _source(self, key: dict) -> ir.Table:
        """Per-account totals within segment ``key`` (``{}``: over every segment)."""
        if not key:
            return self.totals
        r = self.rows
        for col, val in key.items():
            r = r.filter(r[f"seg_{col}"] == val)
        return _totals(r)

    def points(self, key: dict, min_leads: int) -> Points:
        """The entity points of segment ``key``: accounts with ≥ ``min_leads`` leads, weighted by count."""
        a = self._source(key)
        a = a.filter(a.leads >= min_leads)
        a = a.select(x=a.touches / a.leads, y=a.conversions / a.leads)
        g = a.group_by(["x", "y"]).agg(w=a.count()).order_by(["x", "y"]).execute()
        return Points(g["x"].to_numpy(float), g["y"].to_numpy(float), g["w"].to_numpy(float))

    def largest(self, min_leads: int, limit: int) -> pd.DataFrame:
        """The ``limit`` (segment, account) rows with the most leads (≥ ``min_leads``): the scatter's."""
        r = self.rows
        r = r.filter(r.leads >= min_leads)
        return r.order_by([r.leads.desc(), *self.segs, ID]).limit(limit).execute()

    def above(self, cut: float, limit: int) -> pd.DataFrame:
        """The ``limit`` known accounts with more than ``cut`` leads, the most first (large accounts)."""
        t = self.totals
        t = t.filter((t.account_id != UNKNOWN) & (t.leads > cut))
        return t.order_by([t.leads.desc(), ID]).limit(limit).execute()

    def outlier_candidates(self, min_leads: int, score: Callable[[int, int], float], minimum: float, k: int) -> pd.DataFrame:
        """The known accounts (≥ ``min_leads`` leads) that can be among the ``k`` best scores.

        ``score(conversions, leads)`` ranks them (``>= minimum`` to be a candidate); accounts rank
        by the score rounded to 1e-9, then by id, as the outlier list does. The engine returns the
        distinct (leads, conversions) pairs, then per score level the first accounts by id.
        """
        t = self.totals
        t = t.filter((t.account_id != UNKNOWN) & (t.leads >= min_leads))
        pairs = t.group_by(["leads", "conversions"]).agg(n=t.count()).execute()
        levels: dict[float, list[tuple[int, int]]] = {}
        for r in pairs.itertuples(index=False):
            s = score(int(r.conversions), int(r.leads))
            if s >= minimum:
                levels.setdefault(round(s, 9), []).append((int(r.leads), int(r.conversions)))
        frames, got = [], 0
        for level in sorted(levels, reverse=True):
            if got >= k:
                break
            cond = ibis.or_(*[(t.leads == n) & (t.conversions == c) for n, c in levels[level]])
            f = t.filter(cond).order_by(ID).limit(k - got).execute()
            frames.append(f)
            got += len(f)
        cols = [ID, *SUMS, "vip"]
        return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def collect(parts_rows: Sequence[ir.Table], segs: Sequence[str]) -> AccountTable:
    """One :class:`AccountTable` from each part's cached rows.

    Several parts are added into one cached table (the ``"unknown"`` account — leads without
    one — spreads over the parts; every other account lies in one part) and theirs released.
    """
    held = list(parts_rows)
    if len(held) == 1:
        rows = held[0]
    else:
        try:
            rows = _totals(ibis.union(*held), [*segs, ID]).cache()
        finally:
            for t in held:
                t.release()
        held = [rows]
    if not segs:
        return AccountTable(rows, tuple(segs), rows, held)
    totals = _totals(rows).cache()
    return AccountTable(rows, tuple(segs), totals, [*held, totals])


@dataclass(frozen=True)
class AccountView:
    """The dashboard's account view: accounts in view and their means (quadrant lines)."""

    n: int
    x_mean: float | None
    y_mean: float | None


def _exact_mean(values: np.ndarray, weights: np.ndarray) -> float:
    total = sum((Fraction(float(v)) * int(w) for v, w in zip(values, weights, strict=True)), Fraction(0))
    return float(total / int(weights.sum()))


def _in_view(acc: AccountTable, min_leads: int) -> ir.Table:
    t = acc.totals
    return t.filter((t.leads >= min_leads) & (t.account_id != UNKNOWN))


def view(acc: AccountTable, min_leads: int) -> AccountView:
    """The known accounts with ≥ ``min_leads`` leads: their count and mean X (touches per lead), Y (CR)."""
    a = _in_view(acc, min_leads)
    p = a.select(x=a.touches / a.leads, y=a.conversions / a.leads)
    g = p.group_by(["x", "y"]).agg(w=p.count()).execute()
    if not len(g):
        return AccountView(0, None, None)
    w = g["w"].to_numpy()
    return AccountView(int(w.sum()), _exact_mean(g["x"].to_numpy(float), w), _exact_mean(g["y"].to_numpy(float), w))


def _quadrant(a: ir.Table, v: AccountView) -> ir.Table:
    x, y = a.touches / a.leads, a.conversions / a.leads
    hx, hy = x > ibis.literal(v.x_mean, "float64"), y > ibis.literal(v.y_mean, "float64")
    q = ibis.cases((hx & hy, "q1"), (~hx & hy, "q2"), (hx & ~hy, "q4"), else_="q3")
    return a.mutate(mean_touches=x, conversion_rate=y, quadrant=q)


def pick(cur: AccountTable, cur_view: AccountView, prev: AccountTable | None, prev_view: AccountView | None,
         quadrant: str, by: Sequence[str], min_leads: int, size: int) -> tuple[dict, ...]:
    """The dashboard list of ``quadrant``: recurring accounts first (the same quadrant in the
    comparison period), then ``by`` descending, then the id; ``size`` accounts at most."""
    if not cur_view.n:
        return ()
    a = _quadrant(_in_view(cur, min_leads), cur_view)
    a = a.filter(a.quadrant == quadrant)
    if prev is not None and prev_view is not None and prev_view.n:
        b = _quadrant(_in_view(prev, min_leads), prev_view)
        b = b.filter(b.quadrant == quadrant).select(pid=b.account_id)
        a = a.left_join(b, a.account_id == b.pid)
        a = a.mutate(cycles=1 + a.pid.notnull().cast("int64")).drop("pid")
    else:
        a = a.mutate(cycles=ibis.literal(1, "int64"))
    order = [a.cycles.desc(), *[a[c].desc() for c in by], a.account_id]
    rows = a.order_by(order).limit(size).execute()
    key = f"cycles_in_{quadrant}"
    return tuple(
        {"account_id": str(r.account_id), "leads": int(r.leads), "mean_touches": round(float(r.mean_touches), 2), "conversion_rate": round(float(r.conversion_rate), 4), key: int(r.cycles)}
        for r in rows.itertuples(index=False)
    )
