"""Audit note renderers: HTML, PDF, XLSX, Markdown (and JSON), in French or English.

Renderers read only ``AuditResult.to_dict()`` (docs/dev/audit-contract.md)::

    from levier.report import render_audit
    paths = render_audit(result, formats=("html", "pdf", "xlsx", "md"), lang="fr", out_dir=out)

``result`` is the analysis result (anything with ``to_dict()``) or the dict itself. Missing or
``None`` statistics print as "n/a" / "non disponible"; nothing in the note fetches the network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from levier.errors import OptionError
from levier.i18n import LANGUAGES
from levier.i18n import gettext as _
from levier.report.document import Document
from levier.report.sections import build_document

__all__ = ["FORMATS", "render_audit", "audit_dict", "build_document", "Document", "output_stem"]

FORMATS = ("html", "pdf", "xlsx", "md", "json")
SUPPORTED_VERSIONS = (1,)


def audit_dict(result: Any) -> dict[str, Any]:
    """The audit dict from an ``AuditResult`` (``to_dict()``) or a mapping; checks the version."""
    data = result.to_dict() if hasattr(result, "to_dict") else result
    if not isinstance(data, Mapping):
        raise OptionError(_("render_audit expects an audit result or its to_dict() dict, got {kind}.",
                            kind=type(result).__name__))
    version = data.get("version", 1)
    if version not in SUPPORTED_VERSIONS:
        raise OptionError(_("Audit result version {version} is not supported by this renderer (supported: {supported}); upgrade Levier.",
                            version=version, supported=", ".join(map(str, SUPPORTED_VERSIONS))))
    return dict(data)


def output_stem(data: Mapping[str, Any], lang: str) -> str:
    """``audit-<period>-<lang>``, safe as a file name."""
    framing = data.get("framing") if isinstance(data.get("framing"), Mapping) else {}
    period = (framing.get("period") or {}) if isinstance(framing.get("period"), Mapping) else {}
    label = re.sub(r"[^\w.-]+", "_", str(period.get("label") or "period")).strip("_") or "period"
    return f"audit-{label}-{lang}"


def _formats(formats: str | Iterable[str]) -> list[str]:
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    wanted = [str(f).strip().lower() for f in items if str(f).strip()]
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown or not wanted:
        raise OptionError(_("Unknown report format {formats}: choose among {known}.",
                            formats=", ".join(unknown) or "''", known=", ".join(FORMATS)))
    return list(dict.fromkeys(wanted))


def _lang(lang: str) -> str:
    code = str(lang or "").lower().replace("-", "_").split("_")[0]
    if code not in LANGUAGES:
        raise OptionError(_("Unknown report language {code}: choose among {known}.",
                            code=lang, known=", ".join(LANGUAGES)))
    return code


def render_audit(result: Any, formats: str | Iterable[str] = ("html",), lang: str = "fr",
                 out_dir: Path | str = Path("."), stem: str | None = None) -> list[Path]:
    """Write the audit note in each of ``formats`` into ``out_dir``; return the files written.

    Markdown also writes its charts as PNG files beside the ``.md`` (returned too).
    """
    from levier import __version__
    from levier.report.charts import to_png

    data = audit_dict(result)
    wanted, code = _formats(formats), _lang(lang)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OptionError(_("Cannot create the output directory {path}: {error}. Choose a writable directory.", path=out, error=exc.strerror or exc)) from exc
    base = stem or output_stem(data, code)
    doc = build_document(data, code) if set(wanted) & {"html", "md", "pdf"} else None
    pngs: dict[str, bytes] = {}
    if doc is not None and set(wanted) & {"md", "pdf"}:
        pngs = {fig.key: to_png(fig.spec, code) for fig in doc.figures()}
    written: list[Path] = []
    try:
        for fmt in wanted:
            written += _write(fmt, data, doc, pngs, out, base, code, __version__)
    except OSError as exc:
        raise OptionError(_("Cannot write the report into {path}: {error}. Choose a writable directory.", path=out, error=exc.strerror or exc)) from exc
    return written


def _write(fmt: str, data: dict[str, Any], doc: Document | None, pngs: dict[str, bytes], out: Path,
           base: str, lang: str, version: str) -> list[Path]:
    path = out / f"{base}.{fmt}"
    if fmt == "json":
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return [path]
    if fmt == "xlsx":
        from levier.report.xlsx import write_xlsx

        write_xlsx(data, path, lang)
        return [path]
    assert doc is not None
    if fmt == "html":
        from levier.report.html import render_html

        path.write_text(render_html(doc, version), encoding="utf-8")
        return [path]
    if fmt == "md":
        from levier.report.markdown import write_markdown

        return write_markdown(doc, path, pngs)
    from levier.report.pdf import write_pdf

    write_pdf(doc, path, pngs)
    return [path]
