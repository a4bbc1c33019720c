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
from datetime import datetime, timedelta
from typing import Any

from levier.i18n import get_language
from levier.i18n import gettext as _
from levier.policy._time import (
    _EPOCH_MONDAY,
    DAY,
    WEEK,
    calendar,
    from_epoch,
    week_start,
    zone,
)
from levier.policy.rules import PolicyRules, Segment
from levier.policy.state import CHANNEL_CODE, FLAG_BITS, LeadState

__all__ = ["Decision", "decide", "ALLOW", "DENY", "ESCALATE"]

ALLOW, DENY, ESCALATE = "allow", "deny", "escalate"
_EPOCH0 = datetime(1970, 1, 1)  # from_epoch(ts) == _EPOCH0 + timedelta(seconds=ts) for integer ts


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


class _Kernel:
    """Everything a check needs from the rules for one (rules, segment, channel), computed once."""

    __slots__ = ("rules", "seg", "channel", "code", "cal", "cap", "guard", "g_channels", "g_min_sent", "g_max_rate",
                 "pause", "lower", "lowered", "cd_after", "cd_days", "cd_span", "cad_max", "cad_days", "cad_span",
                 "acc_n", "acc_hours", "acc_span", "daily_rule", "default_tz")

    def __init__(self, rules: PolicyRules, seg: Segment | None, channel: str) -> None:
        g, cd = rules.complaints, rules.cool_down
        self.rules, self.seg, self.channel, self.code = rules, seg, channel, CHANNEL_CODE.get(channel, 7)
        self.cal, self.cap, self.default_tz = calendar(rules.window), rules.daily_cap(seg, channel), rules.timezone
        self.guard, self.g_channels, self.g_min_sent, self.g_max_rate = channel in g.channels, g.channels, g.min_sent, g.max_rate
        self.pause, self.lower, self.lowered = g.action == "pause", g.action == "lower_cap", g.lowered_daily_cap
        self.cd_after, self.cd_days, self.cd_span = cd.after_non_responses, cd.days, cd.days * DAY
        cad = seg.cadence if seg is not None else None
        self.cad_max = cad.max_touches if cad is not None and cad.max_touches else 0
        self.cad_days = cad.days if cad is not None else 0
        self.cad_span = self.cad_days * DAY
        acc = seg.account_cap if seg is not None else None
        self.acc_n, self.acc_hours = (acc.touches, acc.hours) if acc is not None else (0, 0)
        self.acc_span = self.acc_hours * 3600
        self.daily_rule = f"daily_cap.{channel}"


_KERNELS: dict[tuple[int, str | None, str], _Kernel] = {}


def _kernel(rules: PolicyRules, seg: Segment | None, channel: str) -> _Kernel:
    key = (id(rules), seg.key if seg is not None else None, channel)
    k = _KERNELS.get(key)
    if k is None or k.rules is not rules or k.seg is not seg:
        if len(_KERNELS) > 4096:
            _KERNELS.clear()
        k = _KERNELS[key] = _Kernel(rules, seg, channel)
    return k


class _Ctx:
    """One check: the kernel, the lead's zone and touch times, the guardrail at the checked week."""

    __slots__ = ("k", "lead", "week_totals", "tz", "week", "breach", "times", "ch_times", "acc_times", "cd_until")

    def __init__(self, k: _Kernel, lead: LeadState, week_totals: Any, tz: Any) -> None:
        self.k, self.lead, self.week_totals, self.tz = k, lead, week_totals, tz
        self.week, self.breach, self.cd_until = 0, None, None
        self.times: list[int] = []  # the lead's recent outbound times, ascending
        self.ch_times: list[int] = []  # those on the checked channel
        self.acc_times: list[int] = []  # the account's, ascending


def _guardrail(ctx: _Ctx, ts: int) -> tuple[float, int, int] | None:
    """(rate, sent, complaints) of the last complete week when it breaches the guardrail."""
    k = ctx.k
    if not k.guard:
        return None
    seg = k.seg
    if seg is None:
        acq, size = ctx.lead.channel or "", ctx.lead.size or ""
    else:
        acq, size = seg.channel, seg.company_size
    sent, bad = ctx.week_totals(week_start(ts) - WEEK, k.g_channels, acq, size)
    if sent >= k.g_min_sent and bad / sent > k.g_max_rate:
        return bad / sent, sent, bad
    return None


def _msg(msgid: str, **kw: Any) -> tuple[str, dict[str, Any]]:
    """A reason, translated only if it ends up in the decision."""
    return msgid, kw


_MSG_PAUSE = "Complaint rate {rate:.2%} last week is above the guardrail; {channel} is paused."
_MSG_COOL = "{n} consecutive touches without a response: cool-down of {days} days."
_MSG_CAP = "{n} {channel} touch(es) already today in the lead's time (cap {cap})."
_MSG_CADENCE = "{n} touches in the last {days} days (maximum {max})."
_MSG_ACCOUNT = "{n} touches on this account in the last {hours} h (maximum {max})."
_WINDOW_RULE = {"hours": "window.hours", "weekend": "window.weekend", "holiday": "window.holiday"}


def _limits(ctx: _Ctx, ts: int) -> list[tuple[str, int, Any]]:
    """Every limiting rule failing at ``ts``: (rule id, earliest time it passes, reason spec)."""
    k, tz = ctx.k, ctx.tz
    out: list[tuple[str, int, Any]] = []
    week = ts - (ts - _EPOCH_MONDAY) % WEEK
    breach = ctx.breach if week == ctx.week else _guardrail(ctx, ts)
    if breach and k.pause:
        out.append(("complaints.pause", week + WEEK, (_MSG_PAUSE, {"rate": breach[0], "channel": k.channel})))
    cd_until = ctx.cd_until
    if cd_until is not None and ts < cd_until:
        out.append(("cool_down", cd_until, (_MSG_COOL, {"n": ctx.lead.consec, "days": k.cd_days})))
    cal = k.cal
    closed = cal.closed(ts, tz)
    if closed is not None:
        why = closed[0]
        out.append((_WINDOW_RULE.get(why) or f"window.{why}", closed[1], (why, tz.key)))
    cap = k.cap
    lowered = bool(breach) and k.lower
    if lowered:
        cap = k.lowered if cap is None else min(cap, k.lowered)
    if cap is not None:
        near = [t for t in ctx.ch_times if -93_600 < t - ts < 93_600] if cap else None
        if cap == 0 or near:
            lo, hi = cal.local_day_bounds(ts, tz)
            n = sum(1 for t in near if lo <= t < hi) if near else 0
            if n >= cap:
                out.append(("complaints.lower_cap" if lowered else k.daily_rule, hi,
                            (_MSG_CAP, {"n": n, "channel": k.channel, "cap": cap})))
    m = k.cad_max
    if m and len(ctx.times) >= m:
        times = ctx.times
        j = bisect_right(times, ts)
        n = j - bisect_right(times, ts - k.cad_span)
        if n >= m:
            out.append(("cadence.max", times[j - m] + k.cad_span, (_MSG_CADENCE, {"n": n, "days": k.cad_days, "max": m})))
    m = k.acc_n
    if m and len(ctx.acc_times) >= m and ctx.lead.account_id:
        times = ctx.acc_times
        j = bisect_right(times, ts)
        n = j - bisect_right(times, ts - k.acc_span)
        if n >= m:
            out.append(("account_cap", times[j - m] + k.acc_span, (_MSG_ACCOUNT, {"n": n, "hours": k.acc_hours, "max": m})))
    return out


_WINDOW_REASONS: dict[tuple[str, str, str], str] = {}


def _window_reason(why: str, tz: str, lang: str | None = None) -> str:
    """The translated window reason, memoised per (language, reason, zone)."""
    key = (lang or get_language(), why, tz)
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


_TEXTS: dict[tuple[Any, ...], str] = {}


def _text(spec: Any, lang: str) -> str:
    """A reason in ``lang`` (memoised per language, message and values: the same few texts recur)."""
    if isinstance(spec[1], dict):
        key: tuple[Any, ...] = (lang, spec[0], *spec[1].values())
        text = _TEXTS.get(key)
        if text is None:
            if len(_TEXTS) > 8192:
                _TEXTS.clear()
            text = _TEXTS[key] = _(spec[0], **spec[1])
        return text
    return _window_reason(spec[0], spec[1], lang)


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
    key = seg.key if seg is not None else None
    if lead.opted_out is not None and ts >= lead.opted_out:
        return Decision(lead_id=lead.lead_id, channel=channel, at=at, segment=key, decision=DENY, rules=("opt_out",),
                        reasons=(_("The lead opted out on {when}: stop all contact.", when=from_epoch(lead.opted_out).isoformat()),))
    flags = [f for f in rules.escalation.flags if lead.flags & FLAG_BITS[f]] if lead.flags else None
    if flags:
        esc = rules.escalation
        return Decision(lead_id=lead.lead_id, channel=channel, at=at, segment=key, decision=ESCALATE,
                        rules=tuple(f"escalation.{f}" for f in flags),
                        reasons=(_("Flagged {flags}: escalate to a {to}; contact only through the validated channel ({channel}).", flags=", ".join(flags), to=esc.to, channel=esc.validated_channel),),
                        escalate_to=esc.to, validated_channel=esc.validated_channel)
    k = _kernel(rules, seg, channel)
    ctx = _Ctx(k, lead, week_totals, zone(lead.tz, k.default_tz))
    ctx.breach = _guardrail(ctx, ts)
    ctx.week = ts - (ts - _EPOCH_MONDAY) % WEEK
    recent = lead.recent
    if recent:
        ctx.times = sorted([c >> 3 for c in recent])
        code = k.code
        ctx.ch_times = [c >> 3 for c in recent if c & 7 == code]
    if lead.consec >= k.cd_after and lead.last_out is not None:
        ctx.cd_until = lead.last_out + k.cd_span
    if account:
        ctx.acc_times = sorted([c >> 3 for c in account])
    failing = _limits(ctx, ts)
    flag = ctx.breach is not None
    if not failing:
        return _decision(lead.lead_id, channel, at, key, ALLOW, flag_content=flag)
    nxt = _next_allowed(ctx, ts, failing)
    lang = get_language()
    return _decision(lead.lead_id, channel, at, key, DENY, rules=tuple([r for r, _n, _m in failing]),
                     reasons=tuple([_text(m, lang) for _r, _n, m in failing]),
                     next_allowed_at=_EPOCH0 + timedelta(seconds=nxt) if nxt is not None else None, flag_content=flag)
