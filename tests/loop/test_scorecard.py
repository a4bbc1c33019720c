"""The Retro ROI scorecard equals a direct count (property test) and has the documented shape."""

from __future__ import annotations

import statistics
from datetime import date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from levier.loop.db import make_engine, make_sessionmaker
from levier.loop.models import (
    Action,
    Experiment,
    Hypothesis,
    Learning,
    PlaybookEntry,
    PlaybookLink,
    Retro,
    User,
)
from levier.loop.services import scorecard

TODAY = date(2026, 6, 1)
BASE = datetime(2026, 1, 1)

action_st = st.fixed_dictionaries({
    "retro": st.integers(0, 2), "status": st.sampled_from(["open", "in_progress", "done", "cancelled"]),
    "due": st.integers(0, 200), "done_delay": st.integers(-10, 10), "verification": st.sampled_from([None, "met", "missed", "not_measurable"]),
})
exp_st = st.fixed_dictionaries({"retro": st.integers(0, 2), "status": st.sampled_from(["planned", "running", "concluded", "stopped"]), "started": st.booleans()})
learning_st = st.fixed_dictionaries({"retro": st.integers(0, 2), "standardised_after": st.one_of(st.none(), st.integers(0, 90)), "entry_status": st.sampled_from(["standard", "retired"])})


def _populate(s, acts, exps, lns):  # noqa: ANN001, ANN202
    s.add(User(id=1, username="o", role="editor"))
    retros = [Retro(template="weekly_micro_retro", title=f"R{i}", objective="x", held_at=BASE + timedelta(days=40 * i), status="open") for i in range(3)]
    s.add_all(retros)
    s.flush()
    for a in acts:
        due = date(2026, 1, 1) + timedelta(days=a["due"])
        done_at = datetime.combine(due, datetime.min.time()) + timedelta(days=a["done_delay"], hours=12) if a["status"] == "done" else None
        s.add(Action(retro_id=retros[a["retro"]].id, title="a", owner_id=1, due_date=due, kpi_key="conversion_rate", target=1,
                     window_start=due, window_end=due, status=a["status"], done_at=done_at, verification=a["verification"]))
    for i, e in enumerate(exps):
        h = Hypothesis(retro_id=retros[e["retro"]].id, statement="h", status="testing")
        s.add(h)
        s.flush()
        s.add(Experiment(key=f"e{i}", name="e", hypothesis_id=h.id, status=e["status"], start_date=date(2026, 2, 1) if e["started"] else None))
    for i, ln in enumerate(lns):
        row = Learning(retro_id=retros[ln["retro"]].id, title="l", outcome="success", observed_at=BASE + timedelta(days=i))
        s.add(row)
        s.flush()
        if ln["standardised_after"] is not None:
            entry = PlaybookEntry(key=f"k{i}", version=1, kind="automation_rule", title="t", status=ln["entry_status"],
                                  standardised_at=row.observed_at + timedelta(days=ln["standardised_after"]))
            s.add(entry)
            s.flush()
            s.add(PlaybookLink(entry_id=entry.id, learning_id=row.id))
    s.flush()
    return retros


def _direct(acts, exps, lns, k):  # noqa: ANN001, ANN202
    a = [x for x in acts if x["retro"] == k]
    e = [x for x in exps if x["retro"] == k]
    idx = [i for i, x in enumerate(lns) if x["retro"] == k]
    days = [lns[i]["standardised_after"] for i in idx if lns[i]["standardised_after"] is not None]
    return {
        "actions": len(a),
        "done_on_time": sum(x["status"] == "done" and x["done_delay"] <= -1 for x in a) + sum(x["status"] == "done" and x["done_delay"] == 0 for x in a),
        "overdue": sum(x["status"] in ("open", "in_progress") and date(2026, 1, 1) + timedelta(days=x["due"]) < TODAY for x in a),
        "targets_met": sum(x["verification"] == "met" for x in a),
        "targets_missed": sum(x["verification"] == "missed" for x in a),
        "not_measurable": sum(x["verification"] == "not_measurable" for x in a),
        "experiments_run": sum(x["status"] in ("running", "concluded") or (x["status"] == "stopped" and x["started"]) for x in e),
        "experiments_concluded": sum(x["status"] == "concluded" for x in e),
        "learnings": len(idx),
        "learnings_standardised": len(days),
        "median_days_to_playbook": float(statistics.median(days)) if days else None,
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(acts=st.lists(action_st, max_size=12), exps=st.lists(exp_st, max_size=5), lns=st.lists(learning_st, max_size=6))
def test_scorecard_equals_a_direct_count(sqlite_template, tmp_path_factory, acts, exps, lns) -> None:  # noqa: ANN001
    import shutil

    path = tmp_path_factory.mktemp("sc") / "loop.sqlite"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with make_sessionmaker(engine)() as s:
        retros = _populate(s, acts, exps, lns)
        for k, r in enumerate(retros):
            card = scorecard.retro_scorecard(s, r.id, TODAY).to_dict()
            expected = _direct(acts, exps, lns, k)
            assert {key: card[key] for key in expected} == expected
        total = scorecard.retro_of_retros(s, TODAY)["total"]
        assert total["actions"] == len(acts) and total["learnings"] == len(lns)
        assert sum(m["actions"] for m in scorecard.retro_of_retros(s, TODAY)["months"]) == len(acts)
    engine.dispose()


def test_scorecard_rates_and_trend(s) -> None:  # noqa: ANN001
    _populate(s, [
        {"retro": 0, "status": "done", "due": 10, "done_delay": 0, "verification": "met"},
        {"retro": 0, "status": "done", "due": 10, "done_delay": 2, "verification": "missed"},
        {"retro": 2, "status": "open", "due": 300, "done_delay": 0, "verification": "met"},
    ], [], [])
    out = scorecard.retro_of_retros(s, TODAY)
    assert out["retros"][0]["on_time_rate"] == 0.5 and out["retros"][0]["target_hit_rate"] == 0.5
    assert [m["label"] for m in out["months"]] == ["2026-01", "2026-02", "2026-03"]
    assert out["target_hit_trend"] == "improving"
    assert scorecard.to_frame(scorecard.scorecards(s, TODAY)).shape[0] == 3
