"""Top-5 outliers: reps, accounts and leads far from the rest, with facts, class and action.

Candidates: reps logging impossible daily volumes (≥ 150 outbound touches in a day), reps and
accounts whose conversion rate is far from the overall rate (|z| ≥ 3, binomial z-score),
leads with an extreme number of touches (> Q3 + 3 IQR). The class comes from the cleaning
journal when the entity appears in it; otherwise: impossible volume → error, conversion far
above → opportunity (or exceptional for VIP accounts), far below or extreme cadence → risk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from levier.i18n import gettext as _

__all__ = ["Outlier", "top_outliers", "ACTIONS"]

ACTIONS = {
    "error": "excluded and journaled (check the source system)",
    "exceptional": "keep out of the thresholds; handle as an exception",
    "opportunity": "document the tactic and test it elsewhere",
    "risk": "add to the exclusion / watch list",
}
Z_MIN = 3.0
BUSY_DAY = 150
MIN_LEADS = 5  # entities with fewer leads are too noisy to call outliers


@dataclass(frozen=True)
class Outlier:
    kind: str
    id: str
    score: float
    category: str
    facts_msgid: str
    params: dict = field(default_factory=dict)
    source: str = "audit"  # audit | journal
    rank: int = 0

    def to_dict(self, lang: str | None = None) -> dict:
        return {"rank": self.rank, "kind": self.kind, "id": self.id, "facts": _(self.facts_msgid, lang=lang, **self.params), "category": self.category, "category_source": self.source, "action": _(ACTIONS[self.category], lang=lang), "score": round(self.score, 2)}


def _z(k: float, n: float, p: float) -> float:
    return 0.0 if n == 0 or p <= 0 or p >= 1 else (k / n - p) / math.sqrt(p * (1 - p) / n)


def _reps_volume(reps: pd.DataFrame) -> list[Outlier]:
    out = []
    for r in reps[reps["busy_days"] > 0].itertuples(index=False):
        out.append(Outlier("rep", str(r.owner), 10.0 + r.max_day / BUSY_DAY, "error", "{days} day(s) with ≥ {busy} outbound touches (busiest: {max}); {touches} touches in the period", {"days": int(r.busy_days), "busy": BUSY_DAY, "max": int(r.max_day), "touches": int(r.touches)}))
    return out


def _entities(ent: pd.DataFrame, col: str, kind: str, p: float) -> list[Outlier]:
    g = ent.groupby(col, as_index=False)[["leads", "touches", "conversions", "vip"]].sum()
    g = g[(g[col] != "unknown") & (g["leads"] >= MIN_LEADS)]
    out = []
    for r in g.itertuples(index=False):
        z = _z(r.conversions, r.leads, p)
        if abs(z) < Z_MIN:
            continue
        cat = ("exceptional" if r.vip else "opportunity") if z > 0 else "risk"
        out.append(Outlier(kind, str(getattr(r, col)), abs(z), cat, "{leads} leads, CR {cr:.1%} vs {p:.1%} overall (z = {z:+.1f}), {t:.1f} touches per lead", {"leads": int(r.leads), "cr": r.conversions / r.leads, "p": p, "z": z, "t": r.touches / r.leads}))
    return out


def _accounts(acc, p: float, k: int) -> pd.DataFrame:  # noqa: ANN001
    """Per-account totals of the accounts that can be among the ``k`` strongest account outliers.

    ``acc``: a frame of every account, or the engine's account table (``levier.analysis.accounts``),
    which returns only those accounts (the z-score depends on the leads and conversions alone).
    """
    if isinstance(acc, pd.DataFrame):
        return acc
    return acc.outlier_candidates(MIN_LEADS, lambda c, n: abs(_z(c, n, p)), Z_MIN, k)


def _leads(top: pd.DataFrame, overall) -> list[Outlier]:  # noqa: ANN001
    c = overall.contacts
    if c["q3"] is None or not len(top):
        return []
    cut = c["q3"] + 3 * (c["q3"] - c["q1"])
    return [
        Outlier("lead", str(r.lead_id), 3.0 + (r.x - cut) / max(cut, 1), "risk", "{x} touches in the window (Q3 + 3 IQR = {cut:g}); converted: {conv}", {"x": int(r.x), "cut": cut, "conv": "yes" if r.converted else "no"})
        for r in top.itertuples(index=False) if r.x > cut
    ]


def _journal_class(ws, ident: str) -> str | None:  # noqa: ANN001
    try:
        j = ws.facts.journal()
        hit = j.filter(j.examples.contains(ident) | j.params.contains(ident)).select("category").limit(1).execute()
    except Exception:  # noqa: BLE001 — no journal yet, or a backend without it
        return None
    if not len(hit):
        return None
    cat = str(hit["category"].iloc[0])
    return cat if cat in ACTIONS else ("error" if cat in ("duplicate", "impossible", "missing") else None)


def top_outliers(ws, agg: dict, overall, framing, k: int = 5) -> list[Outlier]:  # noqa: ANN001
    """The ``k`` strongest outliers, ranked by score."""
    p = overall.conversion_rate or 0.0
    cands = _reps_volume(agg["reps"]) + _entities(agg["ent"]["owner"], "owner", "rep", p) + _entities(_accounts(agg["ent"]["account_id"], p, k), "account_id", "account", p) + _leads(agg.get("top_leads", pd.DataFrame()), overall)
    cands.sort(key=lambda o: (-round(o.score, 9), o.kind, o.id))
    out = []
    for rank, o in enumerate(cands[:k], start=1):
        cat = _journal_class(ws, o.id)
        out.append(Outlier(o.kind, o.id, o.score, cat or o.category, o.facts_msgid, o.params, "journal" if cat else "audit", rank))
    return out
