"""The memoised calendar gives the same answers as the plain zone arithmetic, across DST and odd offsets."""

from __future__ import annotations

from datetime import date, datetime, time

from levier.policy._time import (
    Calendar,
    local_day_bounds,
    next_window_open,
    to_epoch,
    window_state,
    zone,
)
from levier.policy.rules import Window

ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "America/Santiago", "UTC"]
WINDOWS = [Window(), Window(start=time(0), end=time(2, 30), weekdays=("sat", "sun", "mon"), holidays=(date(2026, 3, 30),)),
           Window(start=time(2, 15), end=time(23, 45), holidays=(date(2026, 10, 26), date(2026, 10, 27)))]


def _epochs() -> list[int]:
    """Every 7 minutes around the 2026 DST changes (Europe, US, Lord Howe, Chile) plus a plain week."""
    starts = [datetime(2026, 3, 6), datetime(2026, 3, 27), datetime(2026, 4, 3), datetime(2026, 10, 2), datetime(2026, 10, 23),
              datetime(2026, 10, 30), datetime(2026, 6, 8)]
    return [to_epoch(s) + k * 420 for s in starts for k in range(4 * 24 * 60 // 7)]


def test_calendar_matches_the_plain_functions() -> None:
    for window in WINDOWS:
        cal = Calendar(window)
        for name in ZONES:
            tz = zone(name, "UTC")
            for ts in _epochs():
                assert cal.window_state(ts, tz) == window_state(ts, tz, window), (name, ts)
                assert cal.next_window_open(ts, tz) == next_window_open(ts, tz, window), (name, ts)
                assert cal.local_day_bounds(ts, tz) == local_day_bounds(ts, tz), (name, ts)
                why = window_state(ts, tz, window)
                assert cal.closed(ts, tz) == (None if why is None else (why, next_window_open(ts, tz, window))), (name, ts)


def test_calendar_hand_checked_paris_spring_forward() -> None:
    """Sunday 29 March 2026 in Paris is 23 h long; the Monday 30 holiday pushes the window to Tuesday 9:00 CEST."""
    cal = Calendar(Window(holidays=(date(2026, 3, 30),)))
    tz = zone("Europe/Paris", "UTC")
    ts = to_epoch(datetime(2026, 3, 29, 12))
    lo, hi = cal.local_day_bounds(ts, tz)
    assert hi - lo == 23 * 3600 and lo == to_epoch(datetime(2026, 3, 28, 23))
    assert cal.window_state(ts, tz) == "weekend"
    assert cal.next_window_open(ts, tz) == to_epoch(datetime(2026, 3, 31, 7))
