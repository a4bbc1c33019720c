"""Time helpers: UTC epoch seconds, the lead's local day and the sending window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from levier.errors import OptionError
from levier.i18n import gettext as _
from levier.policy.rules import Window

__all__ = ["to_epoch", "from_epoch", "zone", "local_day_bounds", "window_state", "next_window_open", "parse_time", "week_start",
           "Calendar", "calendar"]

DAY = 86_400
WEEK = 7 * DAY
_EPOCH_MONDAY = 4 * DAY  # 1970-01-05 was a Monday


def parse_time(value: str | datetime | None, field: str = "at") -> datetime:
    """A naive UTC datetime from an ISO string or datetime (aware values are converted; None is now)."""
    if value is None:
        return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise OptionError(_("{field}: '{value}' is not an ISO date-time (e.g. 2026-03-30T09:30:00+02:00).", field=field, value=value)) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def to_epoch(dt: datetime) -> int:
    """Seconds since 1970 of a naive UTC datetime."""
    return int(dt.replace(tzinfo=UTC).timestamp())


def from_epoch(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def week_start(ts: int) -> int:
    """Epoch of the Monday 00:00 UTC that starts the ISO week of ``ts``."""
    return ts - (ts - _EPOCH_MONDAY) % WEEK


@lru_cache(maxsize=1024)
def zone(name: str | None, default: str) -> ZoneInfo:
    """The lead's zone; unknown or empty names fall back to the policy's default zone."""
    try:
        return ZoneInfo(name) if name else ZoneInfo(default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


def _local(ts: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, tz)


def _epoch_of_local(day: date, hour: int, minute: int, tz: ZoneInfo) -> int:
    """Epoch of wall-clock ``day hour:minute`` in ``tz`` (a wall time in a DST gap maps forward)."""
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).timestamp())


def local_day_bounds(ts: int, tz: ZoneInfo) -> tuple[int, int]:
    """[start, end) epochs of the local calendar day holding ``ts`` (23 h or 25 h on DST days)."""
    d = _local(ts, tz).date()
    nxt = d + timedelta(days=1)
    return _epoch_of_local(d, 0, 0, tz), _epoch_of_local(nxt, 0, 0, tz)


def _open_day(d: date, window: Window) -> bool:
    return d.weekday() in window.weekday_set and d not in window.holiday_set


def window_state(ts: int, tz: ZoneInfo, window: Window) -> str | None:
    """None when ``ts`` is inside the window, else why not: holiday, weekend or hours."""
    local = _local(ts, tz)
    d = local.date()
    if d in window.holiday_set:
        return "holiday"
    if d.weekday() not in window.weekday_set:
        return "weekend"
    if not window.start <= local.time().replace(tzinfo=None) < window.end:
        return "hours"
    return None


def next_window_open(ts: int, tz: ZoneInfo, window: Window) -> int:
    """The earliest epoch ≥ ``ts`` inside the window (``ts`` itself when it is inside)."""
    local = _local(ts, tz)
    d = local.date()
    for _i in range(400):
        if _open_day(d, window):
            start = _epoch_of_local(d, window.start.hour, window.start.minute, tz)
            end = _epoch_of_local(d, window.end.hour, window.end.minute, tz)
            if ts < start:
                return start
            if ts < end:
                return ts
        d += timedelta(days=1)
    raise OptionError(_("The sending window never opens in the next 400 days; check weekdays and holidays."))


class Calendar:
    """``window_state`` / ``next_window_open`` / ``local_day_bounds`` with the zone arithmetic memoised.

    Per (zone, UTC hour) it keeps the lead's UTC offset and local date when both are constant over
    that hour (otherwise it falls back to the exact functions above), and per (zone, local date) the
    day's bounds, whether it is a sending day and its window epochs — so a check costs dict look-ups
    instead of ``zoneinfo`` conversions. Answers are identical to the plain functions.
    """

    _MAX = 200_000  # entries per dict before it is cleared (bounded memory for a long-lived server)

    def __init__(self, window: Window) -> None:
        self.window = window
        start, end = window.start, window.end
        # wall-clock comparison in microseconds of the local day (exact, like the time comparison)
        self._exact = start.tzinfo is not None or end.tzinfo is not None
        self._lo_us = ((start.hour * 60 + start.minute) * 60 + start.second) * 1_000_000 + start.microsecond
        self._hi_us = ((end.hour * 60 + end.minute) * 60 + end.second) * 1_000_000 + end.microsecond
        self._hours: dict[tuple[str, int], tuple[int, date] | None] = {}
        self._days: dict[tuple[str, date], list[Any]] = {}

    def _hour(self, ts: int, tz: ZoneInfo) -> tuple[int, date] | None:
        """(UTC offset in seconds, local date) constant over the UTC hour holding ``ts``, else None."""
        key = (tz.key, ts // 3600)
        found = self._hours.get(key, False)
        if found is False:
            b = key[1] * 3600
            a, z = datetime.fromtimestamp(b, tz), datetime.fromtimestamp(b + 3599, tz)
            off_a, off_z = a.utcoffset(), z.utcoffset()
            found = None
            if off_a == off_z and off_a is not None and a.date() == z.date() and off_a.microseconds == 0:
                found = (int(off_a.total_seconds()), a.date())
            if len(self._hours) >= self._MAX:
                self._hours.clear()
            self._hours[key] = found
        return found  # type: ignore[return-value]

    def _day(self, d: date, tz: ZoneInfo) -> list[Any]:
        """[reason closed (None/holiday/weekend), day start, day end, window start, window end, next open after]."""
        key = (tz.key, d)
        info = self._days.get(key)
        if info is None:
            w = self.window
            why = "holiday" if d in w.holiday_set else ("weekend" if d.weekday() not in w.weekday_set else None)
            nxt = d + timedelta(days=1)
            info = [why, _epoch_of_local(d, 0, 0, tz), _epoch_of_local(nxt, 0, 0, tz),
                    _epoch_of_local(d, w.start.hour, w.start.minute, tz), _epoch_of_local(d, w.end.hour, w.end.minute, tz), None]
            if len(self._days) >= self._MAX:
                self._days.clear()
            self._days[key] = info
        return info

    def local_day_bounds(self, ts: int, tz: ZoneInfo) -> tuple[int, int]:
        h = self._hour(ts, tz)
        if h is None:
            return local_day_bounds(ts, tz)
        info = self._day(h[1], tz)
        return info[1], info[2]

    def window_state(self, ts: int, tz: ZoneInfo) -> str | None:
        h = self._hour(ts, tz)
        if h is None or self._exact:
            return window_state(ts, tz, self.window)
        info = self._day(h[1], tz)
        if info[0] is not None:
            return info[0]  # type: ignore[no-any-return]
        tod = ((ts + h[0]) % DAY) * 1_000_000
        return None if self._lo_us <= tod < self._hi_us else "hours"

    def closed(self, ts: int, tz: ZoneInfo) -> tuple[str, int] | None:
        """``(window_state, next_window_open)`` when ``ts`` is outside the window, else None (one look-up for both)."""
        h = self._hour(ts, tz)
        if h is None or self._exact:
            why = self.window_state(ts, tz)
            return None if why is None else (why, self.next_window_open(ts, tz))
        info = self._day(h[1], tz)
        why = info[0]
        if why is None:
            tod = ((ts + h[0]) % DAY) * 1_000_000
            if self._lo_us <= tod < self._hi_us:
                return None
            why = "hours"
            if ts < info[3]:
                return why, info[3]
            if ts < info[4]:
                return why, ts
        if info[5] is None:
            info[5] = next_window_open(info[2], tz, self.window)
        if info[5] > ts:
            return why, info[5]
        return why, next_window_open(ts, tz, self.window)

    def next_window_open(self, ts: int, tz: ZoneInfo) -> int:
        h = self._hour(ts, tz)
        if h is None:
            return next_window_open(ts, tz, self.window)
        info = self._day(h[1], tz)
        if info[0] is None:
            if ts < info[3]:
                return info[3]  # type: ignore[no-any-return]
            if ts < info[4]:
                return ts
        if info[5] is None:  # the first open day after this one (the plain function's loop, once per day)
            info[5] = next_window_open(info[2], tz, self.window)
        if info[5] > ts:
            return info[5]  # type: ignore[no-any-return]
        return next_window_open(ts, tz, self.window)  # a repeated wall hour after the day's end (DST)


_CALENDARS: dict[int, tuple[Window, Calendar]] = {}


def calendar(window: Window) -> Calendar:
    """The (shared) :class:`Calendar` of a window object."""
    found = _CALENDARS.get(id(window))
    if found is None or found[0] is not window:
        if len(_CALENDARS) > 64:
            _CALENDARS.clear()
        found = (window, Calendar(window))
        _CALENDARS[id(window)] = found
    return found[1]
