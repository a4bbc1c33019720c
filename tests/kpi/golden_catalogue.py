"""Golden values of every catalogue KPI on the KPI demo (8,000 leads, seed 7): ``golden_catalogue.json``.

The file was written by ``python -m tests.kpi.golden_catalogue`` at commit 04842bb, when
:func:`levier.analysis.kpis.compute_kpi` still ran its own per-period functions
(``analysis/_kpi_compute.py`` calling the funnel, marketing and attribution reports). Since the
KPIs are defined once (:mod:`levier.kpi.grouped`, decision 0214) ``tests/kpi/test_one_definition.py``
checks both entry points against it: do not regenerate it to make a test pass.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from datetime import datetime as dt
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).with_name("golden_catalogue.json")

#: aligned month and week, a span of whole days, a span with times of day (half-open)
PERIODS: dict[str, tuple[dt, dt]] = {
    "month": (dt(2026, 9, 1), dt(2026, 10, 1)),
    "week": (dt(2026, 9, 14), dt(2026, 9, 21)),
    "days": (dt(2026, 8, 10), dt(2026, 10, 3)),
    "hours": (dt(2026, 9, 3, 6, 30), dt(2026, 9, 20, 18, 0)),
}
#: segments measured on the segmentable KPIs (over "month" and "days")
SEGMENTS: tuple[dict[str, str], ...] = ({"channel": "inbound"}, {"channel": "nope"}, {"channel": "outbound", "company_size": "smb"})


def label(seg: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in (seg or {}).items())


def measure(ws: Any, periods: tuple[str, ...] = tuple(PERIODS)) -> dict[str, dict[str, float | None]]:
    """``{key: {"<period>|<segment>": value}}`` through :func:`compute_kpi` (over the named ``periods``)."""
    from levier.analysis.kpis import KPIS, compute_kpi
    from levier.kpi.grouped import SEGMENTABLE

    out: dict[str, dict[str, float | None]] = {}
    for key in sorted(k for k, v in KPIS.items() if v.computable):
        got: dict[str, float | None] = {}
        for name in periods:
            s, e = PERIODS[name]
            for seg in (None, *(SEGMENTS if key in SEGMENTABLE and name in ("month", "days") else ())):
                try:
                    v = compute_kpi(ws, key, s, e, seg).value
                except (TypeError, ZeroDivisionError):  # what a series stores for such a period
                    v = None
                got[f"{name}|{label(seg)}"] = None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
        out[key] = got
    return out


def demo_workspace(root: Path) -> Any:
    """The KPI demo workspace (as ``tests/kpi/conftest.py::demo_ws``) under ``root``."""
    from tests.analysis.conftest import load_demo_parquet

    from levier.data.demo import generate
    from levier.workspace import create_workspace

    generate(root / "data", leads=8_000, seed=7)
    ws = create_workspace(root / "ws", timezone="UTC")
    load_demo_parquet(ws, root / "data", ("leads", "touches", "stage_events", "deals", "web_events", "spend", "orders"))
    return ws


if __name__ == "__main__":  # pragma: no cover
    with tempfile.TemporaryDirectory() as tmp:
        ws = demo_workspace(Path(tmp))
        try:
            values = measure(ws)
        finally:
            ws.close()
    GOLDEN.write_text(json.dumps(values, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    sys.stdout.write(f"{sum(len(v) for v in values.values())} values of {len(values)} KPIs -> {GOLDEN}\n")
