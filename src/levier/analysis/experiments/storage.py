"""Experiments ↔ the facts store: eligible units, exclusions, stored assignments, traffic.

Eligible units and exclusions are Ibis tables (``eligible_table``, ``exclusion_table``) that the
assignment joins in the engine (:mod:`.engine`); the list / dict readers are for small
workspaces and tests. Only small results come to Python: one unit's exclusion, one
experiment's existing assignments (the first one of each unit: a unit stored twice counts once,
decision 0130), daily counts, and the assignments queued by web workers that cannot write the
facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import ibis
import pandas as pd

from levier.analysis.experiments.assignment import EXCLUSION_RULES
from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = ["eligible_leads", "eligible_accounts", "lead_exclusions", "account_exclusions", "existing_assignments",
           "eligible_table", "lead_exclusion_table", "account_exclusion_table", "exclusion_table", "unit_exclusion",
           "stored_variant", "queued_assignments", "store_assignments", "append_rows", "daily_traffic",
           "EXCLUSION_RULES"]


def eligible_table(ws: Any, unit: str = "lead", *, since: datetime | None = None,
                   until: datetime | None = None) -> Any:
    """Ibis table ``unit_id`` (distinct): the leads created in [since, until), or their accounts.

    Nothing is executed; all leads (accounts) when no period is given.
    """
    leads = ws.table("leads")
    if since is not None:
        leads = leads.filter(leads.created_at >= since)
    if until is not None:
        leads = leads.filter(leads.created_at < until)
    if unit == "account":
        leads = leads.filter(leads.account_id.notnull())
        return leads.select(unit_id=leads.account_id.cast("string")).distinct()
    return leads.select(unit_id=leads.lead_id.cast("string")).distinct()


def eligible_leads(ws: Any, *, since: datetime | None = None, until: datetime | None = None) -> list[str]:
    """Ids of leads created in [since, until) (all leads when not given); small workspaces and tests."""
    return [str(x) for x in eligible_table(ws, "lead", since=since, until=until).execute()["unit_id"]]


def eligible_accounts(ws: Any, *, since: datetime | None = None, until: datetime | None = None) -> list[str]:
    """Ids of the accounts of the leads created in [since, until); small workspaces and tests."""
    return [str(x) for x in eligible_table(ws, "account", since=since, until=until).execute()["unit_id"]]


def _check_rules(rules: Sequence[str]) -> None:
    unknown = sorted(set(rules) - set(EXCLUSION_RULES))
    if unknown:
        raise OptionError(_("Unknown exclusion(s): {names}.", names=", ".join(unknown)),
                          hint=_("Use: {names}.", names=", ".join(EXCLUSION_RULES)))


def _chosen(rules: Sequence[str]) -> list[str]:
    _check_rules(rules)
    return [r for r in EXCLUSION_RULES if r in rules]


def _reason(rank: Any, chosen: Sequence[str]) -> Any:
    """The rule name of the smallest rank (rules are ranked in :data:`EXCLUSION_RULES` order)."""
    return ibis.cases(*[(rank == i, r) for i, r in enumerate(chosen)], else_=None)


def account_exclusion_table(ws: Any, rules: Sequence[str] = EXCLUSION_RULES, *, only: str | None = None) -> Any:
    """Ibis table ``unit_id, reason``: the excluded accounts (all, or the one account ``only``).

    VIP, litigation and do-not-contact exclude an account when any of its leads carries the flag;
    ``opted_out`` when every one of its leads opted out (nobody left to contact). Nothing is
    executed: the assignment joins it in the engine, the live endpoint filters it to one account.
    """
    chosen = _chosen(rules)
    t = ws.table("leads")
    t = t.filter(t.account_id.notnull() if only is None else t.account_id == only)
    if not chosen:
        return t.select(unit_id=t.account_id.cast("string"), reason=ibis.null("string")).limit(0)
    flags = {"opted_out": t.opted_out_at.notnull().cast("int8").min(), "vip": t.vip.fill_null(False).cast("int8").max(),
             "litigation": t.litigation.fill_null(False).cast("int8").max(),
             "do_not_contact": t.do_not_contact.fill_null(False).cast("int8").max()}
    per = t.group_by(account_id=t.account_id).aggregate(**{r: flags[r] for r in chosen})
    reason = ibis.cases(*[(per[r] == 1, r) for r in chosen], else_=None)
    out = per.select(unit_id=per.account_id.cast("string"), reason=reason)
    return out.filter(out.reason.notnull())


def lead_exclusion_table(ws: Any, rules: Sequence[str] = EXCLUSION_RULES, *, only: str | None = None) -> Any:
    """Ibis table ``unit_id, reason``: one row per excluded lead (all, or the one lead ``only``).

    A lead id present on several rows gets the first rule (in :data:`EXCLUSION_RULES` order) that
    any of its rows meets.
    """
    chosen = _chosen(rules)
    t = ws.table("leads")
    if only is not None:
        t = t.filter(t.lead_id == only)
    if not chosen:
        return t.select(unit_id=t.lead_id.cast("string"), reason=ibis.null("string")).limit(0)
    conds = {"opted_out": t.opted_out_at.notnull(), "vip": t.vip.fill_null(False),
             "litigation": t.litigation.fill_null(False), "do_not_contact": t.do_not_contact.fill_null(False)}
    rank = ibis.cases(*[(conds[r], i) for i, r in enumerate(chosen)], else_=None)
    flagged = t.select(unit_id=t.lead_id.cast("string"), rank=rank)
    flagged = flagged.filter(flagged["rank"].notnull())
    per = flagged.group_by("unit_id").aggregate(rank=flagged["rank"].min())
    return per.select(unit_id=per.unit_id, reason=_reason(per["rank"], chosen))


def exclusion_table(ws: Any, unit: str, rules: Sequence[str] = EXCLUSION_RULES, *, only: str | None = None) -> Any:
    """The exclusion table of ``unit`` (lead or account); None for visitors (no facts to read)."""
    if unit == "visitor":
        return None
    return (account_exclusion_table if unit == "account" else lead_exclusion_table)(ws, rules, only=only)


def unit_exclusion(ws: Any, unit: str, unit_id: str, rules: Sequence[str] = EXCLUSION_RULES) -> str | None:
    """The exclusion rule one unit meets, or None (a query filtered on that unit: nothing else is read)."""
    table = exclusion_table(ws, unit, rules, only=unit_id)
    if table is None or not _chosen(rules):
        return None
    rows = table.limit(1).execute()
    return str(rows["reason"].iloc[0]) if len(rows) else None


def _as_dict(table: Any) -> dict[str, str]:
    rows = table.execute()
    return dict(zip(rows["unit_id"].astype(str), rows["reason"].astype(str), strict=True))


def account_exclusions(ws: Any, rules: Sequence[str] = EXCLUSION_RULES) -> dict[str, str]:
    """Account id → the first exclusion rule it meets (see :func:`account_exclusion_table`).

    Loads every excluded account: for small workspaces and tests; assignment joins the table in
    the engine (:mod:`levier.analysis.experiments.engine`).
    """
    return _as_dict(account_exclusion_table(ws, rules)) if _chosen(rules) else {}


def lead_exclusions(ws: Any, rules: Sequence[str] = EXCLUSION_RULES) -> dict[str, str]:
    """Lead id → the first exclusion rule it meets (opt-out, VIP, litigation, do-not-contact).

    Loads every excluded lead: for small workspaces and tests (see :func:`account_exclusions`).
    """
    return _as_dict(lead_exclusion_table(ws, rules)) if _chosen(rules) else {}


def existing_assignments(ws: Any, key: str) -> dict[str, str]:
    """Unit id → variant already stored for experiment ``key`` (its first assignment)."""
    from levier.analysis.experiments.units import first_assignments

    rows = first_assignments(ws.table("assignments"), key).select("unit_id", "variant").execute()
    return dict(zip(rows["unit_id"].astype(str), rows["variant"].astype(str), strict=True))


def stored_variant(ws: Any, key: str, unit_id: str) -> str | None:
    """The variant stored for one unit of ``key`` (its first assignment), or None."""
    a = ws.table("assignments")
    a = a.filter((a.experiment_key == key) & (a.unit_id == unit_id))
    order = [a.assigned_at, *([a._row_id] if "_row_id" in a.columns else []), a.variant]
    rows = a.order_by(order).limit(1).select("variant").execute()
    return str(rows["variant"].iloc[0]) if len(rows) else None


def queued_assignments(ws: Any, key: str, *, after: int = 0) -> tuple[list[tuple[str, str]], int]:
    """``([(unit_id, variant), …], last id)``: assignments of ``key`` queued in the facts inbox after id ``after``.

    Web workers that open the facts read-only queue their writes in the loop DB
    (:func:`levier.data.inbox.append_facts`); a worker reads what the others queued since its
    last look, oldest first, on the inbox's (table, key) index.
    """
    import sqlalchemy as sa

    from levier.loop.db import transaction
    from levier.loop.models import FactsInbox

    q = (sa.select(FactsInbox.id, FactsInbox.payload)
         .where(FactsInbox.table_name == "assignments", FactsInbox.match_key == key, FactsInbox.id > after)
         .order_by(FactsInbox.id))
    with transaction(ws.session) as s:
        found = s.execute(q).all()
    rows = [(str(p["unit_id"]), str(p["variant"])) for _i, p in found if p.get("unit_id") and p.get("variant")]
    return rows, max([after, *(int(i) for i, _p in found)])


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


def store_assignments(ws: Any, experiment_key: str, new: Mapping[str, str], assigned_at: datetime) -> int:
    """Append new assignments (unit → variant, e.g. :attr:`UnitSplit.new`) to ``assignments`` (one import batch).

    For lists held in Python (small workspaces, tests); an engine plan writes with
    :meth:`levier.analysis.experiments.engine.EngineAssignment.store`.
    """
    at = pd.Timestamp(assigned_at)
    at = at.tz_convert("UTC").tz_localize(None) if at.tzinfo else at
    rows = [{"experiment_key": experiment_key, "unit_id": u, "variant": v, "assigned_at": at} for u, v in new.items()]
    return append_rows(ws, "assignments", rows, source=f"levier experiment assign {experiment_key}")


def daily_traffic(ws: Any, *, days: int = 28, until: datetime | None = None, unit: str = "lead") -> float | None:
    """Mean new units per day over the last ``days`` days of data (None when there are none).

    Leads: leads created; accounts: accounts whose first lead was created; visitors: web
    visitors (``anonymous_id``) first seen — per day.
    """
    if unit == "visitor":
        w = ws.table("web_events")
        last, firsts = w.at.max(), w.group_by(uid=w.anonymous_id).aggregate(at=w.at.min())
    else:
        leads = ws.table("leads")
        last = leads.created_at.max()
        if unit == "account":
            leads = leads.filter(leads.account_id.notnull())
            firsts = leads.group_by(uid=leads.account_id).aggregate(at=leads.created_at.min())
        else:
            firsts = leads.select(at=leads.created_at)
    end = until or last.execute()
    if end is None or pd.isna(end):
        return None
    start = pd.Timestamp(end) - pd.Timedelta(days=days)
    n = int(firsts.filter((firsts.at > start) & (firsts.at <= end)).count().execute())
    return n / days if n else None


