"""Shared attribution fixtures: the reference case of the issue."""

from __future__ import annotations

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
