"""French / English message catalogs (gettext ``.po`` files read with Babel).

Source strings (msgid) are English; ``locales/fr/LC_MESSAGES/*.po`` holds the
French. Each area of the code owns one domain file (``cli.po``, ``data.po``,
``audit.po`` …) so catalogs are edited without collisions. All domains are
merged at load time.

Usage::

    from levier.i18n import gettext as _
    _("Imported {n} rows", n=10)            # current locale
    _("Imported {n} rows", lang="fr", n=10)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from importlib import resources

from babel.messages.pofile import read_po

__all__ = ["LANGUAGES", "N_", "gettext", "get_language", "set_language", "use_language", "catalog"]

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"

_current: ContextVar[str | None] = ContextVar("levier_lang", default=None)


def _normalise(lang: str | None) -> str:
    if not lang:
        return DEFAULT_LANGUAGE
    code = lang.split(".")[0].replace("-", "_").split("_")[0].lower()
    return code if code in LANGUAGES else "en"


def get_language() -> str:
    """The active language: set explicitly, else ``LEVIER_LANG``, else French."""
    return _normalise(_current.get() or os.environ.get("LEVIER_LANG"))


def set_language(lang: str) -> None:
    _current.set(_normalise(lang))


@contextmanager
def use_language(lang: str) -> Iterator[None]:
    token = _current.set(_normalise(lang))
    try:
        yield
    finally:
        _current.reset(token)


@cache
def catalog(lang: str) -> dict[str, str]:
    """All translations for ``lang`` merged across domain files."""
    out: dict[str, str] = {}
    base = resources.files("levier") / "locales" / lang / "LC_MESSAGES"
    if not base.is_dir():
        return out
    for entry in sorted(base.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".po"):
            continue
        with entry.open("rb") as fh:
            for msg in read_po(fh, locale=lang):
                if msg.id and msg.string and isinstance(msg.id, str):
                    out[msg.id] = str(msg.string)
    return out


def N_(message: str) -> str:  # noqa: N802 - gettext convention
    """Mark ``message`` for translation where it is defined; translate it later with gettext."""
    return message


def gettext(message: str, /, lang: str | None = None, **kwargs: object) -> str:
    """Translate ``message`` (English source) and format it with ``kwargs``."""
    code = _normalise(lang) if lang else get_language()
    text = catalog(code).get(message, message)
    return text.format(**kwargs) if kwargs else text
