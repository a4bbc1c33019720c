"""Audit cycles: 7 steps on the 4-week calendar, results, decisions, reminders, monthly replay."""

from __future__ import annotations

from datetime import date

import pytest

from levier.errors import OptionError, ServiceUnavailableError
from levier.loop.services import cycles


def test_cycle_steps_follow_the_four_week_calendar(s) -> None:  # noqa: ANN001
    c = cycles.create_cycle(
        s, "October audit", period_start="2026-10-01", period_end="2026-11-01", start_date="2026-11-02",
        segment="inbound/smb", framing={"kpis": ["conversion_rate"]}, raci={"responsible": "ana", "accountable": "cmo", "consulted": ["sales"]},
    )
    d = cycles.cycle_detail(s, c.id, today=date(2026, 11, 2))
    assert [(st["key"], st["week"], st["due_date"]) for st in d["steps"]] == [
        ("frame", 1, "2026-11-08"), ("collect", 1, "2026-11-08"), ("clean", 1, "2026-11-08"),
        ("visualise", 2, "2026-11-15"), ("quantify", 2, "2026-11-15"), ("decide", 2, "2026-11-15"), ("experiment", 4, "2026-11-29"),
    ]
    assert [w["tasks"] for w in d["calendar"]][2] == ["launch the A/B test", "brief the team"]
    assert d["calendar"][3]["starts"] == "2026-11-23"
    with pytest.raises(OptionError, match="exactly one person"):
        cycles.create_cycle(s, "x", period_start="2026-10-01", period_end="2026-11-01", raci={"accountable": ["a", "b"]})
    with pytest.raises(OptionError, match="after period_start"):
        cycles.create_cycle(s, "x", period_start="2026-10-01", period_end="2026-10-01")


def test_reminders_results_decisions(s) -> None:  # noqa: ANN001
    c = cycles.create_cycle(s, "Oct", period_start="2026-10-01", period_end="2026-11-01", start_date="2026-11-02")
    cycles.complete_step(s, c.id, "frame")
    cycles.complete_step(s, c.id, 2, note="CRM export of 2026-11-02")
    rem = cycles.reminders(s, today=date(2026, 11, 7), within_days=1)
    assert [(r["key"], r["overdue"], r["days_left"]) for r in rem] == [("clean", False, 1)]
    rem = cycles.reminders(s, today=date(2026, 11, 10), within_days=5)
    assert [(r["key"], r["overdue"]) for r in rem] == [("clean", True), ("visualise", False), ("quantify", False), ("decide", False)]
    with pytest.raises(OptionError):
        cycles.complete_step(s, c.id, "dance")
    res = cycles.attach_result(s, c.id, {"version": 1, "overall": {"conversion_rate": 0.18}})
    dec = cycles.add_decision(s, c.id, "Min 6 touches in 10 days", segment="inbound/smb", thresholds={"min_touches": 6}, colour="green")
    d = cycles.cycle_detail(s, c.id)
    assert [r["id"] for r in d["results"]] == [res.id] and d["decisions"][0]["id"] == dec.id
    assert cycles.list_results(s, c.id)[0].payload["overall"]["conversion_rate"] == 0.18
    with pytest.raises(OptionError):
        cycles.add_decision(s, c.id, "x", colour="blue")


def test_monthly_replay(s) -> None:  # noqa: ANN001
    c = cycles.create_cycle(s, "Jan", period_start="2026-01-31", period_end="2026-02-28", framing={"unit": "lead"}, raci={"responsible": "ana"})
    r = cycles.replay(s, c.id)
    assert (r.period_start, r.period_end, r.replay_of_id) == (date(2026, 2, 28), date(2026, 3, 28), c.id)
    assert r.framing == {"unit": "lead"} and r.raci == {"responsible": "ana"}
    assert cycles.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert cycles.add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)


def test_run_audit_attaches_the_result(s, monkeypatch) -> None:  # noqa: ANN001
    import levier.analysis as analysis

    c = cycles.create_cycle(s, "Oct", period_start="2026-10-01", period_end="2026-11-01")
    if not hasattr(analysis, "run_audit"):
        with pytest.raises(ServiceUnavailableError):
            cycles.run_audit(s, object(), c.id)

    class Result:
        def to_dict(self) -> dict:
            return {"version": 1, "overall": {"n": 10}}

    seen = {}
    monkeypatch.setattr(analysis, "run_audit", lambda ws, opts: seen.update(opts=opts) or Result(), raising=False)
    monkeypatch.setattr(analysis, "AuditOptions", None, raising=False)
    row = cycles.run_audit(s, object(), c.id, {"segment_by": ["channel"]})
    assert row.kind == "audit" and row.payload == {"version": 1, "overall": {"n": 10}}
    assert seen["opts"]["start"] == date(2026, 10, 1) and seen["opts"]["segment_by"] == ["channel"]


def test_real_audit_run_is_attached_to_its_cycle(workspace) -> None:  # noqa: ANN001
    from .conftest import insert_january

    insert_january(workspace)
    with workspace.session() as s:
        c = cycles.create_cycle(s, "January", period_start="2026-01-01", period_end="2026-02-01", framing={"segment_by": ["channel"], "compare_to": "none"})
        row = cycles.run_audit(s, workspace, c.id)
        assert row.payload["framing"]["period"]["start"] == "2026-01-01"
        assert row.payload["overall"]["n"] == 6
        with pytest.raises(OptionError, match="colour"):
            cycles.run_audit(s, workspace, c.id, {"colour": "red"})
