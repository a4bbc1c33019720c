"""The one-page dashboard: headline figures and the account view (coach / imitate lists).

Account view: one point per account with at least ``min_entity_leads`` leads, X = mean
touches per lead, Y = conversion rate, quadrants around the means of the accounts. *Coach*:
accounts in Q3 (low touches, low conversion) this period, the ones that were also in Q3 in the
comparison period first ("recurring"). *Imitate*: accounts in Q1 (high/high), recurring first,
then by conversion rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from levier.analysis.metrics import METRICS
from levier.i18n import gettext as _

__all__ = ["Dashboard", "build", "LIST_SIZE"]

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


def build(overall, framing, coach: tuple[dict, ...], imitate: tuple[dict, ...], accounts_in_view: int) -> Dashboard:  # noqa: ANN001
    """The headline figures of ``overall`` and the account lists, reduced in the engine
    (:mod:`levier.analysis.accounts`, decision 0222)."""
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
    meta = {
        "extraction_time": framing.extraction_time.isoformat() if framing.extraction_time else None,
        "period": framing.period.label,
        "compare_to": framing.compare_to.label if framing.compare_to else None,
        "attribution_window_days": framing.window_days,
        "conversion_stage": framing.stage,
        "ttf_sla_hours": framing.ttf_sla_hours,
        "accounts_in_view": int(accounts_in_view),
        "definitions": ["conversion_rate", "contacts_per_lead", "ttf_hours", "pearson_r", "slope", "r2", "pct_q1", "complaint_rate"],
    }
    return Dashboard(figures, coach, imitate, meta)
