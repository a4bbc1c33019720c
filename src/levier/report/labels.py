"""Translatable labels for the enumerated values of the audit dict (colours, shapes, classes…).

Msgids are English; French lives in ``locales/fr/LC_MESSAGES/report.po``. Unknown values are
passed through :meth:`Formatter.t` unchanged, so a new code from the analysis still prints.
"""

from __future__ import annotations

from typing import Any

from levier.report.fmt import Formatter

__all__ = ["enum_label", "LIGHT_MARKS"]

_ENUMS: dict[str, dict[str, str]] = {
    "light": {"green": "green", "amber": "amber", "red": "red", "grey": "grey"},
    "answer": {"yes": "yes", "no": "no", "unknown": "unknown"},
    "shape": {"linear": "linear", "plateau": "plateau", "u": "U-shaped (optimum)",
              "s": "S-shaped", "none": "no clear shape"},
    "category": {"error": "error", "exceptional": "exceptional case", "opportunity": "opportunity",
                 "risk": "risk", "duplicate": "duplicate", "impossible": "impossible value",
                 "missing": "missing value", "outlier": "outlier"},
    "kind": {"rep": "rep", "lead": "lead", "account": "account", "vip": "VIP"},
    "unit": {"lead": "lead", "account": "account", "rep": "rep"},
    "code": {"ok": "ok", "zero_variance": "zero variance (undefined)",
             "too_few": "too few observations (undefined)"},
    "action": {"exclude": "exclude", "flag": "flag", "keep": "keep", "fix": "fix"},
    "exception": {"vip": "VIP", "litigation": "litigation", "opt_out": "opt-out",
                  "do_not_contact": "do not contact"},
    "direction": {"out": "outbound", "in": "inbound"},
}

LIGHT_MARKS = {"green": "🟢", "amber": "🟠", "red": "🔴", "grey": "⚪"}


def enum_label(f: Formatter, group: str, value: Any) -> str:
    """The translated label of ``value`` in ``group`` (n/a for None)."""
    if value is None or value == "":
        return f.na
    msgid = _ENUMS.get(group, {}).get(str(value), str(value))
    return f.t(msgid)
