"""Typed results shared by every attribution model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Attribution", "Comparison", "MODELS"]

#: Every model name accepted by :func:`levier.analysis.attribution.attribute`.
MODELS = ("first", "last", "last_non_direct", "linear", "time_decay", "position", "markov", "shapley")


def _clean(x: float) -> float:
    return float(round(x, 12))


@dataclass(frozen=True)
class Attribution:
    """Conversions and value credited to each channel by one model."""

    model: str
    channels: tuple[str, ...]
    conversions: tuple[float, ...]
    value: tuple[float, ...]
    total_conversions: float
    total_value: float
    params: Mapping[str, Any] = field(default_factory=dict)
    details: Any = None  # model-specific (Markov chain, ordered Shapley …) with to_dict()

    @property
    def label(self) -> str:
        order = self.params.get("order")
        return f"{self.model}_{order}" if self.model == "markov" and order and order != 1 else self.model

    def credit(self, channel: str) -> float:
        """Conversions credited to ``channel`` (0 if unknown)."""
        return dict(zip(self.channels, self.conversions, strict=False)).get(channel, 0.0)

    def value_credit(self, channel: str) -> float:
        return dict(zip(self.channels, self.value, strict=False)).get(channel, 0.0)

    def to_frame(self) -> pd.DataFrame:
        tc = self.total_conversions or 1.0
        return pd.DataFrame({
            "channel": list(self.channels),
            "conversions": list(self.conversions),
            "share": [c / tc if self.total_conversions else 0.0 for c in self.conversions],
            "value": list(self.value),
        })

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model, "label": self.label, "params": dict(self.params),
            "total_conversions": self.total_conversions, "total_value": self.total_value,
            "channels": [{"channel": ch, "conversions": _clean(c), "value": _clean(v)}
                         for ch, c, v in zip(self.channels, self.conversions, self.value, strict=False)],
        }
        if self.details is not None:
            out["details"] = self.details.to_dict()
        return out


@dataclass(frozen=True)
class Comparison:
    """Several models side by side on the same journeys."""

    results: tuple[Attribution, ...]
    source: Mapping[str, Any] = field(default_factory=dict)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(sorted({c for r in self.results for c in r.channels}))

    def to_frame(self, what: str = "conversions") -> pd.DataFrame:
        """One row per channel, one column per model (``what`` = conversions or value)."""
        data = {"channel": list(self.channels)}
        for r in self.results:
            get = r.credit if what == "conversions" else r.value_credit
            data[r.label] = [get(c) for c in self.channels]
        return pd.DataFrame(data)

    def to_dict(self) -> dict[str, Any]:
        return {"source": dict(self.source), "channels": list(self.channels),
                "models": [r.to_dict() for r in self.results]}
