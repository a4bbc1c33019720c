"""Per-lead facts, built as one Ibis expression that runs in the engine.

For every lead created in the period (one row per lead, never pulled into Python):

- ``conv_at``: first time the lead reached the conversion stage in [created_at, created_at + window);
- ``converted`` (0/1);
- ``horizon``: ``conv_at`` if converted, else ``created_at + window``;
- ``x``: contacts = outbound touches in [created_at, horizon) (whose outcome is a contact outcome
  when the framing restricts them);
- ``effective``: those whose outcome is an effective outcome (connected, replied, meeting_booked);
- ``ttf_s``: seconds from creation to the first outbound touch in the window (null if none);
- ``last_day``: whole days from creation to the last counted touch;
- ``complaints``, ``unsubscribes``, ``replies``, ``meetings``, ``out_touches``: over all outbound
  touches in the window (guardrails are counted whatever the contact definition);
- ``censored``: 1 when the conversion window ends after the extraction time;
- the segment columns (nulls as ``"unknown"``), ``account_id``, ``owner`` and the flags.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from levier.analysis.framing import Framing, Period
from levier.data import parts
from levier.data.parts import Part, in_part

__all__ = ["lead_facts", "lead_parts", "part_key", "UNKNOWN", "entity_column"]

UNKNOWN = "unknown"


def _ts(d: datetime) -> ir.Value:
    return ibis.literal(d, type="timestamp")


def entity_column(unit: str) -> str | None:
    return {"account": "account_id", "rep": "owner"}.get(unit)


def part_key(leads: ir.Table) -> ir.Value:
    """The key the audit's hash parts split the leads by: the account (a lead without one: itself).

    An account's leads all fall in one part, so each part's account table is complete and can be
    filtered in the engine; leads without an account (``"unknown"``) spread over the parts.
    """
    return leads.account_id.cast("string").fill_null(leads.lead_id.cast("string"))


def lead_parts(ws: object, leads: ir.Table, period: Period) -> int:
    """How many hash parts the per-lead facts of ``period`` are built in: one per
    :data:`~levier.data.parts.FACT_ROWS` leads created in the period (DuckDB only; the joins and
    groups over the touches spill, the materialised facts are what must fit, decision 0247)."""
    created = leads.filter((leads.created_at >= _ts(period.start_dt)) & (leads.created_at < _ts(period.end_dt)))
    return parts.count_for(ws, created.count(), parts.FACT_ROWS)


def lead_facts(tables: dict[str, ir.Table], framing: Framing, period: Period, part: Part | None = None) -> ir.Table:
    """The per-lead fact table for ``period`` (an Ibis expression).

    ``part`` ``(i, n)``: only the leads whose :func:`part_key` hashes into part ``i`` of ``n``
    (the joins keep their touches and stage events).
    """
    leads, stages, touches = tables["leads"], tables["stage_events"], tables["touches"]
    leads = in_part(leads, part_key(leads), part)
    window = ibis.interval(days=framing.window_days)
    base = leads.filter((leads.created_at >= _ts(period.start_dt)) & (leads.created_at < _ts(period.end_dt)))
    base = base.select(
        "lead_id",
        "created_at",
        account_id=base.account_id.fill_null(UNKNOWN),
        owner=base.owner.fill_null(UNKNOWN),
        vip=base.vip.fill_null(False).cast("int64"),
        litigation=base.litigation.fill_null(False).cast("int64"),
        do_not_contact=base.do_not_contact.fill_null(False).cast("int64"),
        opted_out=base.opted_out_at.notnull().cast("int64"),
        **{f"seg_{c}": base[c].cast("string").fill_null(UNKNOWN) for c in framing.segment_by if c not in ("account_id", "owner")},
    )
    for c in framing.segment_by:  # account_id / owner as segments reuse the filled columns
        if c in ("account_id", "owner"):
            base = base.mutate(**{f"seg_{c}": base[c]})

    st = stages.filter(stages.stage == framing.stage)
    keyed = base.select(lid=base.lead_id, cat=base.created_at)
    conv = keyed.join(st, keyed.lid == st.lead_id)
    conv = conv.filter((conv.at >= conv.cat) & (conv.at < conv.cat + window))
    conv = conv.group_by(conv.lid).agg(conv_at=conv.at.min())
    with_conv = base.left_join(conv, base.lead_id == conv.lid).drop("lid")
    with_conv = with_conv.mutate(
        converted=with_conv.conv_at.notnull().cast("int64"),
        horizon=ibis.coalesce(with_conv.conv_at, with_conv.created_at + window),
        censored=((with_conv.created_at + window) > _ts(framing.extraction_time)).cast("int64") if framing.extraction_time else ibis.literal(0, "int64"),
    )

    out = touches.filter(touches.direction == "out")
    h = with_conv.select(hid=with_conv.lead_id, hcat=with_conv.created_at, hz=with_conv.horizon)
    tj = h.join(out, h.hid == out.lead_id)
    tj = tj.filter((tj.at >= tj.hcat) & (tj.at < tj.hz))
    outcome = tj.outcome.fill_null("")
    is_contact = outcome.isin(list(framing.contact_outcomes)) if framing.contact_outcomes else tj.at.notnull()
    per = tj.group_by(tj.hid).agg(
        x=is_contact.cast("int64").sum(),
        effective=(is_contact & outcome.isin(list(framing.effective_outcomes))).cast("int64").sum(),
        first_at=tj.at.min(),
        last_at=ibis.cases((is_contact, tj.at), else_=None).max(),
        out_touches=tj.count(),
        complaints=(outcome == "complaint").cast("int64").sum(),
        unsubscribes=(outcome == "unsubscribed").cast("int64").sum(),
        replies=(outcome == "replied").cast("int64").sum(),
        meetings=(outcome == "meeting_booked").cast("int64").sum(),
    )
    j = with_conv.left_join(per, with_conv.lead_id == per.hid).drop("hid")
    zero = ibis.literal(0, "int64")
    return j.mutate(
        x=j.x.fill_null(zero),
        effective=j.effective.fill_null(zero),
        out_touches=j.out_touches.fill_null(zero),
        complaints=j.complaints.fill_null(zero),
        unsubscribes=j.unsubscribes.fill_null(zero),
        replies=j.replies.fill_null(zero),
        meetings=j.meetings.fill_null(zero),
        ttf_s=(j.first_at.epoch_seconds() - j.created_at.epoch_seconds()),
        last_day=((j.last_at.epoch_seconds() - j.created_at.epoch_seconds()) / 86400).floor().cast("int64"),
    )
