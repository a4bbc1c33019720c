"""Validation checks on small hand-made tables: exact counts, ids and severities."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from levier.cli import app
from levier.data._checks import shift_clusters
from levier.data._frames import insert_frames
from levier.data.validate import dense_end, extraction_time, validate_workspace

T0 = datetime(2026, 9, 1, 9, 0)
AS_OF = datetime(2026, 11, 1)


def _leads(n: int = 5, **extra: object) -> list[dict]:
    return [dict(lead_id=f"L{i}", created_at=T0 + timedelta(hours=i), channel="inbound", company_size="smb", score=50.0, **extra) for i in range(n)]


def _touches(n: int = 10) -> list[dict]:
    return [dict(touch_id=f"T{i}", lead_id=f"L{i % 5}", at=T0 + timedelta(hours=i % 5, minutes=30 + i), channel="email",
                 direction="out", owner="ann", outcome="delivered") for i in range(n)]


def _codes(report) -> dict[tuple[str, str, str | None], int]:  # noqa: ANN001
    return {(i.code, i.table, i.column): i.count for i in report.issues}


def test_clean_data_has_no_issue(workspace) -> None:  # noqa: ANN001
    insert_frames(workspace.facts, {"leads": _leads(), "touches": _touches()})
    report = validate_workspace(workspace, as_of=AS_OF)
    assert report.issues == ()
    assert not report.blocking
    assert report.rows["leads"] == 5 and report.rows["touches"] == 10
    assert report.as_of == AS_OF and report.as_of_source == "option"


def test_required_nulls_duplicate_keys_and_enums_are_blocking(workspace) -> None:  # noqa: ANN001
    touches = _touches()
    touches[3]["lead_id"] = None
    touches[4]["channel"] = "fax"
    touches[5]["channel"] = "fax"
    touches[6]["touch_id"] = "T7"  # T7 twice
    touches[8]["outcome"] = "voicemail"  # optional enum: warning only
    leads = _leads()
    leads[1]["company_size"] = "huge"
    insert_frames(workspace.facts, {"leads": leads, "touches": touches})
    report = validate_workspace(workspace, as_of=AS_OF)
    codes = _codes(report)
    assert codes[("required_null", "touches", "lead_id")] == 1
    assert codes[("invalid_value", "touches", "channel")] == 2
    assert codes[("duplicate_key", "touches", "touch_id")] == 1
    assert codes[("invalid_value", "touches", "outcome")] == 1
    assert codes[("invalid_value", "leads", "company_size")] == 1
    assert report.blocking
    severities = {(i.code, i.column): i.severity for i in report.issues}
    assert severities[("invalid_value", "channel")] == "error"
    assert severities[("invalid_value", "outcome")] == "warning"
    assert severities[("invalid_value", "company_size")] == "warning"
    assert len(report.errors) == 3
    dup = report.by_code("duplicate_key")[0]
    assert dup.examples == ({"touch_id": "T7", "n": 2},) and dup.params["rows"] == 2
    chan = next(i for i in report.issues if i.column == "channel")
    assert [e["touch_id"] for e in chan.examples] == ["T4", "T5"]
    assert chan.params["seen"] == "fax (2)"
    null = report.by_code("required_null")[0]
    assert null.examples[0]["touch_id"] == "T3" and null.examples[0]["_row_id"] == 4


def test_stage_values_follow_the_workspace_stages(workspace) -> None:  # noqa: ANN001
    events = [dict(lead_id="L0", stage="mql", at=T0), dict(lead_id="L1", stage="demo", at=T0)]
    insert_frames(workspace.facts, {"leads": _leads(), "stage_events": events})
    issue = validate_workspace(workspace, as_of=AS_OF).by_code("invalid_value")[0]
    assert (issue.table, issue.column, issue.count, issue.severity) == ("stage_events", "stage", 1, "error")


def test_referential_integrity(workspace) -> None:  # noqa: ANN001
    touches = _touches()
    touches[2]["lead_id"] = "GHOST"
    touches[9]["lead_id"] = "GHOST2"
    deals = [dict(deal_id="D1", lead_id="L1", created_at=T0), dict(deal_id="D2", lead_id="NOPE", created_at=T0),
             dict(deal_id="D3", lead_id=None, created_at=T0)]
    web = [dict(event_id="E1", anonymous_id="a", lead_id=None, at=T0, type="page_view"),
           dict(event_id="E2", anonymous_id="a", lead_id="L9", at=T0, type="page_view")]
    stages = [dict(lead_id="L404", stage="mql", at=T0)]
    insert_frames(workspace.facts, {"leads": _leads(), "touches": touches, "deals": deals, "web_events": web, "stage_events": stages})
    report = validate_workspace(workspace, as_of=AS_OF)
    orphans = {i.table: (i.count, [e[i.column] for e in i.examples]) for i in report.by_code("orphan")}
    assert orphans == {"touches": (2, ["GHOST", "GHOST2"]), "deals": (1, ["NOPE"]), "web_events": (1, ["L9"]),
                       "stage_events": (1, ["L404"])}
    assert not report.blocking


def test_impossible_values_and_dates(workspace) -> None:  # noqa: ANN001
    leads = _leads()
    leads[0]["score"] = 120.0
    leads[1]["score"] = -1.0
    leads[2]["created_at"] = datetime(1999, 12, 31, 23)
    touches = _touches()
    touches[0]["at"] = datetime(2026, 11, 1, 0, 0, 1)  # one second after the extraction time
    touches[1]["at"] = datetime(2031, 1, 1)
    deals = [dict(deal_id="D1", lead_id="L1", created_at=T0, amount=-10.0), dict(deal_id="D2", lead_id="L1", created_at=T0, amount=0.0)]
    spend = [dict(date=date(2026, 11, 2), source="ads", cost=-3.0), dict(date=date(2026, 10, 2), source="ads", cost=3.0)]
    insert_frames(workspace.facts, {"leads": leads, "touches": touches, "deals": deals, "spend": spend})
    codes = _codes(validate_workspace(workspace, as_of=AS_OF))
    assert codes[("out_of_range", "leads", "score")] == 2
    assert codes[("before_2000", "leads", "created_at")] == 1
    assert codes[("future_date", "touches", "at")] == 2
    assert codes[("future_date", "spend", "date")] == 1
    assert codes[("negative_value", "deals", "amount")] == 1
    assert codes[("negative_value", "spend", "cost")] == 1


def test_touches_before_their_lead(workspace) -> None:  # noqa: ANN001
    touches = _touches()
    touches[0]["at"] = T0 - timedelta(minutes=4)  # within the 5-minute tolerance
    touches[1]["at"] = T0 + timedelta(hours=1) - timedelta(minutes=6)  # L1 created at T0 + 1 h
    touches[2]["at"] = T0 - timedelta(hours=2)  # L2 created at T0 + 2 h
    insert_frames(workspace.facts, {"leads": _leads(), "touches": touches})
    issue = validate_workspace(workspace, as_of=AS_OF).by_code("before_lead_created")[0]
    assert issue.count == 2
    assert [e["touch_id"] for e in issue.examples] == ["T1", "T2"]
    assert issue.examples[1]["lead_created_at"] == "2026-09-01 11:00:00"


def test_extraction_time_ignores_sparse_future_days() -> None:
    days = [(date(2026, 7, 1) + timedelta(days=i), 100 + i % 7) for i in range(120)]
    last = days[-1][0]
    assert dense_end(days) == last
    with_future = days + [(last + timedelta(days=3), 2), (last + timedelta(days=40), 5), (date(2030, 1, 1), 1)]
    assert dense_end(with_future) == last
    # a dense day a few days later is part of the data (5 % of the median, within 7 days)
    assert dense_end(days + [(last + timedelta(days=5), 30)]) == last + timedelta(days=5)
    assert dense_end([]) is None


def test_extraction_time_from_data_and_option(workspace) -> None:  # noqa: ANN001
    touches = _touches()
    touches[0]["at"] = datetime(2029, 5, 5)
    insert_frames(workspace.facts, {"leads": _leads(), "touches": touches})
    assert extraction_time(workspace) == (datetime(2026, 9, 2), "data")
    assert extraction_time(workspace, datetime(2026, 10, 1)) == (datetime(2026, 10, 1), "option")
    report = validate_workspace(workspace)
    assert _codes(report)[("future_date", "touches", "at")] == 1


def test_empty_workspace_uses_the_clock(workspace) -> None:  # noqa: ANN001
    when, source = extraction_time(workspace)
    assert source == "clock" and abs((datetime.utcnow() - when).total_seconds()) < 60
    assert validate_workspace(workspace).issues == ()


def _hist(shifted_week: date | None, shift: int = -2) -> pd.DataFrame:
    """Owner 'ann' works 9–17 local (UTC+2 in summer) for 8 weeks; one week stored `shift` h off."""
    rows = []
    for w in range(8):
        week = date(2026, 8, 3) + timedelta(weeks=w)
        for local in range(9, 17):
            utc = local - 2 + (shift if week == shifted_week else 0)
            rows.append({"owner": "ann", "week": week, "hour": utc, "n": 5})
            rows.append({"owner": "bob", "week": week, "hour": local - 2, "n": 4})
    return pd.DataFrame(rows)


def test_shift_clusters_find_the_shifted_week_only() -> None:
    assert shift_clusters(_hist(None), "Europe/Paris") == []
    found = shift_clusters(_hist(date(2026, 8, 24)), "Europe/Paris")
    assert [(c["owner"], c["week"], c["shift_hours"], c["touches"]) for c in found] == [("ann", "2026-W35", -2, 40)]
    found = shift_clusters(_hist(date(2026, 8, 24), shift=3), "Europe/Paris")
    assert [(c["owner"], c["shift_hours"]) for c in found] == [("ann", 3)]


def _dst_rows(follows_dst: bool) -> pd.DataFrame:
    rows = []
    for w in range(8):  # across the end of summer time (2026-10-25)
        week = date(2026, 9, 14) + timedelta(weeks=w)
        offset = 2 if (week < date(2026, 10, 26) or not follows_dst) else 1
        rows += [{"owner": "ann", "week": week, "hour": local - offset, "n": 5} for local in range(9, 17)]
    return pd.DataFrame(rows)


def test_shift_clusters_ignore_daylight_saving_changes() -> None:
    # a team working in local time: its UTC hours move by +1 h after 2026-10-25
    assert shift_clusters(_dst_rows(True), "Europe/Paris") == []
    # a system logging in UTC office hours all year: its local hours move instead
    assert shift_clusters(_dst_rows(False), "Europe/Paris") == []
    # seen only in UTC, the daylight-saving change of the first team looks like a shift
    assert [c["shift_hours"] for c in shift_clusters(_dst_rows(True), "UTC")] == [1, 1]


def test_timezone_shift_issue_end_to_end(workspace) -> None:  # noqa: ANN001
    leads = [dict(lead_id="L0", created_at=datetime(2026, 7, 1))]
    touches, k = [], 0
    for w in range(6):
        monday = datetime(2026, 8, 3) + timedelta(weeks=w)
        for day in range(5):
            for local in range(9, 17):
                utc = local - 2 - (2 if w == 3 else 0)
                touches.append(dict(touch_id=f"T{k}", lead_id="L0", at=monday + timedelta(days=day, hours=utc), channel="call", owner="ann"))
                k += 1
    insert_frames(workspace.facts, {"leads": leads, "touches": touches})
    issues = validate_workspace(workspace, as_of=AS_OF).by_code("timezone_shift")
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.count, issue.params["owner"], issue.params["week"], issue.params["shift_hours"]) == (40, "ann", "2026-W35", -2)
    assert issue.examples[0]["week_start"] == "2026-08-24"


def test_report_shapes_and_languages(workspace) -> None:  # noqa: ANN001
    touches = _touches()
    touches[3]["lead_id"] = None
    insert_frames(workspace.facts, {"leads": _leads(), "touches": touches})
    report = validate_workspace(workspace, as_of=AS_OF)
    payload = report.to_dict()
    json.dumps(payload)
    assert payload["blocking"] is True and payload["errors"] == 1 and payload["warnings"] == 0
    assert payload["issues"][0]["code"] == "required_null"
    frame = report.to_frame()
    assert list(frame.columns) == ["code", "severity", "table", "column", "count", "message"]
    assert frame.loc[0, "count"] == 1
    assert "1 rows of touches have no lead_id" in report.summary("en")
    assert "1 lignes de touches n'ont pas de lead_id" in report.summary("fr")
    assert "bloquante" in report.summary("fr")


def test_only_some_tables(workspace) -> None:  # noqa: ANN001
    leads = _leads()
    leads[0]["score"] = 500.0
    insert_frames(workspace.facts, {"leads": leads, "touches": _touches()})
    report = validate_workspace(workspace, ["touches"], as_of=AS_OF)
    assert list(report.rows) == ["touches"] and report.issues == ()


@pytest.mark.parametrize("lang,needle", [("en", "blocking error"), ("fr", "erreur(s) bloquante(s)")])
def test_cli_validate_blocking_exit_code(workspace, runner, lang, needle) -> None:  # noqa: ANN001
    touches = _touches()
    touches[3]["channel"] = None
    insert_frames(workspace.facts, {"leads": _leads(), "touches": touches})
    workspace.close()
    res = runner.invoke(app, ["validate", "--workspace", str(workspace.path), "--lang", lang, "--as-of", "2026-11-01"])
    assert res.exit_code == 1
    assert needle in res.output


def test_cli_validate_json_and_ok_exit_code(workspace, runner) -> None:  # noqa: ANN001
    leads = _leads()
    leads[0]["score"] = 101.0
    insert_frames(workspace.facts, {"leads": leads, "touches": _touches()})
    workspace.close()
    res = runner.invoke(app, ["validate", "-w", str(workspace.path), "--json", "--as-of", "2026-11-01T00:00:00"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["blocking"] is False and payload["as_of"] == "2026-11-01T00:00:00"
    assert [(i["code"], i["count"], i["examples"][0]["lead_id"]) for i in payload["issues"]] == [("out_of_range", 1, "L0")]


def test_cli_validate_bad_as_of(workspace, runner) -> None:  # noqa: ANN001
    workspace.close()
    res = runner.invoke(app, ["validate", "-w", str(workspace.path), "--as-of", "yesterday"])
    assert res.exit_code == 1
    assert "--as-of 'yesterday'" in res.output and "Traceback" not in res.output
