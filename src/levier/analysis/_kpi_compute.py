"""Compute functions of the KPI catalogue (:mod:`levier.analysis.kpis`): the grouped definitions over one period.

Every KPI is defined once, in :mod:`levier.kpi.grouped` (the queries that bucket rows by
period and segment, and the formulas that finish their sufficient statistics). A compute
function here is that definition run on a calendar of one free period ``[start, end)``, so
``compute_kpi`` and the stored series (``levier kpi series``) cannot disagree (decision 0214).

Every function has the signature ``fn(ws, start, end, segment) -> float | None`` with
``start``/``end`` datetimes (half-open period) and ``segment`` a dict of ``leads`` columns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from levier.kpi.grouped import GROUPED, catalogue_span

__all__ = ["COMPUTE", "Compute"]

Compute = Callable[[Any, datetime, datetime, Mapping[str, str] | None], float | None]


def _span(key: str) -> Compute:
    def compute(ws: Any, start: datetime, end: datetime, segment: Mapping[str, str] | None) -> float | None:
        return catalogue_span(ws, key, start, end, segment)
    compute.__name__ = compute.__qualname__ = f"compute_{key}"
    return compute


COMPUTE: dict[str, Compute] = {key: _span(key) for key in GROUPED}
