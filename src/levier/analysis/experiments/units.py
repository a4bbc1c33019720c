"""Randomisation units in the engine: who the units of an experiment are and which leads they hold.

- Assignments are read **deduplicated** on (experiment, unit), keeping the first assignment
  (earliest ``assigned_at``, then the first row written): a unit stored twice — by two server
  workers answering its first visit at once, or by a re-import — is counted once, in its first
  arm (decision 0130).
- ``lead``: ``unit_id`` is a lead id; the unit holds that lead.
- ``account``: ``unit_id`` is an account id; the unit holds every lead whose ``account_id`` is
  it. Breakdown values come from the account's first lead (earliest ``created_at``).
- ``visitor``: ``unit_id`` is a web ``anonymous_id``. Visitors that only appear in ``web_events``
  with a variant tagged ``"<key>/<arm>"`` (events imported from another tool) are units too, in
  the arm of their first tagged event, from that event's time. A visitor holds the leads
  stitched to it (``lead_id`` set on any of its web events), so a lead-level KPI such as
  "reached opportunity" reads "visitors whose stitched lead reached opportunity" over every
  assigned visitor (identified or not). Breakdowns use the visitor's first web event
  (:data:`WEB_DIMENSIONS`); lead columns, CUPED covariates and ``per: lead`` are refused, since a
  visitor's leads exist only once the visitor has been identified — after the treatment.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from levier.analysis.experiments.metrics import MetricSpec
from levier.data.parts import Part, in_part
from levier.errors import OptionError
from levier.i18n import N_
from levier.i18n import gettext as _

__all__ = ["UNITS", "UNIT_LABELS", "WEB_DIMENSIONS", "first_assignments", "experiment_units", "unit_leads",
           "unit_dimensions", "check_unit", "tag_prefix", "unit_label"]

UNITS = ("lead", "account", "visitor")
#: msgids of the units, as a person reads them (protocol, report)
UNIT_LABELS = {"lead": N_("lead"), "account": N_("account"), "visitor": N_("visitor")}
#: breakdowns of visitor units (columns of the visitor's first web event)
WEB_DIMENSIONS = ("utm_source", "utm_medium", "utm_campaign", "page", "referrer")


def unit_label(unit: str | None, lang: str | None = None) -> str:
    """The randomisation unit in words (``None``: a summary file that does not say)."""
    if unit is None:
        return _("not stated (summary file)", lang=lang)
    return _(UNIT_LABELS[unit], lang=lang) if unit in UNIT_LABELS else unit


def tag_prefix(key: str) -> str:
    """Prefix of the ``web_events.variant`` values of experiment ``key`` (``"<key>/"``)."""
    return f"{key}/"


def _first(t: ir.Table, by: ir.Column, order: Sequence[ir.Column]) -> ir.Table:
    """The first row of each ``by`` value in ``order`` (ascending; NULLs last, as DuckDB sorts).

    On DuckDB a window holds its whole input in memory (10M assignment rows fit the 2 GB cap,
    30M do not), so there the first row is found with spilling operators instead: for each order
    column in turn, the rows equal to their key's minimum (``GROUP BY`` + join back, both out of
    core); ``_row_id`` (unique) ends the ranking, and rows still tied on every order column keep
    one value per column (decision 0236). Other engines spill windows: ``row_number``.
    """
    if ibis.get_backend(t).name != "duckdb":
        ranked = t.mutate(_rn=ibis.row_number().over(group_by=by, order_by=list(order)))
        return ranked.filter(ranked._rn == 0).drop("_rn")
    key, cols = by.get_name(), list(t.columns)
    cur = t
    for col in (c.get_name() for c in order):
        low = cur.group_by(_lv_key=cur[key]).aggregate(_lv_min=cur[col].min())
        j = cur.join(low, cur[key] == low._lv_key)
        cur = j.filter((j[col] == j._lv_min) | j._lv_min.isnull()).select(*cols)
        if col == "_row_id":
            return cur
    return cur.group_by(key).aggregate(**{c: cur[c].arbitrary() for c in cols if c != key}).select(*cols)


def first_assignments(a: ir.Table, key: str, part: Part | None = None) -> ir.Table:
    """``unit_id, variant, t0``: one row per unit of ``key``, its first assignment.

    ``part``: only the units of that hash part of ``unit_id`` (filtered before the deduplication,
    which is per unit, so the window holds only the part's rows).
    """
    a = in_part(a.filter(a.experiment_key == key), "unit_id", part)
    order = [a.assigned_at, *([a._row_id] if "_row_id" in a.columns else []), a.variant]
    first = _first(a, a.unit_id, order)
    return first.select(unit_id=first.unit_id, variant=first.variant, t0=first.assigned_at)


def _tagged_visitors(w: ir.Table, key: str, part: Part | None = None) -> ir.Table:
    prefix = tag_prefix(key)
    w = in_part(w.filter(w.variant.startswith(prefix) & w.anonymous_id.notnull()), "anonymous_id", part)
    order = [w.at, *([w._row_id] if "_row_id" in w.columns else []), w.event_id]
    first = _first(w, w.anonymous_id, order)
    return first.select(unit_id=first.anonymous_id, variant=first.variant.substr(len(prefix)), t0=first.at)


def experiment_units(tables: dict[str, ir.Table], key: str, unit: str, part: Part | None = None) -> ir.Table:
    """``unit_id, variant, t0`` of every unit of experiment ``key`` (``part``: of that hash part of ``unit_id``)."""
    units = first_assignments(tables["assignments"], key, part)
    if unit == "visitor":
        tagged = _tagged_visitors(tables["web_events"], key, part)
        units = units.union(tagged.anti_join(units, tagged.unit_id == units.unit_id))
    return units


def unit_leads(tables: dict[str, ir.Table], units: ir.Table, unit: str) -> ir.Table:
    """``unit_id, lead_id, t0`` (+ ``created_at, score`` beyond lead units): the leads each unit holds."""
    if unit == "lead":  # the unit is its lead (lead columns are read from the leads table when needed)
        return units.select(unit_id=units.unit_id, lead_id=units.unit_id, t0=units.t0)
    leads = tables["leads"]
    if unit == "account":
        m = leads.filter(leads.account_id.notnull()).select(unit_id=leads.account_id, lead_id=leads.lead_id,
                                                            created_at=leads.created_at, score=leads.score)
    else:
        w = tables["web_events"]
        pairs = w.filter(w.lead_id.notnull() & w.anonymous_id.notnull()).select(
            unit_id=w.anonymous_id, lead_id=w.lead_id).distinct()
        lv = leads.select(_lid=leads.lead_id, created_at=leads.created_at, score=leads.score)
        m = pairs.left_join(lv, pairs.lead_id == lv._lid).drop("_lid")
    u = units.select(_uid=units.unit_id, t0=units.t0)
    j = m.join(u, m.unit_id == u._uid)
    return j.select("unit_id", "lead_id", "t0", "created_at", "score")


def unit_dimensions(tables: dict[str, ir.Table], units: ir.Table, unit: str, dimensions: Sequence[str]) -> ir.Table:
    """``unit_id`` and each dimension (as string) — the values of the unit's first lead / web event."""
    if unit == "visitor":
        w = tables["web_events"]
        w = w.semi_join(units, w.anonymous_id == units.unit_id)
        src = _first(w, w.anonymous_id, [w.at, w.event_id])
        return src.select(unit_id=src.anonymous_id, **{d: src[d].cast("string") for d in dimensions})
    leads = tables["leads"]
    if unit == "account":
        leads = leads.filter(leads.account_id.notnull())
        leads = leads.semi_join(units, leads.account_id == units.unit_id)
        src = _first(leads, leads.account_id, [leads.created_at, leads.lead_id])
        return src.select(unit_id=src.account_id, **{d: src[d].cast("string") for d in dimensions})
    return leads.select(unit_id=leads.lead_id, **{d: leads[d].cast("string") for d in dimensions})


def check_unit(unit: str, metrics: Sequence[MetricSpec], dimensions: Sequence[str], lead_columns: Sequence[str]) -> None:
    """Refuse clearly what a randomisation unit cannot measure (OptionError naming the metric / column)."""
    if unit not in UNITS:
        raise OptionError(_("Unknown randomisation unit '{unit}'.", unit=unit),
                          hint=_("Use one of: {names}.", names=", ".join(UNITS)))
    allowed = WEB_DIMENSIONS if unit == "visitor" else tuple(lead_columns)
    for d in dimensions:
        if d not in allowed:
            raise OptionError(_("Breakdown '{dim}' is not available for {unit} units.", dim=d, unit=unit),
                              hint=_("Use one of: {names}.", names=", ".join(allowed)))
    if unit != "visitor":
        return
    for m in metrics:
        if m.covariate:
            raise OptionError(
                _("Metric '{name}': a CUPED covariate is not available for visitor units.", name=m.name),
                hint=_("A visitor's leads are known only once it is identified, after the treatment; remove covariate."))
        if m.per == "lead":
            raise OptionError(
                _("Metric '{name}': per: lead is not available for visitor units.", name=m.name),
                hint=_("A visitor's leads are known only once it is identified, after the treatment; measure per visitor (per: unit)."))
