"""Exports of actions: CSV (spreadsheets) and iCalendar (one all-day event per deadline)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from levier.loop.models import utcnow

__all__ = ["CSV_COLUMNS", "actions_csv", "actions_ics"]

CSV_COLUMNS = (
    "id", "title", "owner", "due_date", "status", "overdue", "kpi_key", "baseline", "target", "window_start", "window_end",
    "verification", "measured_value", "retro_id",
)


def actions_csv(actions: list[dict[str, Any]]) -> str:
    """Actions (as given by ``actions.action_dict``) as CSV with a header row."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in actions:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in CSV_COLUMNS})
    return buf.getvalue()


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 5545 line folding: at most 75 octets per line, continuation lines start with a space."""
    out, current = [], b""
    for ch in line:
        enc = ch.encode()
        if len(current) + len(enc) > (75 if not out else 74):
            out.append(current.decode())
            current = b""
        current += enc
    out.append(current.decode())
    return "\r\n ".join(out)


def actions_ics(actions: list[dict[str, Any]], *, host: str = "levier") -> str:
    """An iCalendar file with one all-day VEVENT per action on its due date."""
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Levier//Actions//EN", "CALSCALE:GREGORIAN"]
    for a in actions:
        due = date.fromisoformat(str(a["due_date"]))
        desc = f"Owner: {a.get('owner')}. KPI {a.get('kpi_key')}: baseline {a.get('baseline')}, target {a.get('target')}, window {a.get('window_start')} → {a.get('window_end')}. Status: {a.get('status')}."
        lines += [
            "BEGIN:VEVENT", f"UID:action-{a['id']}@{host}", f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{due.strftime('%Y%m%d')}", f"DTEND;VALUE=DATE:{(due + timedelta(days=1)).strftime('%Y%m%d')}",
            f"SUMMARY:{_escape(str(a['title']))}", f"DESCRIPTION:{_escape(desc)}",
            "STATUS:" + ("CANCELLED" if a.get("status") == "cancelled" else "CONFIRMED"), "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
