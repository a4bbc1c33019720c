"""Sufficient statistics of an experiment: one statistic per (metric, dimension, value, arm).

:class:`ExperimentData` is what the engine aggregation (:mod:`.analysis`) and the summary
CSV reader (:mod:`.summary`) both produce, and what the read-out (:mod:`.readout`) consumes.
``dimension == ""`` holds the overall figures of each arm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from levier.analysis.experiments.metrics import MetricSpec
from levier.analysis.experiments.statistics import Statistic

__all__ = ["ExperimentData", "CellKey", "OVERALL"]

CellKey = tuple[str, str, str, str]  # metric, dimension, value, arm
OVERALL = ("", "")


@dataclass(frozen=True)
class ExperimentData:
    """Arms (the first is the control), metric definitions and the statistics of every cell."""

    key: str
    arms: tuple[str, ...]
    metrics: tuple[MetricSpec, ...]
    cells: dict[CellKey, Statistic] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # metric -> primary | secondary | guardrail
    source: str = "engine"
    unit: str | None = "lead"  # randomisation unit: lead, account or visitor (None: a summary file that does not say)

    @property
    def control(self) -> str:
        return self.arms[0]

    def metric(self, name: str) -> MetricSpec:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)

    def role(self, name: str) -> str:
        return self.roles.get(name, "primary" if self.metrics and name == self.metrics[0].name else "secondary")

    def stat(self, metric: str, arm: str, dimension: str = "", value: str = "") -> Statistic | None:
        return self.cells.get((metric, dimension, value, arm))

    def units(self) -> dict[str, float]:
        """Units per arm (overall), from the first metric."""
        if not self.metrics:
            return {}
        first = self.metrics[0].name
        return {a: float(s.n) if (s := self.stat(first, a)) is not None else 0.0 for a in self.arms}

    def breakdowns(self) -> dict[str, list[str]]:
        """Dimension → its values, in order of appearance."""
        out: dict[str, list[str]] = {}
        for _m, dim, val, _a in self.cells:
            if dim and val not in out.setdefault(dim, []):
                out[dim].append(val)
        return out

    def to_frame(self) -> pd.DataFrame:
        rows = [{"metric": m, "dimension": d, "value": v, "arm": a, **s.to_dict()} for (m, d, v, a), s in self.cells.items()]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "arms": list(self.arms), "source": self.source, "unit": self.unit,
                "metrics": [m.model_dump(mode="json") for m in self.metrics], "roles": self.roles,
                "cells": [{"metric": m, "dimension": d, "value": v, "arm": a, "statistic": s.to_dict()}
                          for (m, d, v, a), s in self.cells.items()]}
