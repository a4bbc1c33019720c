"""Figures are formatted per locale with Babel; undefined values print n/a / non disponible."""

from __future__ import annotations

import math

import pytest
from babel.numbers import format_decimal, format_percent

from levier.report.fmt import Formatter

FR, EN = Formatter("fr"), Formatter("en")


def _sp(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def test_percentages() -> None:
    assert _sp(FR.pct(0.18)) == "18,0 %"
    assert EN.pct(0.18) == "18.0%"
    assert _sp(FR.pct(0.0012, 2)) == "0,12 %"
    assert _sp(FR.pct(0.18)) == _sp(format_percent(0.18, format="#,##0.0 %", locale="fr_FR"))


def test_numbers_and_units() -> None:
    assert FR.num(0.3147, 2) == "0,31" and EN.num(0.3147, 2) == "0.31"
    assert _sp(FR.integer(12345)) == _sp(format_decimal(12345, locale="fr_FR")) == "12 345"
    assert EN.integer(12345) == "12,345"
    assert _sp(FR.hours(1.7)) == "1,7 h"
    assert _sp(FR.points(1.2)) == "+1,2 pts" and _sp(EN.points(-0.5)) == "−0.5 pts"
    assert FR.count(5) == "5" and FR.count(5.5) == "5,5"
    assert FR.pvalue(0.0000001) == "< 0,001" and EN.pvalue(0.034) == "0.034"
    assert FR.interval([0.25, 0.35]) == "[0,25 ; 0,35]" and EN.interval([0.25, 0.35]) == "[0.25, 0.35]"


@pytest.mark.parametrize("value", [None, math.nan, math.inf, "x", True, [1]])
def test_undefined_values(value: object) -> None:
    for fn in ("num", "integer", "pct", "hours", "points", "pvalue", "count"):
        assert getattr(FR, fn)(value) == "non disponible"
        assert getattr(EN, fn)(value) == "n/a"
    assert FR.interval(None) == "non disponible" and FR.interval([0.1, None]) == "non disponible"


def test_text_and_dates() -> None:
    assert FR.text(None) == "non disponible" and FR.text([]) == "non disponible"
    assert FR.text(["a", "b"]) == "a, b" and EN.text(True) == "yes" and FR.text(False) == "non"
    assert FR.date("2026-10-01") == "1 octobre 2026" and EN.date("2026-10-01") == "1 October 2026"
    assert "2026" in FR.date("2026-11-01T00:00:00")
    assert FR.date("not a date") == "not a date"
