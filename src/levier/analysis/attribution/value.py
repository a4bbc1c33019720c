"""Channel value and ROI: spend joined to attributed leads, qualified leads, customers, revenue.

For each model and channel (or channel/campaign with ``level="campaign"``):

- CPL  = spend / leads attributed (conversion stage = the first stage, ``lead``);
- CPLQ = spend / qualified leads attributed (stage ``sql`` by default);
- CAC  = spend / customers attributed (stage ``won``);
- ROAS = revenue attributed (amount of won deals) / spend;
- ROMI = (revenue attributed − spend) / spend.

Spend ``source`` values are mapped to journey channels with :data:`SPEND_CHANNELS` (override
with ``spend_channels``); a source that is not in the map is used as the channel name.
A ratio whose denominator is zero is ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from levier.analysis.attribution.journeys import JourneyOptions, journey_parts
from levier.analysis.attribution.result import Comparison
from levier.analysis.attribution.run import attribute

__all__ = ["SPEND_CHANNELS", "ValueRow", "ValueTable", "spend_by_channel", "channel_value"]

SPEND_CHANNELS: dict[str, str] = {
    "google_ads": "paid_search", "adwords": "paid_search", "bing_ads": "paid_search", "microsoft_ads": "paid_search",
    "linkedin_ads": "paid_social", "facebook_ads": "paid_social", "meta_ads": "paid_social",
    "twitter_ads": "paid_social", "tiktok_ads": "paid_social",
    "brevo": "email", "mailchimp": "email", "sendinblue": "email", "hubspot_email": "email",
}


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


@dataclass(frozen=True)
class ValueRow:
    """One channel under one model."""

    model: str
    channel: str
    spend: float
    leads: float
    qualified: float
    customers: float
    revenue: float

    @property
    def cpl(self) -> float | None:
        return _ratio(self.spend, self.leads)

    @property
    def cplq(self) -> float | None:
        return _ratio(self.spend, self.qualified)

    @property
    def cac(self) -> float | None:
        return _ratio(self.spend, self.customers)

    @property
    def roas(self) -> float | None:
        return _ratio(self.revenue, self.spend)

    @property
    def romi(self) -> float | None:
        return _ratio(self.revenue - self.spend, self.spend)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "channel": self.channel, "spend": self.spend, "leads": self.leads,
                "qualified": self.qualified, "customers": self.customers, "revenue": self.revenue,
                "cpl": self.cpl, "cplq": self.cplq, "cac": self.cac, "roas": self.roas, "romi": self.romi}


@dataclass(frozen=True)
class ValueTable:
    """Every (model, channel) row, plus the stages used."""

    rows: tuple[ValueRow, ...]
    stages: Mapping[str, str]
    unattributed_spend: Mapping[str, float]  # spend on channels with no journey

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([r.to_dict() for r in self.rows])

    def to_dict(self) -> dict[str, Any]:
        return {"stages": dict(self.stages), "unattributed_spend": dict(self.unattributed_spend),
                "rows": [r.to_dict() for r in self.rows]}


def spend_by_channel(ws: Any, options: JourneyOptions | None = None,
                     spend_channels: Mapping[str, str] | None = None) -> dict[str, float]:
    """Total cost per journey label (channel or channel/campaign) in the period, from the engine."""
    opts = options or JourneyOptions()
    mapping = {k.lower(): v for k, v in (spend_channels or SPEND_CHANNELS).items()}
    s = ws.table("spend")
    if opts.start:
        s = s.filter(s.date >= opts.start.date())
    if opts.end:
        s = s.filter(s.date < opts.end.date())
    src = s.source.lower().strip()
    label = src.substitute(mapping, else_=src)
    if opts.level == "campaign":
        label = label + "/" + s.campaign_id.fill_null("(none)")
    df = s.mutate(label=label).group_by("label").agg(cost=s.cost.sum()).execute()
    return {str(k): float(v) for k, v in zip(df["label"], df["cost"], strict=False) if v == v}


def channel_value(ws: Any, models: Sequence[str] = ("last", "linear", "markov", "shapley"), *,
                  options: JourneyOptions | None = None, lead_stage: str | None = None,
                  qualified_stage: str = "sql", customer_stage: str = "won", order: int = 1,
                  spend_channels: Mapping[str, str] | None = None) -> ValueTable:
    """CPL, CPLQ, CAC, ROAS and ROMI per channel under each model."""
    opts = options or JourneyOptions()
    stages = tuple(getattr(ws.config, "stages", ()) or ("lead",))
    lead_stage = lead_stage or stages[0]
    runs: dict[str, Comparison] = {}
    parts = journey_parts(ws, opts)  # counted once for the three runs
    for key, stage, won in (("leads", lead_stage, False), ("qualified", qualified_stage, False),
                            ("customers", customer_stage, True)):
        runs[key] = attribute(ws, models, options=replace(opts, conversion_stage=stage, won_value_only=won), order=order,
                              parts=parts)
    spend = spend_by_channel(ws, opts, spend_channels)
    rows = []
    for i, res in enumerate(runs["customers"].results):
        lead_r, qual_r = runs["leads"].results[i], runs["qualified"].results[i]
        channels = sorted(set(res.channels) | set(lead_r.channels) | set(qual_r.channels))
        for ch in channels:
            rows.append(ValueRow(res.label, ch, spend.get(ch, 0.0), lead_r.credit(ch), qual_r.credit(ch),
                                 res.credit(ch), res.value_credit(ch)))
    seen = {r.channel for r in rows}
    unattributed = {k: v for k, v in spend.items() if k not in seen}
    return ValueTable(tuple(rows), {"leads": lead_stage, "qualified": qualified_stage, "customers": customer_stage},
                      unattributed)
