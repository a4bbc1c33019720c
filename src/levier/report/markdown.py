"""The audit note as Markdown for a wiki; charts are PNG files written beside the ``.md``."""

from __future__ import annotations

from pathlib import Path

from levier.report.charts import to_png
from levier.report.document import Document, Figure, Pairs, Para, Table, Tiles
from levier.report.fmt import Formatter
from levier.report.labels import LIGHT_MARKS

__all__ = ["render_markdown", "write_markdown"]


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ") or " "


def _table(columns: tuple[str, ...], rows: list[tuple[str, ...]], numeric: tuple[bool, ...] = ()) -> list[str]:
    align = ["---:" if i < len(numeric) and numeric[i] else "---" for i in range(len(columns))]
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _block(block: object, images: dict[str, str], f: Formatter) -> list[str]:
    if isinstance(block, Tiles):
        rows = [(t.label, f"**{t.value}**", t.note) for t in block.items]
        return _table((f.t("Figure"), f.t("Value"), f.t("Note")), rows)
    if isinstance(block, Pairs):
        head = [f"### {block.caption}", ""] if block.caption else []
        return head + [f"- **{label}** : {value}" if f.lang == "fr" else f"- **{label}**: {value}"
                       for label, value in block.items] + [""]
    if isinstance(block, Table):
        head = [f"### {block.caption}", ""] if block.caption else []
        if not block.rows:
            return head + [f"_{block.empty or f.t('not available')}_", ""]
        rows = []
        for i, row in enumerate(block.rows):
            cells = list(row)
            colour = block.light(i)
            if block.light_col is not None and colour:
                cells[block.light_col] = f"{LIGHT_MARKS[colour]} {cells[block.light_col]}"
            rows.append(tuple(cells))
        return head + _table(block.columns, rows, block.numeric)
    if isinstance(block, Para):
        if block.kind == "warning":
            return [f"> **⚠** {block.text}", ""]
        return [f"_{block.text}_" if block.kind == "note" else block.text, ""]
    if isinstance(block, Figure):
        return [f"![{block.alt}]({images[block.key]})", ""]
    return []


def render_markdown(doc: Document, images: dict[str, str]) -> str:
    """The note as Markdown; ``images`` maps figure keys to relative image paths."""
    f = Formatter(doc.lang)
    lines = [f"# {doc.title}", "", f"_{doc.subtitle}_", ""]
    for section in doc.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            lines += _block(block, images, f)
    return "\n".join(lines).rstrip() + "\n"


def write_markdown(doc: Document, path: Path, pngs: dict[str, bytes] | None = None) -> list[Path]:
    """Write ``path`` and one ``<stem>-<chart>.png`` per chart beside it; return all paths."""
    pngs = dict(pngs or {})
    images: dict[str, str] = {}
    written = [path]
    for fig in doc.figures():
        png = pngs.get(fig.key) or to_png(fig.spec, doc.lang)
        image = path.with_name(f"{path.stem}-{fig.key}.png")
        image.write_bytes(png)
        images[fig.key] = image.name
        written.append(image)
    path.write_text(render_markdown(doc, images), encoding="utf-8")
    return written
