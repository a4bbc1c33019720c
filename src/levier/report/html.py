"""Self-contained HTML audit note: inline CSS, charts inline as SVG, no CDN, no external fetch."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import jinja2
from markupsafe import Markup

from levier.report.charts import to_svg
from levier.report.document import Document, Figure
from levier.report.fmt import Formatter

__all__ = ["render_html", "inline_svg"]

_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')


@cache
def _environment() -> jinja2.Environment:
    templates = resources.files("levier.report") / "templates"
    loader = jinja2.FunctionLoader(lambda name: (templates / name).read_text(encoding="utf-8"))
    return jinja2.Environment(loader=loader, autoescape=True, trim_blocks=False,
                              undefined=jinja2.StrictUndefined)


def _css() -> str:
    return (resources.files("levier.report") / "templates" / "audit.css").read_text(encoding="utf-8")


def inline_svg(svg: str) -> str:
    """An SVG document made ready to inline in HTML5 (no XML prolog, no namespace URLs).

    The HTML parser puts inline ``<svg>`` in the SVG namespace by itself, so the ``xmlns``
    declarations are redundant; dropping them keeps the note free of any ``http://`` string.
    """
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg.strip())
    return _XMLNS.sub("", svg).replace("xlink:href=", "href=")


def _kind(block: Any) -> str:
    return type(block).__name__.lower()


def render_html(doc: Document, version: str | None = None, charts: dict[str, str] | None = None) -> str:
    """The note as one HTML string. ``charts`` maps figure keys to SVG (rendered when missing)."""
    if version is None:
        from levier import __version__ as version
    svgs = dict(charts or {})
    for fig in doc.figures():
        if fig.key not in svgs:
            svgs[fig.key] = to_svg(fig.spec, doc.lang)
    f = Formatter(doc.lang)
    context = {
        "doc": doc, "version": version, "css": Markup(_css()), "kind": _kind, "t": f.t,
        "charts": {k: Markup(inline_svg(v)) for k, v in svgs.items()},
        "Figure": Figure,
    }
    return _environment().get_template("audit.html.j2").render(**context)
