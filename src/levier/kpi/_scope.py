"""One refresh of many KPI series: what the series share is read (or computed) once per scope.

:func:`levier.kpi.timeseries.refresh_scope` opens the scope (``levier kpi refresh``, an alerts check, a
dashboard); inside it :func:`memo` keeps each value it is asked for — the tables' last import batch, the
cleaning journal's last run, the data's start and end, the lead-cohort sufficient statistics per day
(:mod:`levier.kpi.grouped`). Outside a scope nothing is kept: every call reads the facts again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["scope", "store", "memo"]

_SCOPE: ContextVar[dict[Any, Any] | None] = ContextVar("levier_kpi_refresh", default=None)


@contextmanager
def scope() -> Iterator[None]:
    """Open a refresh scope (nested scopes share the outer one)."""
    token = _SCOPE.set({}) if _SCOPE.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _SCOPE.reset(token)


def store() -> dict[Any, Any] | None:
    """The open scope's values (None outside a scope)."""
    return _SCOPE.get()


def memo(key: Any, compute: Callable[[], Any]) -> Any:
    """``compute()``, kept under ``key`` for the rest of the open scope (computed every time outside one)."""
    kept = _SCOPE.get()
    if kept is None:
        return compute()
    if key not in kept:
        kept[key] = compute()
    return kept[key]
