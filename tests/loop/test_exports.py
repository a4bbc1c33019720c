"""Exports of actions as CSV and iCalendar, and the access journal."""

from __future__ import annotations

import csv
import io

from levier.loop.services import actions, audit_log, exports, users


def _actions(s):  # noqa: ANN001, ANN202
    users.create_user(s, "ana")
    a = actions.create_action(s, "Call, then e-mail; fast", owner="ana", due_date="2026-03-15", kpi_key="ttf_hours", baseline=5, target=2)
    b = actions.create_action(s, "Shorter form " + "x" * 80, owner="ana", due_date="2026-03-20", kpi_key="conversion_rate", target=0.2)
    return [actions.action_dict(s, x) for x in (a, b)]


def test_csv(s) -> None:  # noqa: ANN001
    rows = list(csv.DictReader(io.StringIO(exports.actions_csv(_actions(s)))))
    assert [r["title"] for r in rows] == ["Call, then e-mail; fast", "Shorter form " + "x" * 80]
    assert (rows[0]["owner"], rows[0]["due_date"], rows[0]["baseline"], rows[1]["baseline"]) == ("ana", "2026-03-15", "5.0", "")
    assert rows[0]["window_start"] == "2026-02-14"


def test_icalendar(s) -> None:  # noqa: ANN001
    ics = exports.actions_ics(_actions(s))
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and ics.endswith("END:VCALENDAR\r\n")
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    unfolded = ics.replace("\r\n ", "")
    assert "SUMMARY:Call\\, then e-mail\\; fast" in unfolded
    assert "DTSTART;VALUE=DATE:20260315" in unfolded and "DTEND;VALUE=DATE:20260316" in unfolded
    assert unfolded.count("BEGIN:VEVENT") == 2 and "UID:action-1@levier" in unfolded


def test_access_journal(s) -> None:  # noqa: ANN001
    u = users.create_user(s, "ana", role="viewer")
    audit_log.record(s, u, "view", "cycle:1/results")
    audit_log.record(s, u, "export", "actions.csv", {"rows": 2})
    audit_log.record(s, None, "view", "health")
    assert [(e.username, e.action, e.target) for e in audit_log.entries(s, username="ana")] == [
        ("ana", "export", "actions.csv"), ("ana", "view", "cycle:1/results")
    ]
    assert audit_log.entries(s, action="export")[0].detail == {"rows": 2}
