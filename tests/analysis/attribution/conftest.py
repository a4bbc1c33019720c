"""Shared attribution fixtures: the reference case of the issue."""

from __future__ import annotations

import pytest

from levier.analysis.attribution.paths import PathCounts

REFERENCE = [("A>B>C", 3, 2), ("A", 0, 4), ("B>C", 2, 3), ("A>C", 1, 1), ("C", 1, 2), ("B>A>C", 1, 0)]


@pytest.fixture
def reference() -> PathCounts:
    return PathCounts.from_records(REFERENCE)
