"""Time helpers: UTC epoch seconds, the lead's local day and the sending window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from levier.errors import OptionError
from levier.i18n import gettext as _
from levier.policy.rules import Window

__all__ = ["to_epoch", "from_epoch", "zone", "local_day_bounds", "window_state", "next_window_open", "parse_time", "week_start"]

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
