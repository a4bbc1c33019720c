"""Small helpers shared by the loop services (look-ups, choice and text checks, dates)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.errors import NotFoundError, OptionError
from levier.i18n import gettext as _

__all__ = ["get", "check_choice", "require_text", "as_date", "quarter_of", "clean_fields"]

T = TypeVar("T")


def get(s: Session, model: type[T], ident: int, label: str) -> T:
    """The row of ``model`` with id ``ident`` or :class:`NotFoundError` naming ``label``."""
    row = s.get(model, ident)
    if row is None:
        raise NotFoundError(_("No {what} with id {id}.", what=label, id=ident), hint=_("List them to see the existing ids."))
    return row


def check_choice(value: str | None, allowed: tuple[str, ...], field: str, *, optional: bool = False) -> str | None:
    """``value`` if it is one of ``allowed`` (or None when ``optional``), else an :class:`OptionError`."""
    if value is None and optional:
        return None
    if value not in allowed:
        raise OptionError(_("{field}: '{value}' is not one of {allowed}.", field=field, value=value, allowed=", ".join(allowed)))
    return value


def require_text(value: str | None, field: str) -> str:
    """``value`` stripped; an :class:`OptionError` when it is empty."""
    text = (value or "").strip()
    if not text:
        raise OptionError(_("{field} must not be empty.", field=field))
    return text


def as_date(value: date | datetime | str | None, field: str) -> date | None:
    """A ``date`` from a date, datetime or ISO string (None stays None)."""
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise OptionError(_("{field}: '{value}' is not a date (use YYYY-MM-DD).", field=field, value=value)) from None


def quarter_of(day: date | datetime) -> str:
    """``2026Q4`` style quarter label."""
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def clean_fields(fields: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    """``fields`` restricted to ``allowed`` keys; an :class:`OptionError` names unknown ones."""
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise OptionError(_("Unknown field(s): {fields}.", fields=", ".join(unknown)), hint=_("Allowed: {allowed}.", allowed=", ".join(sorted(allowed))))
    return fields


def count(s: Session, stmt: sa.Select[Any]) -> int:
    return int(s.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0)
