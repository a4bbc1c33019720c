"""Experiments ↔ the facts store: eligible units, exclusions, stored assignments, traffic.

Only small results come to Python: ids of eligible leads for one experiment, the excluded
ones with their reason, one experiment's existing assignments, daily counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import ibis
import pandas as pd

from levier.analysis.experiments.assignment import AssignmentPlan
from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = ["eligible_leads", "lead_exclusions", "existing_assignments", "store_assignments", "append_rows",
           "daily_traffic", "EXCLUSION_RULES"]

#: exclusion name → condition on the leads table
EXCLUSION_RULES = ("opted_out", "vip", "litigation", "do_not_contact")


def eligible_leads(ws: Any, *, since: datetime | None = None, until: datetime | None = None) -> list[str]:
    """Ids of leads created in [since, until) (all leads when not given)."""
    leads = ws.table("leads")
    if since is not None:
        leads = leads.filter(leads.created_at >= since)
    if until is not None:
        leads = leads.filter(leads.created_at < until)
    return [str(x) for x in leads.select("lead_id").distinct().execute()["lead_id"]]


def lead_exclusions(ws: Any, rules: Sequence[str] = EXCLUSION_RULES) -> dict[str, str]:
    """Lead id → the first exclusion rule it meets (opt-out, VIP, litigation, do-not-contact)."""
    unknown = sorted(set(rules) - set(EXCLUSION_RULES))
    if unknown:
        raise OptionError(_("Unknown exclusion(s): {names}.", names=", ".join(unknown)),
                          hint=_("Use: {names}.", names=", ".join(EXCLUSION_RULES)))
    t = ws.table("leads")
    conds = {"opted_out": t.opted_out_at.notnull(), "vip": t.vip.fill_null(False),
             "litigation": t.litigation.fill_null(False), "do_not_contact": t.do_not_contact.fill_null(False)}
    chosen = [r for r in EXCLUSION_RULES if r in rules]
    if not chosen:
        return {}
    reason = ibis.cases(*[(conds[r], r) for r in chosen], else_=None)
    rows = t.select(lead_id=t.lead_id, reason=reason).filter(lambda x: x.reason.notnull()).execute()
    return dict(zip(rows["lead_id"].astype(str), rows["reason"].astype(str), strict=True))


def existing_assignments(ws: Any, key: str) -> dict[str, str]:
    """Unit id → variant already stored for experiment ``key``."""
    a = ws.table("assignments")
    rows = a.filter(a.experiment_key == key).select("unit_id", "variant").execute()
    return dict(zip(rows["unit_id"].astype(str), rows["variant"].astype(str), strict=True))


def append_rows(ws: Any, table: str, rows: Sequence[dict[str, Any]], *, source: str,
                preset: str = "levier-experiment") -> int:
    """Append ``rows`` (canonical columns) to the raw ``table`` as one import batch.

    Written at once when this process can write the facts (``source`` is the batch's file name),
    else queued in the loop DB and applied by ``levier facts flush`` (several web workers on a
    DuckDB file): see :func:`levier.data.inbox.append_facts`. Queued rows are visible through
    :func:`levier.data.inbox.pending_facts`.
    """
    from levier.data.inbox import append_facts

    return append_facts(ws, table, rows, source=source, preset=preset)


def store_assignments(ws: Any, plan: AssignmentPlan, assigned_at: datetime) -> int:
    """Append the plan's new assignments to the ``assignments`` table (one import batch)."""
    at = pd.Timestamp(assigned_at).tz_localize(None) if pd.Timestamp(assigned_at).tzinfo else pd.Timestamp(assigned_at)
    rows = [{"experiment_key": plan.experiment_key, "unit_id": u, "variant": v, "assigned_at": at}
            for u, v in plan.new.items()]
    return append_rows(ws, "assignments", rows, source=f"levier experiment assign {plan.experiment_key}")


def daily_traffic(ws: Any, *, days: int = 28, until: datetime | None = None) -> float | None:
    """Mean new leads per day over the last ``days`` days of data (None when no leads)."""
    leads = ws.table("leads")
    end = until or leads.created_at.max().execute()
    if end is None or pd.isna(end):
        return None
    start = pd.Timestamp(end) - pd.Timedelta(days=days)
    n = int(leads.filter((leads.created_at > start) & (leads.created_at <= end)).count().execute())
    return n / days if n else None


