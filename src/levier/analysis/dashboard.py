"""The one-page dashboard: headline figures and the account view (coach / imitate lists).

Account view: one point per account with at least ``min_entity_leads`` leads, X = mean
touches per lead, Y = conversion rate, quadrants around the means of the accounts. *Coach*:
accounts in Q3 (low touches, low conversion) this period, the ones that were also in Q3 in the
comparison period first ("recurring"). *Imitate*: accounts in Q1 (high/high), recurring first,
then by conversion rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from levier.analysis.metrics import METRICS
from levier.i18n import gettext as _

__all__ = ["Dashboard", "build", "account_view"]

LIST_SIZE = 10


@dataclass(frozen=True)
class Dashboard:
    figures: dict
    coach: tuple[dict, ...]
    imitate: tuple[dict, ...]
    meta: dict

    def to_dict(self, lang: str | None = None) -> dict:
        names = {m.key: m.name(lang) for m in METRICS}
        meta = {**self.meta, "definitions": [f"{names[k]}" for k in self.meta["definitions"]]}
        return {**self.figures, "coach_accounts": [dict(a) for a in self.coach], "imitate_accounts": [dict(a) for a in self.imitate], "meta": meta, "title": _("One-page dashboard", lang=lang)}


def account_view(ent: pd.DataFrame, min_leads: int) -> pd.DataFrame:
    """One row per account with its quadrant (q1..q4)."""
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
    sel = sel.sort_values(["cycles", *by, "account_id"], ascending=[False] * (1 + len(by)) + [True], kind="mergesort").head(LIST_SIZE)
    key = f"cycles_in_{quadrant}"
    return tuple(
        {"account_id": str(r.account_id), "leads": int(r.leads), "mean_touches": round(float(r.mean_touches), 2), "conversion_rate": round(float(r.conversion_rate), 4), key: int(r.cycles)}
        for r in sel.itertuples(index=False)
    )


def build(overall, ent: pd.DataFrame, prev_ent: pd.DataFrame | None, framing) -> Dashboard:  # noqa: ANN001
    c = overall.correlation
    shares = overall.quadrants.to_dict()["shares"]
    figures = {
        "n": overall.n,
        "median_ttf_hours": overall.ttf.median_hours,
        "median_contacts": overall.contacts["median"],
        "contacts_iqr": [overall.contacts["q1"], overall.contacts["q3"]],
        "conversion_rate": overall.conversion_rate,
        "r": c.r,
        "slope": c.slope,
        "r2": c.r2,
        "pct_q1": shares["q1"],
        "complaint_rate": overall.complaint_rate,
        "traffic_light": overall.light.colour if overall.light else None,
    }
    cur = account_view(ent, framing.min_entity_leads)
    prev = None if prev_ent is None else account_view(prev_ent, framing.min_entity_leads)
    coach = _pick(cur, prev, "q3", ["leads"])
    imitate = _pick(cur, prev, "q1", ["conversion_rate", "leads"])
    meta = {
        "extraction_time": framing.extraction_time.isoformat() if framing.extraction_time else None,
        "period": framing.period.label,
        "compare_to": framing.compare_to.label if framing.compare_to else None,
        "attribution_window_days": framing.window_days,
        "conversion_stage": framing.stage,
        "ttf_sla_hours": framing.ttf_sla_hours,
        "accounts_in_view": int(len(cur)),
        "definitions": ["conversion_rate", "contacts_per_lead", "ttf_hours", "pearson_r", "slope", "r2", "pct_q1", "complaint_rate"],
    }
    return Dashboard(figures, coach, imitate, meta)
