"""Stage funnel: counts, step and cumulative rates, drop-off, median time between steps."""

from __future__ import annotations

from datetime import datetime as dt

import pytest
from tests.analysis.attribution.conftest import insert

from levier.analysis.funnel import funnel
from levier.errors import OptionError


@pytest.fixture
def fws(workspace):  # noqa: ANN001, ANN201
    insert(workspace, "leads", [
        {"lead_id": "L1", "created_at": dt(2026, 10, 1), "channel": "inbound"},
        {"lead_id": "L2", "created_at": dt(2026, 10, 1, 12), "channel": "inbound"},
        {"lead_id": "L3", "created_at": dt(2026, 10, 2), "channel": "outbound"},
        {"lead_id": "L4", "created_at": dt(2026, 10, 3), "channel": "outbound"},
        {"lead_id": "L5", "created_at": dt(2026, 9, 3), "channel": "outbound"},
    ])
    insert(workspace, "stage_events", [
        {"lead_id": "L1", "stage": "mql", "at": dt(2026, 10, 2)}, {"lead_id": "L1", "stage": "sql", "at": dt(2026, 10, 4)},
        {"lead_id": "L1", "stage": "opportunity", "at": dt(2026, 10, 6)}, {"lead_id": "L2", "stage": "mql", "at": dt(2026, 10, 3)},
        {"lead_id": "L3", "stage": "sql", "at": dt(2026, 10, 5)}, {"lead_id": "L3", "stage": "lost", "at": dt(2026, 10, 9)},
        {"lead_id": "L5", "stage": "mql", "at": dt(2026, 9, 4)},
    ])
    return workspace


def test_overall_funnel(fws) -> None:  # noqa: ANN001
    f = funnel(fws, start=dt(2026, 10, 1), end=dt(2026, 11, 1))
    assert f.stages == ("lead", "mql", "sql", "opportunity", "won")
    steps = {s.stage: s for s in f.overall.steps}
    assert [s.reached for s in f.overall.steps] == [4, 3, 2, 1, 0]
    assert steps["mql"].step_rate == pytest.approx(3 / 4)
    assert steps["sql"].step_rate == pytest.approx(2 / 3)
    assert steps["opportunity"].cumulative_rate == pytest.approx(1 / 4)
    assert steps["sql"].drop_off == 1
    assert steps["mql"].median_hours_from_previous == pytest.approx(30.0)
    assert steps["mql"].timed_leads == 2
    assert steps["sql"].median_hours_from_previous == pytest.approx(48.0)
    assert steps["won"].step_rate == 0.0 and steps["won"].median_hours_from_previous is None
    assert f.rate("mql", "sql") == pytest.approx(2 / 3)


def test_funnel_per_segment(fws) -> None:  # noqa: ANN001
    f = funnel(fws, start=dt(2026, 10, 1), end=dt(2026, 11, 1), segment_by=["channel"])
    by = {s.label: [st.reached for st in s.steps] for s in f.segments}
    assert by == {"inbound": [2, 2, 1, 1, 0], "outbound": [2, 1, 1, 0, 0]}
    frame = f.to_frame()
    assert set(frame["segment"]) == {"all", "inbound", "outbound"}
    assert f.to_dict()["segments"][0]["key"] == {"channel": "inbound"}


def test_funnel_errors(fws) -> None:  # noqa: ANN001
    with pytest.raises(OptionError):
        funnel(fws, segment_by=["colour"])
    with pytest.raises(OptionError):
        funnel(fws, stages=("lead", "lost"))


def test_funnel_of_an_empty_period_is_all_zero(fws) -> None:  # noqa: ANN001
    f = funnel(fws, start=dt(2025, 1, 1), end=dt(2025, 2, 1), segment_by=["channel"])
    assert [s.reached for s in f.overall.steps] == [0, 0, 0, 0, 0]
    assert all(s.step_rate is None and s.cumulative_rate is None for s in f.overall.steps)
    assert f.segments == ()
