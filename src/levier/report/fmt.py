"""Locale-aware formatting of audit figures (Babel), tolerant of missing values.

Every renderer prints numbers through :class:`Formatter` so French gets decimal commas and
``18,0 %`` while English gets ``18.0%``; undefined statistics (``None``, NaN) print as
"n/a" / "non disponible".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent

from levier.i18n import gettext as _

__all__ = ["Formatter", "is_number"]

_LOCALES = {"fr": "fr_FR", "en": "en_GB"}
NBSP = "\u00a0"


def is_number(value: Any) -> bool:
    """True for a finite int/float (bools excluded)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


@dataclass(frozen=True)
class Formatter:
    """Formats figures for one language (``fr`` or ``en``)."""

    lang: str = "fr"

    @property
    def locale(self) -> str:
        return _LOCALES.get(self.lang, "en_GB")

    @property
    def na(self) -> str:
        return _("n/a", lang=self.lang)

    def t(self, message: str, /, **kwargs: object) -> str:
        """Translate a report label into this formatter's language."""
        return _(message, lang=self.lang, **kwargs)

    def num(self, value: Any, digits: int = 2) -> str:
        if not is_number(value):
            return self.na
        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def integer(self, value: Any) -> str:
        if not is_number(value):
            return self.na
        return format_decimal(round(value), format="#,##0", locale=self.locale)

    def count(self, value: Any) -> str:
        """An integer when whole, else one decimal (medians of counts may be .5)."""
        if is_number(value) and float(value).is_integer():
            return self.integer(value)
        return self.num(value, 1)

    def pct(self, value: Any, digits: int = 1) -> str:
        """A share (0.18) as a percentage: ``18,0 %`` (fr) / ``18.0%`` (en)."""
        if not is_number(value):
            return self.na
        decimals = "." + "0" * digits if digits > 0 else ""
        sep = NBSP if self.lang == "fr" else ""
        return format_percent(value, format=f"#,##0{decimals}{sep}%", locale=self.locale)

    def points(self, value: Any, digits: int = 1) -> str:
        """A signed difference in percentage points: ``+1,2 pt``."""
        if not is_number(value):
            return self.na
        sign = "+" if value > 0 else ("−" if value < 0 else "")
        return sign + self.num(abs(value), digits) + NBSP + self.t("pts")

    def hours(self, value: Any, digits: int = 1) -> str:
        if not is_number(value):
            return self.na
        return self.num(value, digits) + NBSP + "h"

    def pvalue(self, value: Any) -> str:
        if not is_number(value):
            return self.na
        if value < 0.001:
            return "< " + self.num(0.001, 3)
        return self.num(value, 3)

    def interval(self, pair: Any, digits: int = 2, percent: bool = False) -> str:
        """``[lo ; hi]`` (fr) / ``[lo, hi]`` (en); n/a unless both ends are numbers."""
        if not isinstance(pair, list | tuple) or len(pair) != 2 or not all(map(is_number, pair)):
            return self.na
        fmt = (lambda v: self.pct(v, digits)) if percent else (lambda v: self.num(v, digits))
        sep = " ; " if self.lang == "fr" else ", "
        return f"[{fmt(pair[0])}{sep}{fmt(pair[1])}]"

    def date(self, value: Any) -> str:
        parsed = _parse_when(value)
        if parsed is None:
            return self.text(value)
        if isinstance(parsed, datetime):
            return format_datetime(parsed, format="medium", locale=self.locale)
        return format_date(parsed, format="long", locale=self.locale)

    def text(self, value: Any) -> str:
        """Any value as text; None → n/a, lists joined, bools as yes/no."""
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return self.na
        if isinstance(value, bool):
            return self.t("yes") if value else self.t("no")
        if isinstance(value, float):
            return self.num(value, 2)
        if isinstance(value, list | tuple):
            return ", ".join(self.text(v) for v in value) if value else self.na
        if isinstance(value, dict):
            if not value:
                return self.na
            return "; ".join(f"{k}: {self.text(v)}" for k, v in value.items())
        return str(value)


def _parse_when(value: Any) -> date | datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value)
    except ValueError:
        return None
