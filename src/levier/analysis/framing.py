"""Step 1 of the audit cycle — *Frame*: options, period parsing and the framing note.

User errors (a bad period, an unknown stage or segment column) raise :class:`OptionError`
naming the option and how to fix it. Defaults are documented in docs/metrics.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from levier.data.schema import OUTCOMES, TABLES
from levier.errors import OptionError
from levier.i18n import gettext as _

__all__ = [
    "Period",
    "AuditOptions",
    "Framing",
    "parse_period",
    "previous_period",
    "default_period",
    "parse_duration_days",
    "parse_hours",
    "SEGMENT_COLUMNS",
    "UNITS",
    "DEFAULT_EFFECTIVE",
    "Raci",
    "resolve",
]

UNITS = ("lead", "account", "rep")
SEGMENT_COLUMNS = ("channel", "company_size", "source", "campaign_id", "owner", "team", "country")
DEFAULT_EFFECTIVE = ("connected", "replied", "meeting_booked")
DEFAULT_KPIS = ("conversion_rate", "contacts_per_lead", "ttf_hours", "share_within_sla", "effective_contact_rate", "pearson_r", "slope", "r2", "pct_q1", "complaint_rate", "unsubscribe_rate")


@dataclass(frozen=True)
class Period:
    """A half-open interval of days [start, end) with its label."""

    start: date
    end: date
    label: str

    def to_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "label": self.label}

    @property
    def start_dt(self) -> datetime:
        return datetime.combine(self.start, datetime.min.time())

    @property
    def end_dt(self) -> datetime:
        return datetime.combine(self.end, datetime.min.time())


def _month(y: int, m: int) -> tuple[date, date]:
    start = date(y, m, 1)
    end = date(y + (m == 12), m % 12 + 1, 1)
    return start, end


def parse_period(text: str, option: str = "--period") -> Period:
    """``2026-10`` (month), ``2026-Q3`` (quarter), ``2026`` (year), ``2026-10-01..2026-10-31`` (days, inclusive)."""
    s = text.strip()
    try:
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})", s):
            start, end = _month(int(m[1]), int(m[2]))
            return Period(start, end, f"{start:%Y-%m}")
        if m := re.fullmatch(r"(\d{4})-?[Qq]([1-4])", s):
            q = int(m[2])
            start, _e = _month(int(m[1]), 3 * q - 2)
            _s, end = _month(int(m[1]), 3 * q)
            return Period(start, end, f"{m[1]}-Q{q}")
        if m := re.fullmatch(r"(\d{4})", s):
            return Period(date(int(s), 1, 1), date(int(s) + 1, 1, 1), s)
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})", s):
            start, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if last < start:
                raise ValueError
            return Period(start, last + timedelta(days=1), f"{start}..{last}")
    except ValueError:
        pass
    raise OptionError(
        _("Invalid value for {option}: '{value}'.", option=option, value=text),
        hint=_("Use a month (2026-10), a quarter (2026-Q3), a year (2026) or a day range (2026-10-01..2026-10-31)."),
    )


def previous_period(p: Period) -> Period:
    """The period of the same kind just before ``p`` (previous month, quarter, year or range)."""
    if re.fullmatch(r"\d{4}-\d{2}", p.label):
        y, m = p.start.year, p.start.month
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
        return parse_period(f"{y}-{m:02d}")
    if "Q" in p.label:
        y, q = p.start.year, (p.start.month - 1) // 3 + 1
        y, q = (y - 1, 4) if q == 1 else (y, q - 1)
        return parse_period(f"{y}-Q{q}")
    if re.fullmatch(r"\d{4}", p.label):
        return parse_period(str(p.start.year - 1))
    length = p.end - p.start
    start = p.start - length
    return Period(start, p.start, f"{start}..{p.start - timedelta(days=1)}")


def default_period(latest: datetime | None, window_days: int = 0) -> Period:
    """The last full calendar month whose leads have all had ``window_days`` to convert.

    ``latest`` is the newest lead creation time (the data's "now"). With a 30-day conversion
    window and data up to 2026-10-31, October's leads are still maturing (a lead created on
    October 20 could convert until November 19), so the default is September: a period whose
    conversion rate is final, comparable with the month before it.
    """
    if latest is None:
        raise OptionError(_("The workspace has no leads, so no default period can be chosen."), hint=_("Import leads first, or pass --period 2026-10."))
    ref = (latest + timedelta(days=1) - timedelta(days=window_days)).date()
    y, m = ref.year, ref.month
    y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return parse_period(f"{y}-{m:02d}")


def parse_duration_days(text: str | int, option: str = "--conversion-window") -> int:
    """``30d``, ``4w``, ``30`` → days."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+)\s*([dDwW]?)\s*", str(text))
    if not m or int(m[1]) <= 0:
        raise OptionError(_("Invalid value for {option}: '{value}'.", option=option, value=text), hint=_("Use a number of days such as 30d, or weeks such as 4w."))
    return int(m[1]) * (7 if m[2].lower() == "w" else 1)


def parse_hours(text: str | float, option: str = "--ttf-sla") -> float:
    """``2h``, ``90m``, ``1d``, ``2`` → hours."""
    if isinstance(text, (int, float)):
        return float(text)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([hHmMdD]?)\s*", str(text))
    if not m or float(m[1]) <= 0:
        raise OptionError(_("Invalid value for {option}: '{value}'.", option=option, value=text), hint=_("Use a duration such as 2h, 90m or 1d."))
    return float(m[1]) * {"": 1.0, "h": 1.0, "m": 1 / 60, "d": 24.0}[m[2].lower()]


@dataclass(frozen=True)
class Raci:
    """Who is Responsible, Accountable, Consulted, Informed for the cycle."""

    responsible: str | None = None
    accountable: str | None = None
    consulted: tuple[str, ...] = ()
    informed: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"responsible": self.responsible, "accountable": self.accountable, "consulted": list(self.consulted), "informed": list(self.informed)}


@dataclass(frozen=True)
class AuditOptions:
    """Everything a user can choose for an audit; ``None`` means the documented default."""

    period: str | Period | None = None
    compare_to: str | None = "previous"  # previous | none | a period
    segment_by: tuple[str, ...] = ("channel", "company_size")
    unit: str = "lead"
    conversion_stage: str = "opportunity"
    conversion_window_days: int | str = 30
    contact_outcomes: tuple[str, ...] | None = None  # None: every outbound touch is a contact
    effective_outcomes: tuple[str, ...] = DEFAULT_EFFECTIVE
    ttf_sla_hours: float | str = 2.0
    raci: Raci = field(default_factory=Raci)
    min_entity_leads: int = 3  # account/rep unit: entities with fewer leads are left out of the scatter
    thresholds: object | None = None  # levier.analysis.decision.DecisionThresholds

    def with_(self, **changes: object) -> AuditOptions:
        return replace(self, **changes)


@dataclass(frozen=True)
class Framing:
    """The resolved framing note: every later number cites it."""

    period: Period
    compare_to: Period | None
    segment_by: tuple[str, ...]
    unit: str
    stage: str
    window_days: int
    contact_outcomes: tuple[str, ...] | None
    effective_outcomes: tuple[str, ...]
    ttf_sla_hours: float
    raci: Raci
    extraction_time: datetime | None
    generated_at: datetime
    software_version: str
    workspace: str
    backend: str
    stages: tuple[str, ...]
    min_entity_leads: int = 3
    kpis: tuple[str, ...] = DEFAULT_KPIS

    @property
    def phase(self) -> str:
        first = self.stages[0] if self.stages else "lead"
        return f"{first} → {self.stage}"

    def to_dict(self) -> dict:
        return {
            "period": self.period.to_dict(),
            "compare_to": self.compare_to.to_dict() if self.compare_to else None,
            "segment_by": list(self.segment_by),
            "unit": self.unit,
            "phase": self.phase,
            "conversion": {"stage": self.stage, "window_days": self.window_days},
            "contact": {"outcomes": list(self.contact_outcomes) if self.contact_outcomes else None, "direction": "out", "effective_outcomes": list(self.effective_outcomes)},
            "ttf_sla_hours": self.ttf_sla_hours,
            "kpis": list(self.kpis),
            "raci": self.raci.to_dict(),
            "extraction_time": self.extraction_time.isoformat() if self.extraction_time else None,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "software_version": self.software_version,
            "workspace": self.workspace,
            "filters": {"engine": self.backend, "cleaned": True, "min_entity_leads": self.min_entity_leads},
        }


def _check_outcomes(values: tuple[str, ...] | None, option: str) -> tuple[str, ...] | None:
    if values is None:
        return None
    vals = tuple(v.strip().lower() for v in values if v.strip())
    bad = [v for v in vals if v not in OUTCOMES]
    if bad or not vals:
        raise OptionError(_("Unknown outcome(s) in {option}: {bad}.", option=option, bad=", ".join(bad) or "''"), hint=_("Use values among: {allowed}.", allowed=", ".join(OUTCOMES)))
    return vals


def resolve(options: AuditOptions, *, latest_lead: datetime | None, extraction_time: datetime | None, stages: tuple[str, ...], workspace: str, backend: str, version: str) -> Framing:
    """Validate ``options`` against the workspace and fill every default."""
    o = options
    if o.unit not in UNITS:
        raise OptionError(_("Invalid value for --unit: '{value}'.", value=o.unit), hint=_("Use one of: {allowed}.", allowed=", ".join(UNITS)))
    leads_cols = set(TABLES["leads"].column_names)
    bad = [c for c in o.segment_by if c not in SEGMENT_COLUMNS or c not in leads_cols]
    if bad:
        raise OptionError(_("Unknown segment column(s) in --segment-by: {bad}.", bad=", ".join(bad)), hint=_("Use columns of leads among: {allowed} (comma-separated), or leave it empty.", allowed=", ".join(SEGMENT_COLUMNS)))
    if o.conversion_stage not in stages:
        raise OptionError(_("Unknown stage for --conversion-stage: '{value}'.", value=o.conversion_stage), hint=_("Use one of the workspace stages: {allowed}.", allowed=", ".join(stages)))
    window_days = parse_duration_days(o.conversion_window_days)
    period = o.period if isinstance(o.period, Period) else (parse_period(o.period) if o.period else default_period(latest_lead, window_days))
    cmp = (o.compare_to or "none").strip()
    compare = None if cmp.lower() == "none" else previous_period(period) if cmp.lower() == "previous" else parse_period(cmp, "--compare-to")
    return Framing(
        period=period,
        compare_to=compare,
        segment_by=tuple(o.segment_by),
        unit=o.unit,
        stage=o.conversion_stage,
        window_days=window_days,
        contact_outcomes=_check_outcomes(o.contact_outcomes, "--contact-outcomes"),
        effective_outcomes=_check_outcomes(o.effective_outcomes, "effective_outcomes") or DEFAULT_EFFECTIVE,
        ttf_sla_hours=parse_hours(o.ttf_sla_hours),
        raci=o.raci,
        extraction_time=extraction_time,
        generated_at=datetime.now().replace(microsecond=0),
        software_version=version,
        workspace=workspace,
        backend=backend,
        stages=stages,
        min_entity_leads=o.min_entity_leads,
    )


def framing_dict(f: Framing) -> dict:
    """Alias kept for symmetry with other results."""
    return f.to_dict()

