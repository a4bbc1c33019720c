"""Time series: equal to direct computation per period; incremental refresh recomputes only new periods."""

from __future__ import annotations

import math
from datetime import datetime as dt
from datetime import timedelta

import pyarrow as pa
import pytest
from sqlalchemy.orm import Session

from levier.analysis.kpis import compute_kpi
from levier.kpi import registry, timeseries
from levier.workspace import Workspace

CHANNELS = ("inbound", "outbound", "partner")


def insert(ws: Workspace, name: str, rows: list[dict], batch: int) -> None:
    schema = ws.facts.raw_schema(name).to_pyarrow()
    start = ws.facts.count(name)
    full = [{**{f.name: None for f in schema}, **r, "_row_id": start + i + 1, "_batch": batch} for i, r in enumerate(rows)]
    ws.facts.con.insert(name, pa.Table.from_pylist(full, schema=schema))


def days(ws: Workspace, first: dt, n: int, batch: int) -> None:
    """n days of leads (5 + day % 4 a day), touches and opportunities, deterministic."""
    leads, touches, stages = [], [], []
    for d in range(n):
        day = first + timedelta(days=d)
        for i in range(5 + day.day % 4):
            lid = f"L{day:%m%d}_{i}"
            created = day + timedelta(hours=1 + 2 * i)
            leads.append({"lead_id": lid, "created_at": created, "channel": CHANNELS[i % 3], "company_size": "smb"})
            for j in range(i % 4):
                touches.append({"touch_id": f"T{lid}_{j}", "lead_id": lid, "at": created + timedelta(hours=j + 1), "channel": "email",
                                "direction": "out", "outcome": "replied" if j == 1 else "delivered"})
            if i % 3 == 1:
                stages.append({"lead_id": lid, "stage": "opportunity", "at": created + timedelta(days=2)})
    insert(ws, "leads", leads, batch)
    insert(ws, "touches", touches, batch)
    insert(ws, "stage_events", stages, batch)


@pytest.fixture
def data(workspace: Workspace) -> Workspace:
    days(workspace, dt(2026, 9, 1), 42, batch=1)
    return workspace


def test_custom_series_equals_direct_computation(data: Workspace, s: Session) -> None:
    registry.define_kpi(s, "replies_per_lead", "count(touches, outcome == 'replied') / count(leads)", owner="ana")
    got = timeseries.series(data, s, "replies_per_lead", "week", dt(2026, 9, 1), dt(2026, 10, 13), segment_by=("channel",))
    entry = registry.get_kpi(s, "replies_per_lead")
    for p in got.points[::3]:  # one in three points keeps the test fast; all channels and weeks appear
        seg = dict(kv.split("=") for kv in p.segment.split(",")) if p.segment else {}
        direct = timeseries._custom(data, entry, [p.period_start], "week", tuple(seg))  # the whole-period computation
        # and by hand: replies / leads in the week for the channel
        lo, hi = p.period_start, p.period_start + timedelta(days=7)
        leads = data.table("leads")
        leads = leads.filter((leads.created_at >= lo) & (leads.created_at < hi) & (leads.channel == seg["channel"]))
        t = data.table("touches").inner_join(data.table("leads").select("lead_id", lead_channel="channel"), "lead_id")
        t = t.filter((t.at >= lo) & (t.at < hi) & (t.outcome == "replied") & (t.lead_channel == seg["channel"]))
        n = leads.count().execute()
        assert p.value == pytest.approx(t.count().execute() / n if n else None)
        assert p.value == pytest.approx(direct[(p.period_start, p.segment)])
    assert len(got.points) == 7 * 3


def test_catalogue_series_equals_compute_kpi(data: Workspace, s: Session) -> None:
    got = timeseries.series(data, s, "conversion_rate", "week", dt(2026, 9, 7), dt(2026, 10, 5))
    assert got.recomputed == 4 and len(got.points) == 4
    for p in got.points:
        assert p.value == pytest.approx(compute_kpi(data, "conversion_rate", p.period_start, p.period_start + timedelta(days=7)).value)


def test_incremental_refresh_recomputes_only_new_periods(data: Workspace, s: Session) -> None:
    registry.define_kpi(s, "touches_out", "count(touches, direction == 'out')")
    first = timeseries.series(data, s, "touches_out", "day", dt(2026, 9, 1), dt(2026, 10, 13))
    assert (first.recomputed, first.reused) == (42, 0)
    again = timeseries.series(data, s, "touches_out", "day", dt(2026, 9, 1), dt(2026, 10, 13))
    assert (again.recomputed, again.reused) == (0, 42) and again.points == first.points
    days(data, dt(2026, 10, 13), 1, batch=2)  # one more day of data
    inc = timeseries.series(data, s, "touches_out", "day", dt(2026, 9, 1), dt(2026, 10, 14))
    assert (inc.recomputed, inc.reused) == (1, 42)
    full = timeseries.series(data, s, "touches_out", "day", dt(2026, 9, 1), dt(2026, 10, 14), full=True)
    assert full.recomputed == 43 and [p.value for p in full.points] == [p.value for p in inc.points]
    # a lead-cohort KPI also revises the periods whose leads can still convert (31-day settle window)
    timeseries.series(data, s, "conversion_rate", "week", dt(2026, 8, 31), dt(2026, 10, 19))
    days(data, dt(2026, 10, 14), 1, batch=3)
    inc2 = timeseries.series(data, s, "conversion_rate", "week", dt(2026, 8, 31), dt(2026, 10, 19))
    assert (inc2.recomputed, inc2.reused) == (6, 1)  # weeks ending after 2026-09-13 01:00 (new rows − 31 d) are revised


def test_incremental_refresh_in_one_scope_equals_a_full_recomputation(data: Workspace, s: Session) -> None:
    """A refresh of several lead-cohort and event series in one scope (shared day statistics, one read of the watermarks),
    after a new import batch: only the revisable periods recomputed, every value that of a full recomputation."""
    registry.define_kpi(s, "touches_out", "count(touches, direction == 'out')")
    plan = (("lead", "week"), ("conversion_rate", "month"), ("ttf_hours", "day"), ("pearson_r", "week"), ("touches_out", "day"))

    def refresh(full: bool = False) -> list[timeseries.Series]:
        with timeseries.refresh_scope():
            return [timeseries.series(data, s, k, g, dt(2026, 9, 1), dt(2026, 10, 16), full=full) for k, g in plan]
    refresh()
    days(data, dt(2026, 10, 13), 2, batch=2)
    inc, full = refresh(), refresh(full=True)
    assert [x.recomputed for x in inc] == [6, 2, 34, 6, 3]  # lead cohorts: periods ending after 2026-09-12 01:00 (31-day settle); events: new days
    for a, b in zip(inc, full, strict=True):
        assert [(p.period_start, p.segment) for p in a.points] == [(p.period_start, p.segment) for p in b.points]
        assert all(x.value == y.value or math.isclose(x.value, y.value, rel_tol=1e-12) for x, y in zip(a.points, b.points, strict=True)), a.key
    assert inc[0].values()[-1] == 5 + 13 % 4 + 5 + 14 % 4 + 5 + 12 % 4  # the week of 2026-10-12: its three days of leads


def test_a_cleaning_makes_the_series_stale_and_the_refresh_recomputes(data: Workspace, s: Session) -> None:
    """Exclusions change with no new import: ``stored`` says stale and the refresh recomputes every period."""
    from levier.data.clean import clean_workspace
    from levier.data.journal import undo_rule

    registry.define_kpi(s, "touches_out", "count(touches, direction == 'out')")
    s.commit()  # a cleaning numbers its run under the loop store's lease: no write transaction left open on SQLite
    clean_workspace(data)  # nothing to exclude yet: the first cleaning run
    first = timeseries.series(data, s, "touches_out", "day", dt(2026, 9, 1), dt(2026, 9, 8))
    assert timeseries.stored(data, s, "touches_out", "day", dt(2026, 9, 1), dt(2026, 9, 8)).stale is False
    dup = {"touch_id": "TL0902_2_0", "lead_id": "L0902_2", "at": dt(2026, 9, 2, 6), "channel": "email", "direction": "out", "outcome": "delivered"}
    insert(data, "touches", [dup], batch=1)  # an exact copy of a touch of `days`, in the same batch
    clean_workspace(data)  # excludes the copy: no new batch, only a new cleaning run
    assert timeseries.stored(data, s, "touches_out", "day", dt(2026, 9, 1), dt(2026, 9, 8)).stale is True
    again = timeseries.series(data, s, "touches_out", "day", dt(2026, 9, 1), dt(2026, 9, 8))
    assert again.recomputed == 7 and [p.value for p in again.points] == [p.value for p in first.points]  # the copy stays out
    undo_rule(data, "exact_duplicates")  # the copy is back in the cleaned view: Sept 2 counts one more touch
    back = timeseries.series(data, s, "touches_out", "day", dt(2026, 9, 1), dt(2026, 9, 8))
    assert back.recomputed == 7
    assert [p.value for p in back.points] == [v + (1 if p.period_start == dt(2026, 9, 2) else 0) for p, v in zip(first.points, [q.value for q in first.points], strict=True)]


def test_catalogue_series_keeps_leads_without_a_segment_value(data: Workspace, s: Session) -> None:
    insert(data, "leads", [{"lead_id": f"X{i}", "created_at": dt(2026, 9, 8, 10 + i)} for i in range(3)], batch=2)  # no channel
    got = timeseries.series(data, s, "lead", "week", dt(2026, 9, 7), dt(2026, 9, 14), segment_by=("channel",))
    values = {p.segment: p.value for p in got.points}
    assert values["channel=unknown"] == 3.0  # as compute_kpi and the audit read a missing value
    assert values["channel=unknown"] == compute_kpi(data, "lead", dt(2026, 9, 7), dt(2026, 9, 14), {"channel": "unknown"}).value
    assert sum(values.values()) == compute_kpi(data, "lead", dt(2026, 9, 7), dt(2026, 9, 14)).value


def test_one_refresh_reads_the_cleaning_journal_once(data: Workspace, s: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many series refreshed in one scope (the CLI refresh, an alerts check, a dashboard): one journal read, one batch read per table."""
    import levier.data.journal as journal

    registry.define_kpi(s, "touches_out", "count(touches, direction == 'out')")
    registry.define_kpi(s, "touches_in", "count(touches, direction == 'in')")
    journal_reads, batch_reads = [], []
    real_next, real_batches = journal.next_run_id, timeseries._read_batches
    monkeypatch.setattr(journal, "next_run_id", lambda ws: journal_reads.append(1) or real_next(ws))
    monkeypatch.setattr(timeseries, "_read_batches", lambda ws, names: batch_reads.append(tuple(names)) or real_batches(ws, names))
    keys = ("touches_out", "touches_in", "lead", "conversion_rate")
    with timeseries.refresh_scope():
        with timeseries.refresh_scope():  # nested: the outer scope's reads
            got = [timeseries.series(data, s, k, "week", dt(2026, 9, 1), dt(2026, 9, 15)) for k in keys]
        got += [timeseries.stored(data, s, k, "week", dt(2026, 9, 1), dt(2026, 9, 15)) for k in keys]
    assert len(journal_reads) == 1
    assert sorted(t for names in batch_reads for t in names) == ["leads", "stage_events", "touches"]  # each table once
    assert [g.recomputed for g in got[:4]] == [3, 3, 3, 3] and not any(g.stale for g in got[4:])
    assert got[0].values() == [p.value for p in got[4].points]
    timeseries.series(data, s, "touches_out", "week", dt(2026, 9, 1), dt(2026, 9, 15))
    timeseries.series(data, s, "touches_in", "week", dt(2026, 9, 1), dt(2026, 9, 15))
    assert len(journal_reads) == 3  # outside a scope: once per series, as before
