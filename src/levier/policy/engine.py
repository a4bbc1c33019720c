"""The decision tree: may this lead be contacted on this channel at this time?

Order (docs/policy.md): opt-out → stop; escalation flags (VIP, litigation, no-reach) → a
manager on the validated channel; then every limiting rule — complaint guardrail (pause),
cool-down after consecutive non-responses, sending window (hours, weekend, holiday), daily cap
per channel (lowered by the guardrail), cadence maximum over its window, cap per account over
its rolling window. All failing rules are reported; the next allowed time is the earliest
instant at which every one of them passes (a fixed point over the rules' own next times).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from levier.i18n import get_language
from levier.i18n import gettext as _
from levier.policy._time import (
    DAY,
    WEEK,
    Calendar,
    calendar,
    from_epoch,
    week_start,
    zone,
)
from levier.policy.rules import PolicyRules, Segment
from levier.policy.state import CHANNEL_CODE, FLAG_BITS, LeadState

__all__ = ["Decision", "decide", "ALLOW", "DENY", "ESCALATE"]

ALLOW, DENY, ESCALATE = "allow", "deny", "escalate"


@dataclass(frozen=True)
class Decision:
    """The answer of a check: allow / deny / escalate, the deciding rules, the next allowed time."""

    lead_id: str
    channel: str
    at: datetime
    decision: str
    rules: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    next_allowed_at: datetime | None = None
    segment: str | None = None
    escalate_to: str | None = None
    validated_channel: str | None = None
    flag_content: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.decision == ALLOW

    def to_dict(self) -> dict[str, Any]:
        return {
            "lead_id": self.lead_id, "channel": self.channel, "at": self.at.isoformat(), "decision": self.decision,
            "rules": list(self.rules), "reasons": list(self.reasons),
            "next_allowed_at": self.next_allowed_at.isoformat() if self.next_allowed_at else None,
            "segment": self.segment, "escalate_to": self.escalate_to, "validated_channel": self.validated_channel,
            "flag_content": self.flag_content, "details": dict(self.details),
        }


_DEFAULTS = {"rules": (), "reasons": (), "next_allowed_at": None, "segment": None, "escalate_to": None,
             "validated_channel": None, "flag_content": False}


def _decision(lead_id: str, channel: str, at: datetime, segment: str | None, decision: str, **kw: Any) -> Decision:
    """``Decision(...)`` without the frozen dataclass's per-field ``object.__setattr__`` (hot path; same object)."""
    d = object.__new__(Decision)
    d.__dict__.update(_DEFAULTS, lead_id=lead_id, channel=channel, at=at, segment=segment, decision=decision, details={}, **kw)
    return d


@dataclass(slots=True)
class _Ctx:
    rules: PolicyRules
    lead: LeadState
    seg: Segment | None
    channel: str
    account: list[int]
    week_totals: Any  # callable (week, channels, acq, size) -> (sent, complaints)
    cal: Calendar
    tz: Any  # the lead's ZoneInfo
    cap: int | None  # the daily cap of (segment, channel) before the guardrail
    ts: int = 0
    week: int = 0  # week_start(ts) of the checked time
    breach: Any = None
    times: list[int] = field(default_factory=list)  # the lead's recent outbound times, ascending
    acc_times: list[int] = field(default_factory=list)  # the account's, ascending
    ch_times: list[int] = field(default_factory=list)  # the lead's recent outbound times on the checked channel
    cd_until: int | None = None  # end of the cool-down when the lead is in one


def _guardrail(ctx: _Ctx, ts: int) -> tuple[float, int, int] | None:
    """(rate, sent, complaints) of the last complete week when it breaches the guardrail."""
    g = ctx.rules.complaints
    if ctx.channel not in g.channels:
        return None
    seg = ctx.seg
    if seg is None:
        acq, size = ctx.lead.channel or "", ctx.lead.size or ""
    else:
        acq, size = seg.channel, seg.company_size
    sent, bad = ctx.week_totals(week_start(ts) - WEEK, g.channels, acq, size)
    if sent >= g.min_sent and bad / sent > g.max_rate:
        return bad / sent, sent, bad
    return None


def _in_window(times: list[int], lo: int, hi: int) -> list[int]:
    """Times t with lo < t <= hi, newest first (``times`` ascending)."""
    return times[bisect_right(times, lo):bisect_right(times, hi)][::-1]


def _msg(msgid: str, **kw: Any) -> tuple[str, dict[str, Any]]:
    """A reason, translated only if it ends up in the decision."""
    return msgid, kw


def _limits(ctx: _Ctx, ts: int) -> list[tuple[str, int, Any]]:
    """Every limiting rule failing at ``ts``: (rule id, earliest time it passes, reason spec)."""
    r, lead, seg, ch = ctx.rules, ctx.lead, ctx.seg, ctx.channel
    out: list[tuple[str, int, Any]] = []
    tz, cal = ctx.tz, ctx.cal
    week = week_start(ts)
    breach = ctx.breach if week == ctx.week else _guardrail(ctx, ts)
    if breach and r.complaints.action == "pause":
        out.append(("complaints.pause", week + WEEK, _msg("Complaint rate {rate:.2%} last week is above the guardrail; {channel} is paused.", rate=breach[0], channel=ch)))
    cd = r.cool_down
    if ctx.cd_until is not None and ts < ctx.cd_until:
        out.append(("cool_down", ctx.cd_until, _msg("{n} consecutive touches without a response: cool-down of {days} days.", n=lead.consec, days=cd.days)))
    why = cal.window_state(ts, tz)
    if why:
        out.append((f"window.{why}", cal.next_window_open(ts, tz), (why, tz.key)))
    cap = ctx.cap
    if breach and r.complaints.action == "lower_cap":
        cap = r.complaints.lowered_daily_cap if cap is None else min(cap, r.complaints.lowered_daily_cap)
    near = [t for t in ctx.ch_times if -26 * 3600 < t - ts < 26 * 3600] if cap else []
    if cap is not None and (cap == 0 or near):
        lo, hi = cal.local_day_bounds(ts, tz)
        n = sum(1 for t in near if lo <= t < hi)
        if n >= cap:
            rule = "complaints.lower_cap" if breach and r.complaints.action == "lower_cap" else f"daily_cap.{ch}"
            out.append((rule, hi, _msg("{n} {channel} touch(es) already today in the lead's time (cap {cap}).", n=n, channel=ch, cap=cap)))
    if seg is not None and seg.cadence is not None and seg.cadence.max_touches and len(ctx.times) >= seg.cadence.max_touches:
        span = seg.cadence.days * DAY
        recent = _in_window(ctx.times, ts - span, ts)
        if len(recent) >= seg.cadence.max_touches:
            out.append(("cadence.max", recent[seg.cadence.max_touches - 1] + span, _msg("{n} touches in the last {days} days (maximum {max}).", n=len(recent), days=seg.cadence.days, max=seg.cadence.max_touches)))
    if seg is not None and seg.account_cap is not None and lead.account_id and len(ctx.acc_times) >= seg.account_cap.touches:
        span = seg.account_cap.hours * 3600
        recent = _in_window(ctx.acc_times, ts - span, ts)
        if len(recent) >= seg.account_cap.touches:
            out.append(("account_cap", recent[seg.account_cap.touches - 1] + span, _msg("{n} touches on this account in the last {hours} h (maximum {max}).", n=len(recent), hours=seg.account_cap.hours, max=seg.account_cap.touches)))
    return out


_WINDOW_REASONS: dict[tuple[str, str, str], str] = {}


def _window_reason(why: str, tz: str) -> str:
    """The translated window reason, memoised per (language, reason, zone)."""
    key = (get_language(), why, tz)
    text = _WINDOW_REASONS.get(key)
    if text is None:
        if len(_WINDOW_REASONS) > 4096:
            _WINDOW_REASONS.clear()
        text = _WINDOW_REASONS[key] = _window_text(why, tz)
    return text


def _window_text(why: str, tz: str) -> str:
    if why == "holiday":
        return _("Public holiday in the lead's calendar ({tz}).", tz=tz)
    if why == "weekend":
        return _("Not a sending day in the lead's time zone ({tz}).", tz=tz)
    return _("Outside the sending hours in the lead's local time ({tz}).", tz=tz)


def _text(spec: Any) -> str:
    if isinstance(spec[1], dict):
        return _(spec[0], **spec[1])
    return _window_reason(*spec)


def _next_allowed(ctx: _Ctx, ts: int, first: list[tuple[str, int, Any]]) -> int | None:
    """The earliest time ≥ ts at which no limiting rule fails (None if not found in a year)."""
    failing, t = first, ts
    for _i in range(200):
        if not failing:
            return t
        t = max(max(nxt for _r, nxt, _m in failing), t + 1)
        if t - ts > 366 * DAY:
            return None
        failing = _limits(ctx, t)
    return None


def decide(rules: PolicyRules, lead: LeadState, channel: str, at: datetime, ts: int, account: list[int], week_totals: Any,
           seg: Segment | None = None, *, matched: bool = False) -> Decision:
    """Apply the decision tree to one lead's state (pure: no I/O; ``matched``: ``seg`` is the lead's segment)."""
    if not matched:
        seg = rules.segment_for(lead.channel, lead.size, lead.phase)
    base = {"lead_id": lead.lead_id, "channel": channel, "at": at, "segment": seg.key if seg else None}
    if lead.opted_out is not None and ts >= lead.opted_out:
        return Decision(**base, decision=DENY, rules=("opt_out",), reasons=(_("The lead opted out on {when}: stop all contact.", when=from_epoch(lead.opted_out).isoformat()),))
    flags = [f for f in rules.escalation.flags if lead.flags & FLAG_BITS[f]] if lead.flags else None
    if flags:
        esc = rules.escalation
        return Decision(**base, decision=ESCALATE, rules=tuple(f"escalation.{f}" for f in flags),
                        reasons=(_("Flagged {flags}: escalate to a {to}; contact only through the validated channel ({channel}).", flags=", ".join(flags), to=esc.to, channel=esc.validated_channel),),
                        escalate_to=esc.to, validated_channel=esc.validated_channel)
    ctx = _Ctx(rules, lead, seg, channel, account, week_totals, calendar(rules.window), zone(lead.tz, rules.timezone),
               rules.daily_cap(seg, channel))
    ctx.breach = _guardrail(ctx, ts)
    ctx.ts, ctx.week = ts, week_start(ts)
    ctx.times = sorted([c >> 3 for c in lead.recent])
    code = CHANNEL_CODE.get(channel, 7)
    ctx.ch_times = [c >> 3 for c in lead.recent if c & 7 == code]
    cd = rules.cool_down
    if lead.consec >= cd.after_non_responses and lead.last_out is not None:
        ctx.cd_until = lead.last_out + cd.days * DAY
    if account:
        ctx.acc_times = sorted([c >> 3 for c in account])
    failing = _limits(ctx, ts)
    flag = ctx.breach is not None
    key = base["segment"]
    if not failing:
        return _decision(lead.lead_id, channel, at, key, ALLOW, flag_content=flag)
    nxt = _next_allowed(ctx, ts, failing)
    return _decision(lead.lead_id, channel, at, key, DENY, rules=tuple(r for r, _n, _m in failing),
                     reasons=tuple(_text(m) for _r, _n, m in failing),
                     next_allowed_at=from_epoch(nxt) if nxt is not None else None, flag_content=flag)

