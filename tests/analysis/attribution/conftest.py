"""Shared attribution fixtures: the reference case of the issue."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime as dt
from typing import Any

import numpy as np
import pytest

from levier.analysis.attribution.paths import PathCounts

REFERENCE = [("A>B>C", 3, 2), ("A", 0, 4), ("B>C", 2, 3), ("A>C", 1, 1), ("C", 1, 2), ("B>A>C", 1, 0)]


@pytest.fixture
def reference() -> PathCounts:
    return PathCounts.from_records(REFERENCE)


def insert(ws, name: str, rows: list[dict]) -> None:  # noqa: ANN001
    """Write ``rows`` into the raw table ``name`` (missing columns null), as an import would."""
    import pyarrow as pa

    schema = ws.facts.raw_schema(name).to_pyarrow()
    start = ws.facts.count(name)
    full = [{**{f.name: None for f in schema}, **r, "_row_id": start + i + 1, "_batch": 1} for i, r in enumerate(rows)]
    ws.facts.con.insert(name, pa.Table.from_pylist(full, schema=schema))


def _web(eid: str, anon: str, at: dt, **kw: object) -> dict:
    return {"event_id": eid, "anonymous_id": anon, "at": at, "type": kw.pop("type", "page_view"), **kw}


@pytest.fixture
def small(workspace):  # noqa: ANN001, ANN201
    insert(workspace, "leads", [{"lead_id": "L1", "created_at": dt(2026, 10, 3, 9, 5)},
                                {"lead_id": "L2", "created_at": dt(2026, 10, 1)}])
    insert(workspace, "web_events", [
        _web("e0", "a1", dt(2026, 8, 1, 8), utm_medium="organic", utm_source="google"),
        _web("e1", "a1", dt(2026, 10, 1, 10), utm_medium="cpc", utm_source="google", utm_campaign="brand"),
        _web("e2", "a1", dt(2026, 10, 1, 10, 5), page="/pricing"),
        _web("e3", "a1", dt(2026, 10, 3, 9)),
        _web("e4", "a1", dt(2026, 10, 3, 9, 5), type="form_submit", lead_id="L1"),
        _web("e5", "a3", dt(2026, 10, 2, 8), referrer="https://www.google.com/"),
        _web("e6", "a3", dt(2026, 10, 2, 12), utm_medium="Email", utm_source="brevo"),
    ])
    insert(workspace, "touches", [
        {"touch_id": "t1", "lead_id": "L1", "at": dt(2026, 10, 4, 12), "channel": "email", "direction": "out"},
        {"touch_id": "t2", "lead_id": "L2", "at": dt(2026, 10, 2), "channel": "call", "direction": "out"},
        {"touch_id": "t3", "lead_id": "L2", "at": dt(2026, 10, 5), "channel": "call", "direction": "out"},
    ])
    insert(workspace, "stage_events", [{"lead_id": "L1", "stage": "lead", "at": dt(2026, 10, 3, 9, 5)},
                                       {"lead_id": "L1", "stage": "opportunity", "at": dt(2026, 10, 10)},
                                       {"lead_id": "L2", "stage": "lead", "at": dt(2026, 10, 1)}])
    insert(workspace, "deals", [{"deal_id": "D1", "lead_id": "L1", "created_at": dt(2026, 10, 10), "amount": 1000.0}])
    return workspace


#: relative tolerance of the engine-vs-reference comparisons
REL = 1e-9


def frames_workspace(factory: pytest.TempPathFactory, name: str, frames: dict[str, list[dict]]) -> Iterator[Any]:
    """A new workspace holding ``frames`` (table → rows), for a module-scoped fixture to yield from."""
    from levier.data._frames import insert_frames
    from levier.workspace import create_workspace

    ws = create_workspace(factory.mktemp(name) / "ws", timezone="UTC")
    insert_frames(ws.facts, frames)
    yield ws
    ws.close()


def assert_same_attribution(a: Any, b: Any) -> None:
    """Two attributions of one model: same channels and parameters, credits equal to :data:`REL`."""
    assert a.model == b.model and a.channels == b.channels and a.params == b.params
    np.testing.assert_allclose(a.conversions, b.conversions, rtol=REL, atol=1e-12)
    np.testing.assert_allclose(a.value, b.value, rtol=REL, atol=1e-9)
    assert a.total_conversions == pytest.approx(b.total_conversions, rel=REL)
    assert a.total_value == pytest.approx(b.total_value, rel=REL)
