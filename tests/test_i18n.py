"""Everything a person reads exists in French and English."""

from __future__ import annotations

import re
from pathlib import Path

from levier.i18n import catalog, gettext, use_language

SRC = Path(__file__).resolve().parents[1] / "src" / "levier"
CALL = re.compile(r"""\b_\(\s*(?P<q>"|')(?P<msg>(?:\\.|(?!(?P=q)).)*)(?P=q)""")


def _source_msgids() -> set[str]:
    ids: set[str] = set()
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if "gettext as _" not in text or path.name == "i18n.py":
            continue
        for m in CALL.finditer(text):
            msg = m.group("msg")
            ids.add(msg.replace("\\n", "\n").replace("\\'", "'").replace('\\"', '"'))
    return ids


def test_every_message_has_a_french_translation() -> None:
    fr = catalog("fr")
    missing = sorted(m for m in _source_msgids() if m not in fr)
    assert not missing, f"add these to a locales/fr/LC_MESSAGES/*.po file: {missing[:20]}"


def test_translation_and_formatting() -> None:
    assert gettext("Error: {message}", lang="fr", message="x") == "Erreur : x"
    assert gettext("Error: {message}", lang="en", message="x") == "Error: x"
    with use_language("en-GB"):
        assert gettext("Rows") == "Rows"
    with use_language("fr_FR.UTF-8"):
        assert gettext("Rows") == "Lignes"


def test_french_messages_keep_placeholders() -> None:
    fr = catalog("fr")
    for msgid, msgstr in fr.items():
        assert set(re.findall(r"\{(\w*)", msgid)) == set(re.findall(r"\{(\w*)", msgstr)), msgid
