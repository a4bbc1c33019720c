"""Metric definitions of an experiment (what is measured on each unit, in the engine).

Kinds (per randomisation unit — a lead, an account with all its leads, or a visitor with the
leads stitched to it; window counted from the unit's ``assigned_at``):

- ``conversion`` — 1 if the lead reached ``stage`` within ``window_days`` (proportion);
- ``any`` — 1 if the lead had at least one touch with an ``outcomes`` value (proportion),
  e.g. unsubscribed;
- ``count`` — number of touches (filtered by ``outcomes`` / ``direction``) per lead (mean);
- ``revenue`` — amount of the lead's won deals closed within the window (mean), capped at
  ``cap`` or at the ``cap_quantile`` of units (winsorisation);
- ``ratio`` — touches with ``outcomes`` / all touches (filtered by ``direction``), summed per
  arm: e.g. complaints per touch (delta method);
- ``web`` — 1 if the unit has at least one web event whose type is in ``outcomes`` (e.g.
  ``conversion``, ``exposure``) within the window (proportion); ``web_count`` — how many
  (mean). Web events count when untagged or tagged with this experiment (``"<key>/<arm>"``).

``per: lead`` (account units) reads a lead-level KPI under account randomisation as a ratio
metric — Σ over the arm's accounts of the leads that converted (or touches, revenue, events)
÷ Σ of their leads — with the delta method, so its variance is cluster-correct. With lead units
it changes nothing; visitor units refuse it (a visitor's leads exist only once identified).

``direction`` says which way is good (``higher`` or ``lower``); ``limit`` is an absolute
ceiling (e.g. complaint rate 0.002) a guardrail must stay under. ``covariate`` enables CUPED
with a pre-assignment covariate: ``score`` (lead score) or ``pre_touches`` (touches in the
30 days before assignment).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MetricSpec", "MetricKind", "default_metrics"]

MetricKind = Literal["conversion", "any", "count", "revenue", "ratio", "web", "web_count"]


class MetricSpec(BaseModel):
    """One metric: its name, how each unit's value is computed, which direction is good."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: MetricKind = "conversion"
    stage: str = "opportunity"
    window_days: int = Field(30, ge=1, le=3650)
    outcomes: tuple[str, ...] = ()
    direction_filter: Literal["out", "in", "any"] = "any"
    direction: Literal["higher", "lower"] = "higher"
    cap: float | None = Field(None, gt=0)
    cap_quantile: float | None = Field(None, gt=0.5, lt=1)
    limit: float | None = None
    covariate: Literal["score", "pre_touches"] | None = None
    per: Literal["unit", "lead"] = "unit"
    label: str = ""

    @model_validator(mode="after")
    def _check(self) -> MetricSpec:
        if self.kind in ("any", "ratio", "web", "web_count") and not self.outcomes:
            example = "conversion" if self.kind.startswith("web") else "complaint"
            raise ValueError(f"metric '{self.name}' of kind {self.kind} needs outcomes (e.g. {example})")
        if self.per == "lead" and self.kind == "ratio":
            raise ValueError(f"metric '{self.name}' is already a ratio of touches: per: lead does not apply")
        if self.per == "lead" and self.covariate:
            raise ValueError(f"metric '{self.name}': per: lead (a ratio metric) cannot take a CUPED covariate")
        return self

    @property
    def is_proportion(self) -> bool:
        return self.kind in ("conversion", "any", "web")

    def is_ratio(self, unit: str = "lead") -> bool:
        """Whether the metric is read as a ratio (delta method) under this randomisation unit."""
        return self.kind == "ratio" or (self.per == "lead" and unit == "account")

    @property
    def inverse(self) -> bool:
        return self.direction == "lower"

    @property
    def title(self) -> str:
        return self.label or self.name


def default_metrics() -> tuple[MetricSpec, list[MetricSpec], list[MetricSpec]]:
    """Primary, secondary and guardrail metrics of a typical sales experiment."""
    primary = MetricSpec(name="conversion", kind="conversion", stage="opportunity", window_days=30)
    secondary = [MetricSpec(name="revenue_per_lead", kind="revenue", window_days=90, cap_quantile=0.99)]
    guardrails = [
        MetricSpec(name="complaint_rate", kind="ratio", outcomes=("complaint",), direction_filter="out",
                   direction="lower", limit=0.002),
        MetricSpec(name="unsubscribe_rate", kind="ratio", outcomes=("unsubscribed",), direction_filter="out",
                   direction="lower"),
        MetricSpec(name="bounce_rate", kind="ratio", outcomes=("bounced",), direction_filter="out", direction="lower"),
    ]
    return primary, secondary, guardrails
