"""Every label of the report renderers exists in French (English is the msgid)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from levier.i18n import catalog
from levier.report.fmt import Formatter
from levier.report.labels import _ENUMS, enum_label
from levier.report.xlsx import SHEETS

REPORT = Path(__file__).resolve().parents[2] / "src" / "levier" / "report"
# The audit-note modules (other report sections are checked by their own tests and by tests/test_i18n.py).
AUDIT_MODULES = ("__init__", "charts", "fmt", "html", "labels", "markdown", "pdf", "sections", "sections_stats",
                 "xlsx", "xlsx_charts")
# _("…"), f.t("…"), book.f.t("…"), t("…") in templates; implicit concatenation of "…" "…" literals.
CALL = re.compile(r"""(?:\b_|\.t|\bt)\(\s*((?:"(?:\\.|[^"\\])*"\s*)+)""")
STRING = re.compile(r'"((?:\\.|[^"\\])*)"')
# Literal msgids passed through helpers (column names, sheet names…) are listed in tuples.
HELPER = re.compile(r"""\(\s*"([^"]+)",\s*(?:"\w+"|None),\s*\d+\)""")
LOOP = re.compile(r"""f\.t\(h\) for h in \(([^)]*)\)""")


def _msgids() -> set[str]:
    ids: set[str] = set()
    for path in [REPORT / f"{m}.py" for m in AUDIT_MODULES] + [REPORT / "templates" / "audit.html.j2"]:
        text = path.read_text(encoding="utf-8")
        for m in CALL.finditer(text):
            ids.add("".join(STRING.findall(m.group(1))))
        ids.update(HELPER.findall(text))
        for m in LOOP.finditer(text):
            ids.update(STRING.findall(m.group(1)))
    for group in _ENUMS.values():
        ids.update(group.values())
    ids.update(SHEETS)
    return {i for i in ids if i}


def test_scanner_finds_the_labels() -> None:
    ids = _msgids()
    assert {"One-page dashboard", "Median TTF", "Contents", "Scatter data", "Unsubscribe rate"} <= ids
    assert len(ids) > 150


def test_every_report_label_has_a_french_translation() -> None:
    fr = catalog("fr")
    missing = sorted(i for i in _msgids() if i not in fr)
    assert not missing, f"add to locales/fr/LC_MESSAGES/report.po: {missing}"


@pytest.mark.parametrize(("group", "value", "fr", "en"), [
    ("light", "amber", "orange", "amber"),
    ("shape", "u", "en U (optimum)", "U-shaped (optimum)"),
    ("answer", "unknown", "inconnu", "unknown"),
    ("category", "brand_new_code", "brand_new_code", "brand_new_code"),
    ("light", None, "non disponible", "n/a"),
])
def test_enum_labels(group: str, value: object, fr: str, en: str) -> None:
    assert enum_label(Formatter("fr"), group, value) == fr
    assert enum_label(Formatter("en"), group, value) == en
