"""KPI registry, objectives (SMART targets, OKRs, North Star), time series, dashboards, alerts,
lead scoring, the marketing → sales SLA and the pipeline forecast.

Submodules are imported on demand (``from levier.kpi import registry``) so that the loop store
can load :mod:`levier.kpi.models` without the analysis stack.
"""

from __future__ import annotations

__all__ = ["models", "formula", "registry", "timeseries", "dashboards", "alerts", "detect", "scoring", "sla", "forecast"]
