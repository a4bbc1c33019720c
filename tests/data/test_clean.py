"""Cleaning rules on small hand-made tables (exact ids), the journal, undo/reset, the CLI, and
every injected defect of the demo data set found again."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from levier.cli import app
from levier.data._frames import insert_frames
from levier.data._outliers import robust_cut
from levier.data.clean import RULES, CleaningOptions, clean_workspace
from levier.data.journal import journal_summary, read_journal, reset_cleaning, undo_rule
from levier.errors import OptionError
from levier.workspace import create_workspace

T0 = datetime(2026, 9, 1, 9, 0)
AS_OF = datetime(2026, 11, 1)


def _lead(i: int, **kw: object) -> dict:
    return dict(lead_id=f"L{i}", created_at=T0, channel="inbound", company_size="smb", owner="ann", score=50.0) | kw


def _touch(tid: str, lead: str, at: datetime, **kw: object) -> dict:
    return dict(touch_id=tid, lead_id=lead, at=at, channel="email", direction="out", owner="ann", outcome="delivered",
                campaign_id="c1") | kw


def _excluded(ws, table: str = "touches") -> dict[str, list[int]]:  # noqa: ANN001
    ex = ws.facts.con.table("_exclusions")
    df = ex.filter(ex.table_name == table).execute()
    out: dict[str, list[int]] = {}
    for rule, rid in sorted(zip(df["rule"], df["row_id"], strict=True)):
        out.setdefault(rule, []).append(int(rid))
    return out


def _ids(ws, table: str, key: str) -> set[str]:  # noqa: ANN001
    return set(ws.table(table)[key].execute())


def test_exact_and_near_duplicates(workspace) -> None:  # noqa: ANN001
    touches = [
        _touch("T1", "L1", T0),
        _touch("T2", "L1", T0),  # exact copy of T1 → excluded (row 2)
        _touch("T3", "L1", T0, outcome="opened"),  # differs by outcome: not exact; near copy of T1 (0 s) → excluded
        _touch("T4", "L1", T0 + timedelta(seconds=59)),  # near (59 s < 60) → excluded
        _touch("T5", "L1", T0 + timedelta(seconds=200)),  # far enough → kept
        _touch("T6", "L1", T0 + timedelta(seconds=10), channel="call"),  # other channel → kept
        _touch("T7", "L1", T0 + timedelta(seconds=5), direction="in"),  # other direction → kept
        _touch("T8", "L2", T0 - timedelta(seconds=20)),
        _touch("T9", "L2", T0),  # 20 s after T8 but recorded later (row 9) → excluded, T8 kept
        _touch("T10", "L2", T0 + timedelta(hours=1), owner=None, campaign_id=None),
        _touch("T11", "L2", T0 + timedelta(hours=1), owner=None, campaign_id=None),  # exact, with NULLs
    ]
    insert_frames(workspace.facts, {"leads": [_lead(1), _lead(2)], "touches": touches})
    run = clean_workspace(workspace, as_of=AS_OF)
    assert _excluded(workspace) == {"exact_duplicates": [2, 11], "near_duplicates": [3, 4, 9]}
    assert _ids(workspace, "touches", "touch_id") == {"T1", "T5", "T6", "T7", "T8", "T10"}
    assert run.entry("exact_duplicates").rows_affected == 2
    near = run.entry("near_duplicates")
    assert (near.rows_affected, near.params["seconds"], near.category) == (3, 60, "duplicate")
    assert [e["touch_id"] for e in near.examples] == ["T3", "T4", "T9"]


def test_near_duplicate_window_comes_from_config_or_argument(workspace) -> None:  # noqa: ANN001
    touches = [_touch("T1", "L1", T0), _touch("T2", "L1", T0 + timedelta(seconds=90))]
    insert_frames(workspace.facts, {"leads": [_lead(1)], "touches": touches})
    assert clean_workspace(workspace, as_of=AS_OF).entry("near_duplicates") is None
    assert clean_workspace(workspace, as_of=AS_OF, near_duplicate_seconds=120).entry("near_duplicates").rows_affected == 1
    with pytest.raises(OptionError):
        clean_workspace(workspace, near_duplicate_seconds=-1)


def test_impossible_values_and_orphans(workspace) -> None:  # noqa: ANN001
    leads = [_lead(1), _lead(2, created_at=datetime(1970, 1, 1)), _lead(3, score=140.0)]
    touches = [_touch("T1", "L1", T0 + timedelta(hours=1)), _touch("T2", "L1", datetime(2026, 12, 24)),
               _touch("T3", "GHOST", T0 + timedelta(hours=2))]
    deals = [dict(deal_id="D1", lead_id="L1", created_at=T0, amount=-5.0), dict(deal_id="D2", lead_id="L1", created_at=T0, amount=5.0),
             dict(deal_id="D3", lead_id="NOPE", created_at=T0, amount=5.0)]
    web = [dict(event_id="E1", anonymous_id="a", lead_id="NOPE", at=T0, type="page_view")]
    insert_frames(workspace.facts, {"leads": leads, "touches": touches, "deals": deals, "web_events": web})
    run = clean_workspace(workspace, as_of=AS_OF)
    assert _excluded(workspace) == {"future_dates": [2], "orphans": [3]}
    assert _excluded(workspace, "leads") == {"dates_before_2000": [2]}
    assert _excluded(workspace, "deals") == {"negative_amounts": [1], "orphans": [3]}
    assert _excluded(workspace, "web_events") == {}
    flags = {(e.table_name, e.rule): (e.action, e.rows_affected) for e in run.entries if e.action == "flag"}
    assert flags == {("leads", "score_out_of_range"): ("flag", 1), ("web_events", "orphans"): ("flag", 1)}
    assert run.excluded == {"leads": 1, "stage_events": 0, "touches": 2, "deals": 2, "spend": 0, "web_events": 0,
                            "assignments": 0, "orders": 0}
    # raw data is untouched
    assert workspace.facts.count("touches") == 3 and workspace.table("touches", cleaned=False).count().execute() == 3


def test_missing_events_are_flagged_not_excluded(workspace) -> None:  # noqa: ANN001
    ev = [
        dict(lead_id="L1", stage="lead", at=T0), dict(lead_id="L1", stage="won", at=T0),  # won without opportunity
        dict(lead_id="L2", stage="lead", at=T0), dict(lead_id="L2", stage="sql", at=T0),  # mql skipped
        dict(lead_id="L3", stage="mql", at=T0), dict(lead_id="L3", stage="sql", at=T0), dict(lead_id="L3", stage="lost", at=T0),
        dict(lead_id="L4", stage="opportunity", at=T0), dict(lead_id="L4", stage="won", at=T0),
    ]
    deals = [dict(deal_id="D1", lead_id="L3", created_at=T0, amount=10.0, won=True)]  # won deal, no opportunity
    insert_frames(workspace.facts, {"leads": [_lead(i) for i in range(1, 5)], "stage_events": ev, "deals": deals})
    run = clean_workspace(workspace, as_of=AS_OF)
    missing = run.entry("missing_opportunity")
    assert (missing.action, missing.rows_affected, [e["lead_id"] for e in missing.examples]) == ("flag", 2, ["L1", "L3"])
    skipped = run.entry("stage_skipped")
    # L1: lead → won skips mql, sql, opportunity; L2: lead → sql skips mql
    assert skipped.rows_affected == 2 and [e["lead_id"] for e in skipped.examples] == ["L1", "L2"]
    assert skipped.examples[1] == {"lead_id": "L2", "first": "lead", "last": "sql", "stages_reached": 2}
    assert run.excluded["stage_events"] == 0


def test_robust_cut_matches_hand_computation() -> None:
    import pandas as pd

    # values 1,2,2,3,3,3,4,20 → median 3, |dev| 2,1,1,0,0,0,1,17 → MAD 1 → scale 1.4826
    hist = pd.DataFrame({"n": [1, 2, 3, 4, 20], "f": [1, 2, 3, 1, 1]})
    cut = robust_cut(hist, 3.5, 3)
    assert (cut.median, cut.scale, cut.cut) == (3.0, 1.4826, 9)  # floor(3 + 3.5 × 1.4826) + 1 = 9
    assert robust_cut(pd.DataFrame({"n": [], "f": []}), 3.5, 3) is None


@pytest.mark.parametrize("q", [0.0, 0.5, 0.9, 0.95, 1.0])
def test_high_value_cut_is_the_nearest_rank_quantile_of_positive_amounts(q: float) -> None:
    import ibis
    import numpy as np

    from levier.data._outliers import _high_value

    amounts = [0.0, -5.0, *[float(a) for a in np.random.default_rng(7).integers(1, 400, 57)], 120.0, 120.0]
    deals = ibis.memtable({"deal_id": [f"D{i:03d}" for i in range(len(amounts))], "amount": amounts})
    positive = np.sort([a for a in amounts if a > 0])
    assert _high_value(deals, q) == positive[max(int(np.ceil(q * positive.size)) - 1, 0)]  # nearest rank
    assert _high_value(deals.filter(deals.amount < 0), q) is None


def _rep_day_data() -> dict:
    leads = [_lead(i, created_at=T0 - timedelta(days=60)) for i in range(40)]
    touches, k = [], 0
    for day in range(10):  # owners ann and bob: 10 touches a day each, on leads 0..19
        for j in range(10):
            for owner in ("ann", "bob"):
                at = T0 + timedelta(days=day, minutes=20 * j + (5 if owner == "bob" else 0))
                touches.append(_touch(f"T{k}", f"L{(day + j) % 20}", at, owner=owner))
                k += 1
    for j in range(250):  # bob logs 250 touches on 2026-09-05 on leads 20..39 (untouched otherwise): bulk
        touches.append(_touch(f"B{j}", f"L{20 + j % 20}", T0 + timedelta(days=4, seconds=97 * j + 30), channel="call", owner="bob"))
    for j in range(30):  # ann's busy day: 30 more touches on 2026-09-08 → exceptional, kept
        touches.append(_touch(f"A{j}", f"L{j % 20}", T0 + timedelta(days=7, hours=6, minutes=j), channel="sms"))
    return {"leads": leads, "touches": touches}


def test_rep_day_outliers_error_and_exceptional(workspace) -> None:  # noqa: ANN001
    insert_frames(workspace.facts, _rep_day_data())
    run = clean_workspace(workspace, as_of=AS_OF)
    err = run.entry("rep_day_outliers", "error")
    assert err.action == "exclude" and err.rows_affected == 250
    assert err.examples == ({"owner": "bob", "day": "2026-09-05", "touches": 260},)
    assert err.params["median"] == 10.0
    kept = _ids(workspace, "touches", "touch_id")
    assert not any(t.startswith("B") for t in kept)
    assert sum(1 for t in kept if t.startswith("T")) == 200  # bob's real work that day is kept
    exc = run.entry("rep_day_outliers", "exceptional")
    assert exc.action == "flag" and exc.examples == ({"owner": "ann", "day": "2026-09-08", "touches": 40},)


def test_lead_outliers_are_classified(workspace) -> None:  # noqa: ANN001
    leads = [_lead(i) for i in range(30)]
    leads[1]["vip"] = True
    leads[3]["opted_out_at"] = T0 + timedelta(days=9)
    touches, k = [], 0
    counts = {i: 4 + i % 3 for i in range(30)}  # 4–6 touches: the normal
    counts.update({0: 40, 1: 30, 2: 30, 3: 30, 4: 30, 5: 150})
    for lead, n in counts.items():
        for j in range(n):
            outcome = "complaint" if (lead == 4 and j == 0) else "delivered"
            touches.append(_touch(f"T{k}", f"L{lead}", T0 + timedelta(hours=j), outcome=outcome))
            k += 1
    stages = [dict(lead_id="L2", stage="opportunity", at=T0 + timedelta(days=5))]
    insert_frames(workspace.facts, {"leads": leads, "touches": touches, "stage_events": stages})
    run = clean_workspace(workspace, as_of=AS_OF, skip=("rep_day_outliers",))
    got = {e.category: [x["lead_id"] for x in e.examples] for e in run.entries if e.rule == "lead_outliers"}
    assert got == {"error": ["L5"], "risk": ["L0", "L3", "L4"], "exceptional": ["L1"], "opportunity": ["L2"]}
    risk = run.entry("lead_outliers", "risk")
    assert risk.rows_affected == 3 and risk.action == "flag"
    assert risk.examples[0] == {"lead_id": "L0", "touches": 40, "complaint_or_unsubscribe": False, "opted_out": False,
                                "vip": False, "converted": False}
    assert run.excluded["touches"] == 0


def test_journal_undo_reset_and_reproducibility(workspace) -> None:  # noqa: ANN001
    touches = [_touch("T1", "L1", T0), _touch("T2", "L1", T0), _touch("T3", "L1", T0 + timedelta(seconds=3)),
               _touch("T4", "GHOST", T0)]
    insert_frames(workspace.facts, {"leads": [_lead(1)], "touches": touches})
    first = clean_workspace(workspace, as_of=AS_OF)
    again = clean_workspace(workspace, as_of=AS_OF)
    assert (first.run_id, again.run_id) == (1, 2)
    assert _excluded(workspace) == {"exact_duplicates": [2], "near_duplicates": [3], "orphans": [4]}  # replaced, not doubled
    assert [e.to_dict()["examples"] for e in first.entries] == [e.to_dict()["examples"] for e in again.entries]
    summary = journal_summary(workspace)
    assert summary.run_id == 2 and summary.excluded == {"touches": 3}
    assert [(e.rule, e.rows_affected) for e in summary.entries] == [("exact_duplicates", 1), ("near_duplicates", 1), ("orphans", 1)]
    restored = undo_rule(workspace, "near_duplicates")
    assert restored.restored == {"touches": 1}
    assert _ids(workspace, "touches", "touch_id") == {"T1", "T3"}
    summary = journal_summary(workspace)
    assert [(e.rule, e.rows_affected) for e in summary.entries][1] == ("near_duplicates", 0)
    assert [(e.action, e.rule) for e in summary.restored] == [("undo", "near_duplicates")]
    assert reset_cleaning(workspace).restored == {"touches": 2}
    assert workspace.table("touches").count().execute() == 4
    assert len(read_journal(workspace)) == 3 + 3 + 1 + 1
    dry = clean_workspace(workspace, as_of=AS_OF, dry_run=True)
    assert dry.dry_run and dry.excluded["touches"] == 3 and workspace.table("touches").count().execute() == 4
    with pytest.raises(OptionError, match="nope"):
        undo_rule(workspace, "nope")
    with pytest.raises(OptionError):
        clean_workspace(workspace, skip=("nope",))


def test_clean_is_atomic_on_duckdb(workspace, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    insert_frames(workspace.facts, {"leads": [_lead(1)], "touches": [_touch("T1", "L1", T0), _touch("T2", "L1", T0)]})
    clean_workspace(workspace, as_of=AS_OF)
    import levier.data.clean as clean_mod

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(clean_mod, "write_journal", boom)
    with pytest.raises(RuntimeError):
        clean_workspace(workspace, as_of=AS_OF, skip=("exact_duplicates", "near_duplicates"))
    assert _excluded(workspace) == {"exact_duplicates": [2]}  # the failed run changed nothing
    assert len(read_journal(workspace)) == 1


def test_rules_are_documented() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "cleaning.md").read_text(encoding="utf-8")
    for rule in RULES:
        assert f"`{rule}`" in text, rule
    assert CleaningOptions().near_duplicate_seconds == 60


@pytest.mark.parametrize("lang,needle", [("en", "excluded"), ("fr", "exclue")])
def test_cli_clean_and_journal(workspace, runner, lang, needle) -> None:  # noqa: ANN001
    insert_frames(workspace.facts, {"leads": [_lead(1)], "touches": [_touch("T1", "L1", T0), _touch("T2", "L1", T0)]})
    workspace.close()
    w = str(workspace.path)
    res = runner.invoke(app, ["clean", "-w", w, "--dry-run", "--json", "--as-of", "2026-11-01"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["dry_run"] is True and payload["excluded"]["touches"] == 1
    assert [(e["rule"], e["action"], e["rows_affected"]) for e in payload["entries"]] == [("exact_duplicates", "exclude", 1)]
    res = runner.invoke(app, ["clean", "-w", w, "--lang", lang, "--as-of", "2026-11-01"])
    assert res.exit_code == 0 and needle in res.output
    res = runner.invoke(app, ["journal", "-w", w, "--json"])
    assert json.loads(res.stdout)["excluded"] == {"touches": 1}
    res = runner.invoke(app, ["journal", "-w", w, "--lang", lang])
    assert res.exit_code == 0 and "exact_duplicates" in res.output
    res = runner.invoke(app, ["clean", "-w", w, "--undo", "exact_duplicates", "--json"])
    assert json.loads(res.stdout)["restored"] == {"touches": 1}
    res = runner.invoke(app, ["clean", "-w", w, "--undo", "bogus"])
    assert res.exit_code == 1 and "bogus" in res.output and "Traceback" not in res.output


# -- the demo data set: every injected defect is found -------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    demo_mod = pytest.importorskip("levier.data.demo")
    import pyarrow.parquet as pq

    base = tmp_path_factory.mktemp("demo")
    summary = demo_mod.generate(base / "data", leads=3000, seed=11)
    truth = json.loads(Path(summary.ground_truth).read_text(encoding="utf-8"))["defects"]
    ws = create_workspace(base / "ws")
    insert_frames(ws.facts, {name: pq.read_table(path) for name, path in summary.files.items()})
    from levier.data.validate import validate_workspace

    report = validate_workspace(ws)
    run = clean_workspace(ws)
    yield ws, truth, report, run
    ws.close()


def _excluded_ids(ws, rule: str, table: str = "touches", key: str = "touch_id") -> set[str]:  # noqa: ANN001
    ex = ws.facts.con.table("_exclusions")
    ex = ex.filter((ex.table_name == table) & (ex.rule == rule))
    raw = ws.facts.raw(table)
    return set(raw.semi_join(ex, raw._row_id == ex.row_id)[key].execute())


def test_demo_validation(demo) -> None:  # noqa: ANN001
    ws, truth, report, _run = demo
    assert not report.blocking
    assert report.as_of == datetime(2026, 11, 1) and report.as_of_source == "data"
    codes = {(i.code, i.table, i.column): i.count for i in report.issues}
    assert codes[("future_date", "touches", "at")] == truth["future_touches"]["count"]
    assert codes[("orphan", "touches", "lead_id")] == truth["orphan_touches"]["count"]
    parts = truth["impossible_values"]["details"]
    assert codes[("negative_value", "deals", "amount")] == len(parts["negative_amount"]["ids"])
    assert codes[("out_of_range", "leads", "score")] == len(parts["score_over_100"]["ids"])
    assert codes[("before_2000", "leads", "created_at")] == len(parts["created_before_2000"]["ids"])
    shifts = report.by_code("timezone_shift")
    detail = truth["timezone_shift"]["details"]
    assert [(i.params["owner"], i.examples[0]["week_start"], i.params["shift_hours"]) for i in shifts] == [
        (detail["owner"], detail["week_from"][:10], detail["shift_hours"])]
    assert abs(shifts[0].count - truth["timezone_shift"]["count"]) <= 0.05 * truth["timezone_shift"]["count"]
    assert codes[("before_lead_created", "touches", "at")] >= 1


def test_demo_cleaning(demo) -> None:  # noqa: ANN001
    ws, truth, _report, run = demo
    assert _excluded_ids(ws, "exact_duplicates") == set(truth["exact_duplicates"]["ids"])
    assert _excluded_ids(ws, "near_duplicates") == set(truth["near_duplicates"]["ids"])
    assert _excluded_ids(ws, "future_dates") == set(truth["future_touches"]["ids"])
    assert _excluded_ids(ws, "orphans") == set(truth["orphan_touches"]["ids"])
    assert _excluded_ids(ws, "rep_day_outliers") == set(truth["hyperactive_rep"]["ids"])
    parts = truth["impossible_values"]["details"]
    assert _excluded_ids(ws, "negative_amounts", "deals", "deal_id") == set(parts["negative_amount"]["ids"])
    assert _excluded_ids(ws, "dates_before_2000", "leads", "lead_id") == set(parts["created_before_2000"]["ids"])
    score = run.entry("score_out_of_range")
    assert score.action == "flag" and score.rows_affected == len(parts["score_over_100"]["ids"])
    err = run.entry("rep_day_outliers", "error")
    hyper = truth["hyperactive_rep"]["details"]
    assert sorted(e["day"] for e in err.examples) == sorted(hyper["per_day"])
    assert {e["owner"] for e in err.examples} == {hyper["owner"]}
    assert err.rows_affected == truth["hyperactive_rep"]["count"]
    tz = run.entry("timezone_shift")
    assert [(e["owner"], e["week_start"]) for e in tz.examples] == [(truth["timezone_shift"]["details"]["owner"],
                                                                     truth["timezone_shift"]["details"]["week_from"][:10])]
    assert run.entry("stage_skipped") is None and run.entry("missing_opportunity") is None
    assert run.entry("rep_day_outliers", "exceptional") is None


def test_imports_after_cleaning_are_reported_until_the_next_cleaning(workspace, runner, tmp_path: Path) -> None:  # noqa: ANN001
    from levier.data.ingest import import_file
    from levier.data.journal import cleaning_lag

    header = "lead_id,created_at,channel,company_size,owner,score\n"
    first = tmp_path / "leads-1.csv"
    first.write_text(header + "L1,2026-09-01 09:00:00,inbound,smb,ann,50\nL2,1970-01-01 10:00:00,inbound,smb,ann,60\n")
    import_file(workspace, first, "leads")
    assert cleaning_lag(workspace) is None  # never cleaned: nothing to lag behind
    clean_workspace(workspace, as_of=AS_OF)
    assert _ids(workspace, "leads", "lead_id") == {"L1"}  # created in 1970: impossible, excluded
    assert cleaning_lag(workspace) is None
    again = tmp_path / "leads-2.csv"  # a keyed re-import: L2 replaced under a new row id, L3 new
    again.write_text(header + "L2,1970-01-01 10:00:00,inbound,smb,ann,70\nL3,2026-09-02 10:00:00,inbound,smb,ann,40\n")
    result = runner.invoke(app, ["import", str(again), "--table", "leads", "-w", str(workspace.path)], env={"LEVIER_LANG": "en"})
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "1 file import(s) since the last cleaning" in said and "1 new rows are not cleaned and 1 replaced" in said
    lag = cleaning_lag(workspace)
    assert (lag.imports, lag.rows_inserted, lag.rows_replaced) == (1, 1, 1)
    assert "1 nouvelles lignes ne sont pas nettoyées et 1 lignes remplacées" in lag.message("fr") and "relancez `levier clean`" in lag.message("fr")
    assert _ids(workspace, "leads", "lead_id") == {"L1", "L2", "L3"}  # the exclusion of L2 lapsed
    clean_workspace(workspace, as_of=AS_OF)
    assert cleaning_lag(workspace) is None and _ids(workspace, "leads", "lead_id") == {"L1", "L3"}
