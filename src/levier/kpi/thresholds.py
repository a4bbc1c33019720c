"""Stored alert thresholds of a KPI: a lower and/or an upper bound, overall or for one lead segment.

The threshold alerts of :mod:`levier.kpi.alerts` read them (with the same grouping and cool-down
as the other alerts): a complete period whose value is below ``lower`` or above ``upper`` fires.
One threshold per KPI and segment: setting it again replaces the bounds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis
import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.errors import NotFoundError, OptionError
from levier.i18n import gettext as _
from levier.kpi import formula as fml
from levier.kpi.grouped import SEGMENTABLE
from levier.kpi.models import KpiThreshold
from levier.kpi.registry import get_kpi

__all__ = ["Threshold", "set_threshold", "list_thresholds", "clear_threshold", "segment_key"]


@dataclass(frozen=True)
class Threshold:
    id: int
    kpi_key: str
    lower: float | None
    upper: float | None
    segment: dict[str, str] | None
    note: str = ""

    def breached(self, value: float | None) -> str | None:
        """``"below"`` / ``"above"`` when ``value`` crosses a bound, else None."""
        if value is None:
            return None
        if self.lower is not None and value < self.lower:
            return "below"
        if self.upper is not None and value > self.upper:
            return "above"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kpi_key": self.kpi_key, "lower": self.lower, "upper": self.upper, "segment": self.segment, "note": self.note}


def segment_key(segment: Mapping[str, str] | None) -> str:
    """The stored label of a segment, as in the KPI series (``column=value,…`` in the given order)."""
    return ",".join(f"{k}={v}" for k, v in (segment or {}).items())


def _bound(value: float | int | str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise OptionError(_("{field}: '{value}' is not a number.", field=name, value=value)) from None
    if not math.isfinite(v):
        raise OptionError(_("{field}: '{value}' is not a finite number.", field=name, value=value))
    return v


def _check_segment(s: Session, key: str, segment: Mapping[str, str] | None) -> dict[str, str] | None:
    if not segment:
        return None
    seg = {str(k).strip(): str(v).strip() for k, v in segment.items()}
    bad = [k for k in seg if k not in fml.SEGMENT_COLUMNS]
    if bad:
        raise OptionError(_("segment: unknown lead column '{col}'; use one of {cols}.", col=bad[0], cols=", ".join(fml.SEGMENT_COLUMNS)))
    e = get_kpi(s, key)
    split = fml.parse(e.formula).segmentable if e.source == "custom" and e.formula else key in SEGMENTABLE
    if not split:
        raise OptionError(_("KPI '{key}' cannot be split by a lead segment: set its threshold without a segment.", key=key))
    return seg


def _check_values(ws: Any, seg: Mapping[str, str]) -> None:
    """Each segment value must be one some lead has: a threshold on a misspelt value would never fire."""
    leads = ws.table("leads")
    for col, value in seg.items():
        if leads.filter(leads[col].cast("string") == value).count().execute():
            continue
        present = leads.filter(leads[col].notnull())
        top = present.group_by(col).aggregate(n=present.count()).order_by([ibis.desc("n"), col]).limit(12).execute()
        raise OptionError(_("segment: no lead has {col} = '{value}', so this threshold would never fire.", col=col, value=value),
                          hint=_("Values of {col}: {values}.", col=col, values=", ".join(str(v) for v in top[col]) or "—"))


def _out(row: KpiThreshold) -> Threshold:
    return Threshold(row.id, row.kpi_key, row.lower, row.upper, dict(row.segment) if row.segment else None, row.note or "")


def set_threshold(s: Session, key: str, *, lower: float | None = None, upper: float | None = None,
                  segment: Mapping[str, str] | None = None, note: str = "", ws: Any = None) -> Threshold:
    """Store the alert bounds of KPI ``key`` (for ``segment``, or all leads); replaces earlier bounds.

    Given the workspace ``ws``, each segment value must be one that some lead has.
    """
    e = get_kpi(s, key)
    if not e.computable:
        raise OptionError(_("KPI '{key}' is not measured over a period alone: it has no series to watch.", key=key))
    lo, hi = _bound(lower, "lower"), _bound(upper, "upper")
    if lo is None and hi is None:
        raise OptionError(_("Give a lower bound, an upper bound or both (--lower / --upper)."))
    if lo is not None and hi is not None and lo >= hi:
        raise OptionError(_("The lower bound {lower} must be below the upper bound {upper}.", lower=lo, upper=hi))
    seg = _check_segment(s, key, segment)
    if seg and ws is not None:
        _check_values(ws, seg)
    skey = segment_key(seg)
    row = s.scalar(sa.select(KpiThreshold).where(KpiThreshold.kpi_key == key, KpiThreshold.segment_key == skey))
    if row is None:
        row = KpiThreshold(kpi_key=key, segment_key=skey)
        s.add(row)
    row.segment, row.lower, row.upper, row.note = seg, lo, hi, note or ""
    s.flush()
    return _out(row)


def list_thresholds(s: Session, key: str | None = None) -> list[Threshold]:
    q = sa.select(KpiThreshold).order_by(KpiThreshold.kpi_key, KpiThreshold.segment_key)
    if key:
        q = q.where(KpiThreshold.kpi_key == key)
    return [_out(r) for r in s.scalars(q)]


def clear_threshold(s: Session, key: str, segment: Mapping[str, str] | None = None) -> None:
    """Remove the bounds of ``key`` for ``segment`` (or all leads)."""
    skey = segment_key({str(k).strip(): str(v).strip() for k, v in (segment or {}).items()})
    row = s.scalar(sa.select(KpiThreshold).where(KpiThreshold.kpi_key == key, KpiThreshold.segment_key == skey))
    if row is None:
        raise NotFoundError(_("KPI '{key}' has no threshold for {segment}.", key=key, segment=skey or _("all leads")),
                            hint=_("List them with `levier kpi set-threshold --list`."))
    s.delete(row)
    s.flush()
