"""A neutral document model of the audit note, laid out by the HTML, Markdown and PDF renderers.

:func:`levier.report.sections.build_document` turns the audit dict into a :class:`Document`
whose texts are already translated and whose figures are already formatted; renderers only
lay blocks out. The XLSX renderer works from the raw dict instead (it needs numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Tile", "Tiles", "Pairs", "Table", "Para", "Figure", "Section", "Document", "Block"]

LIGHTS = ("green", "amber", "red", "grey")


@dataclass(frozen=True)
class Tile:
    """One figure of the one-page dashboard."""

    label: str
    value: str
    note: str = ""


@dataclass(frozen=True)
class Tiles:
    items: tuple[Tile, ...]


@dataclass(frozen=True)
class Pairs:
    """Label → value lines (framing note, meta)."""

    items: tuple[tuple[str, str], ...]
    caption: str = ""


@dataclass(frozen=True)
class Table:
    """A table of already-formatted cells; ``lights`` colours column ``light_col`` per row."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    numeric: tuple[bool, ...] = ()
    light_col: int | None = None
    lights: tuple[str | None, ...] = ()
    empty: str = ""

    def is_numeric(self, index: int) -> bool:
        return index < len(self.numeric) and self.numeric[index]

    def light(self, row: int) -> str | None:
        colour = self.lights[row] if row < len(self.lights) else None
        return colour if colour in LIGHTS else None


@dataclass(frozen=True)
class Para:
    """A paragraph; ``kind`` is text, note or warning."""

    text: str
    kind: str = "text"


@dataclass(frozen=True)
class Figure:
    """A chart: a Vega-Lite spec plus its caption and text alternative."""

    key: str
    title: str
    spec: dict[str, Any]
    alt: str


Block = Tiles | Pairs | Table | Para | Figure


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Document:
    lang: str
    title: str
    subtitle: str
    sections: tuple[Section, ...]

    def figures(self) -> list[Figure]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Figure)]
