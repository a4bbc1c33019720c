"""The contact policy as data: pydantic models of the YAML rules, validated on load.

A policy file (``default_policy.yaml`` ships the method's examples) holds global settings —
sending window in the lead's local time, holidays, daily caps per channel, cool-down after
consecutive non-responses, escalation flags, the weekly complaint guardrail — and a list of
segments (acquisition channel × company size × phase) that refine them: cadence (minimum /
maximum touches over a window), TTF SLA, daily caps, a cap per account over a rolling window,
and the cadence sequence. Errors name the field path (``segments[1].cadence.days``).
"""

from __future__ import annotations

from datetime import date, time
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from levier.errors import PolicyError
from levier.i18n import gettext as _

__all__ = [
    "PolicyRules", "Segment", "Window", "Cadence", "RollingCap", "CoolDown", "Escalation", "Guardrail", "SequenceStep",
    "RECENT_KEPT", "WEEKDAYS", "load_rules", "parse_rules", "default_rules_text", "rules_from_dict",
]

#: How many recent outbound touches the state keeps per lead and per account (bounds every cap).
RECENT_KEPT = 16
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
TouchChannel = Literal["email", "call", "sms", "social", "meeting", "mail", "other"]
Flag = Literal["vip", "litigation", "do_not_contact"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Model):
    """When a touch may be made, in the lead's local time."""

    start: time = time(9)
    end: time = time(17)
    weekdays: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")
    holidays: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.start >= self.end:
            raise ValueError(_("start ({start}) must be before end ({end}).", start=self.start, end=self.end))
        if not self.weekdays:
            raise ValueError(_("weekdays must list at least one day."))
        return self

    @cached_property
    def weekday_set(self) -> frozenset[int]:
        return frozenset(WEEKDAYS.index(d) for d in self.weekdays)

    @cached_property
    def holiday_set(self) -> frozenset[date]:
        return frozenset(self.holidays)


class Cadence(_Model):
    """Touches expected (minimum) and allowed (maximum) over a window of ``days``."""

    min_touches: int | None = Field(default=None, ge=1)
    max_touches: int | None = Field(default=None, ge=1, le=RECENT_KEPT)
    days: int = Field(ge=1, le=366)

    @model_validator(mode="after")
    def _order(self) -> Cadence:
        if self.min_touches and self.max_touches and self.min_touches > self.max_touches:
            raise ValueError(_("min_touches ({lo}) must not exceed max_touches ({hi}).", lo=self.min_touches, hi=self.max_touches))
        return self


class RollingCap(_Model):
    """At most ``touches`` outbound touches per rolling ``hours``."""

    touches: int = Field(ge=1, le=RECENT_KEPT)
    hours: int = Field(ge=1, le=24 * 366)


class CoolDown(_Model):
    """After ``after_non_responses`` consecutive unanswered touches, wait ``days``."""

    after_non_responses: int = Field(default=5, ge=1, le=100)
    days: int = Field(default=7, ge=1, le=366)


class Escalation(_Model):
    """Leads with one of ``flags`` go to a manager, through one validated channel."""

    flags: tuple[Flag, ...] = ("vip", "litigation", "do_not_contact")
    to: str = "manager"
    validated_channel: TouchChannel = "call"


class Guardrail(_Model):
    """Weekly complaint rate (complaints / outbound touches on ``channels``) above ``max_rate``."""

    max_rate: float = Field(default=0.002, gt=0, lt=1)
    channels: tuple[TouchChannel, ...] = ("email",)
    action: Literal["lower_cap", "pause"] = "lower_cap"
    lowered_daily_cap: int = Field(default=1, ge=0, le=RECENT_KEPT)
    min_sent: int = Field(default=100, ge=1)


class SequenceStep(_Model):
    """One step of a cadence sequence: day offset from the lead's creation, channel, template."""

    day: int = Field(ge=0, le=366)
    channel: TouchChannel
    template: str = ""


DailyCaps = dict[TouchChannel, int]


class Segment(_Model):
    """Rules of one segment; ``None`` in channel / company_size / phase matches any value."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    channel: Literal["inbound", "outbound", "partner"] | None = None
    company_size: Literal["smb", "mid", "enterprise"] | None = None
    phase: str | None = None
    cadence: Cadence | None = None
    ttf_hours: float | None = Field(default=None, gt=0)
    daily_caps: DailyCaps = Field(default_factory=dict)
    account_cap: RollingCap | None = None
    sequence: tuple[SequenceStep, ...] = ()

    @field_validator("daily_caps")
    @classmethod
    def _caps(cls, caps: DailyCaps) -> DailyCaps:
        return _check_caps(caps)

    def matches(self, channel: str | None, size: str | None, phase: str | None) -> bool:
        return ((self.channel is None or self.channel == channel) and (self.company_size is None or self.company_size == size)
                and (self.phase is None or self.phase == phase))


def _check_caps(caps: DailyCaps) -> DailyCaps:
    for ch, n in caps.items():
        if not 0 <= n <= RECENT_KEPT:
            raise ValueError(_("daily cap of {channel} must be between 0 and {max} (got {n}).", channel=ch, max=RECENT_KEPT, n=n))
    return caps


class PolicyRules(_Model):
    """A whole contact policy."""

    version: Literal[1] = 1
    name: str = "default"
    timezone: str = "Europe/Paris"
    window: Window = Window()
    daily_caps: DailyCaps = Field(default_factory=dict)
    cool_down: CoolDown = CoolDown()
    escalation: Escalation = Escalation()
    complaints: Guardrail = Guardrail()
    response_outcomes: tuple[Literal["replied", "connected", "meeting_booked", "clicked", "opened"], ...] = (
        "replied", "connected", "meeting_booked")
    segments: tuple[Segment, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(_("'{tz}' is not an IANA time zone (e.g. Europe/Paris).", tz=value)) from None
        return value

    @field_validator("daily_caps")
    @classmethod
    def _caps(cls, caps: DailyCaps) -> DailyCaps:
        return _check_caps(caps)

    @model_validator(mode="after")
    def _unique(self) -> PolicyRules:
        keys = [s.key for s in self.segments]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(_("segment keys must be unique; repeated: {keys}.", keys=", ".join(dup)))
        return self

    def segment_for(self, channel: str | None, size: str | None, phase: str | None) -> Segment | None:
        """The first segment matching the lead (None: only the global rules apply)."""
        for seg in self.segments:
            if seg.matches(channel, size, phase):
                return seg
        return None

    def segment(self, key: str) -> Segment:
        for seg in self.segments:
            if seg.key == key:
                return seg
        raise PolicyError(_("The policy has no segment '{key}'.", key=key), hint=_("Known segments: {keys}.", keys=", ".join(s.key for s in self.segments)))

    def daily_cap(self, seg: Segment | None, channel: str) -> int | None:
        if seg is not None and channel in seg.daily_caps:
            return seg.daily_caps[channel]  # type: ignore[index]
        return self.daily_caps.get(channel)  # type: ignore[call-overload]


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def rules_from_dict(data: Any, source: str = "policy") -> PolicyRules:
    """Validate a mapping; :class:`PolicyError` lists every problem with its field path."""
    if not isinstance(data, dict):
        raise PolicyError(_("{source}: the policy must be a YAML mapping (key: value).", source=source))
    try:
        return PolicyRules.model_validate(data)
    except ValidationError as exc:
        problems = [f"{_path(tuple(err['loc']))}: {err['msg']}" for err in exc.errors()]
        raise PolicyError(
            _("{source}: invalid contact policy ({n} problem(s)): {problems}", source=source, n=len(problems), problems="; ".join(problems)),
            hint=_("Fix the fields named above; docs/policy.md lists every setting."),
        ) from None


def parse_rules(text: str, source: str = "policy") -> PolicyRules:
    """Rules from YAML text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise PolicyError(_("{source}: not valid YAML{where}: {problem}", source=source, where=where, problem=getattr(exc, "problem", exc))) from None
    return rules_from_dict(data, source)


def load_rules(path: str | Path) -> PolicyRules:
    """Rules from a YAML file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(_("Cannot read the policy file {path}: {problem}", path=p, problem=exc.strerror or exc)) from None
    return parse_rules(text, str(p))


def default_rules_text() -> str:
    """The YAML of the default policy shipped with Levier."""
    return (resources.files("levier.policy") / "default_policy.yaml").read_text(encoding="utf-8")

