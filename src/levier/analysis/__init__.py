"""Analyses: engine aggregates → sufficient statistics → SciPy. Pure functions, typed results."""

from __future__ import annotations

from typing import Any

__all__ = ["run_audit", "AuditOptions", "AuditResult"]


def __getattr__(name: str) -> Any:  # lazy: importing levier.analysis stays cheap
    if name in __all__:
        from levier.analysis import audit, framing

        return {"run_audit": audit.run_audit, "AuditResult": audit.AuditResult, "AuditOptions": framing.AuditOptions}[name]
    raise AttributeError(name)
