"""The bridge between actions and the one KPI catalogue (:mod:`levier.analysis.kpis`).

An action targets a KPI of the catalogue that can be measured over a period alone
(``Kpi.computable``); verification calls
``levier.analysis.kpis.compute_kpi(ws, key, start, end, segment)`` on the half-open window
``[start, end)`` and keeps the figure. The catalogue is imported lazily so the loop store
works (and its API starts) without the analysis stack loaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = ["Measurement", "known_kpis", "check_kpi", "measure"]


@dataclass(frozen=True)
class Measurement:
    """A KPI measured over a window: ``value`` is None when it cannot be measured."""

    key: str
    value: float | None
    source: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "value": self.value, "source": self.source, "detail": self.detail}


def _catalogue() -> Any:
    from levier.analysis import kpis

    return kpis


def known_kpis(lang: str | None = None) -> dict[str, str]:
    """KPI keys an action may target (computable over a period), with their names."""
    cat = _catalogue()
    out: dict[str, str] = {}
    for key, k in getattr(cat, "KPIS", {}).items():
        if getattr(k, "computable", True):
            name = getattr(k, "name", None)
            out[str(key)] = str(name(lang) if callable(name) else name or key)
    return out


def check_kpi(key: str) -> str:
    """``key`` if the KPI catalogue can measure it, else an :class:`OptionError` listing the keys."""
    kpis = known_kpis()
    if key not in kpis:
        raise OptionError(
            _("kpi: '{key}' is not in the KPI catalogue (or cannot be measured over a period).", key=key),
            hint=_("Known KPIs: {keys}.", keys=", ".join(sorted(kpis))),
        )
    return key


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) or math.isinf(out) else out


def measure(ws: Any, key: str, start: datetime, end: datetime, segment: dict[str, Any] | None = None) -> Measurement:
    """``key`` measured on the workspace facts over ``[start, end)``, optionally in ``segment``."""
    cat = _catalogue()
    res = cat.compute_kpi(ws, key, start, end, segment=segment)
    if isinstance(res, dict):
        raw, detail = res.get("value"), dict(res)
    else:
        raw = getattr(res, "value", res)
        detail = res.to_dict() if hasattr(res, "to_dict") else {}
    kpi_def = getattr(cat, "KPIS", {}).get(key)
    if kpi_def is not None and hasattr(kpi_def, "formula"):
        detail["formula"] = kpi_def.formula()
    return Measurement(key, _number(raw), "catalogue", detail)
