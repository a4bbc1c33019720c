"""Path counts: the sufficient statistic of every attribution model.

A journey is an ordered sequence of channel labels ending in a conversion or not. Journeys
with the same sequence are aggregated into one *path* with its number of conversions, of
non-conversions ("nulls") and the conversion value. The engine reduces raw events to this
(see :mod:`levier.analysis.attribution.journeys`); users can also bring it as a CSV file in
the ChannelAttribution format (``path`` with ``>`` between channels, ``conversions``,
``nulls``, optional ``value``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from levier.analysis.attribution.encode import EncodedPaths, encode_tuples, parse_many
from levier.errors import DataError
from levier.i18n import gettext as _

__all__ = ["PathCounts", "SEPARATOR", "DIRECT", "EncodedPaths", "read_paths_csv", "parse_path"]

SEPARATOR = ">"
DIRECT = "direct"
_REQUIRED = ("path", "conversions", "nulls")


def parse_path(text: str, sep: str = SEPARATOR) -> tuple[str, ...]:
    """``"A > B>C"`` → ``("A", "B", "C")`` (blank steps dropped)."""
    return tuple(step.strip() for step in str(text).split(sep) if step.strip())


@dataclass(frozen=True, eq=False)
class PathCounts:
    """Distinct paths with their conversions, non-conversions and conversion value."""

    paths: tuple[tuple[str, ...], ...]
    conversions: np.ndarray
    nulls: np.ndarray
    value: np.ndarray
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def encoded(self) -> EncodedPaths:
        """Integer codes of every step (built once, then cached): the vectorised models' input."""
        enc = self._cache.get("encoded")
        if enc is None:
            enc = self._cache["encoded"] = encode_tuples(self.paths)
        return enc

    @classmethod
    def from_arrays(cls, paths: Sequence[str] | np.ndarray | pd.Series, conversions: Any, nulls: Any,
                    value: Any = None, sep: str = SEPARATOR) -> PathCounts:
        """From path strings and numeric columns, vectorised; equal paths are summed.

        Same result as :meth:`from_records` (first-appearance order, blank steps dropped,
        paths without any channel skipped), without a Python loop over rows or steps.
        """
        inverse, keys, enc = parse_many(paths, sep)
        n = len(keys)
        ok = inverse >= 0

        def total(column: Any) -> np.ndarray:
            if column is None:
                return np.zeros(n)
            arr = np.asarray(column, dtype=float)
            return np.bincount(inverse[ok], weights=arr[ok], minlength=n) if n else np.zeros(0)

        out = cls(tuple(keys), total(conversions), total(nulls), total(None if value is None else np.nan_to_num(np.asarray(value, dtype=float))))
        out._cache["encoded"] = enc
        return out

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]] | Iterable[tuple[Any, ...]]) -> PathCounts:
        """From ``(path, conversions, nulls[, value])`` tuples or dicts; equal paths are summed."""
        acc: dict[tuple[str, ...], list[float]] = {}
        for rec in records:
            if isinstance(rec, Mapping):
                path, conv, null, val = rec["path"], rec["conversions"], rec["nulls"], rec.get("value", 0.0)
            else:
                path, conv, null, *rest = rec
                val = rest[0] if rest else 0.0
            key = parse_path(path) if isinstance(path, str) else tuple(path)
            if not key:
                continue
            cell = acc.setdefault(key, [0.0, 0.0, 0.0])
            cell[0] += float(conv)
            cell[1] += float(null)
            cell[2] += float(val or 0.0)
        keys = tuple(acc)
        arr = np.array([acc[k] for k in keys], dtype=float).reshape(-1, 3)
        return cls(keys, arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy())

    @classmethod
    def from_frame(cls, df: pd.DataFrame, sep: str = SEPARATOR) -> PathCounts:
        """From a frame with ``path``, ``conversions``, ``nulls`` and optionally ``value``."""
        return cls.from_arrays(df["path"].astype(str), df["conversions"], df["nulls"],
                               df["value"] if "value" in df.columns else None, sep)

    # -- views ---------------------------------------------------------------------------
    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(sorted({c for p in self.paths for c in p}))

    @property
    def total_conversions(self) -> float:
        return float(self.conversions.sum())

    @property
    def total_nulls(self) -> float:
        return float(self.nulls.sum())

    @property
    def total_value(self) -> float:
        return float(self.value.sum())

    @property
    def journeys(self) -> float:
        return self.total_conversions + self.total_nulls

    def __len__(self) -> int:
        return len(self.paths)

    def relabel(self, mapping: Mapping[str, str]) -> PathCounts:
        """The same counts with channels renamed (paths that become equal are merged)."""
        return PathCounts.from_records(
            (tuple(mapping.get(c, c) for c in p), c1, n1, v1)
            for p, c1, n1, v1 in zip(self.paths, self.conversions, self.nulls, self.value, strict=False)
        )

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "path": [SEPARATOR.join(p) for p in self.paths],
            "conversions": self.conversions, "nulls": self.nulls, "value": self.value,
        })

    def to_dict(self) -> dict[str, Any]:
        return {"paths": len(self.paths), "channels": list(self.channels), "journeys": self.journeys,
                "conversions": self.total_conversions, "nulls": self.total_nulls, "value": self.total_value}


def _number(raw: Any, *, row: int, column: str, source: str, required: bool) -> float:
    text = "" if raw is None or (isinstance(raw, float) and math.isnan(raw)) else str(raw).strip()
    if not text:
        if required:
            raise DataError(_("{file}, row {row}, column '{column}': empty value.", file=source, row=row, column=column),
                            hint=_("Write a number (0 if there were none)."))
        return 0.0
    try:
        value = float(text.replace("\u202f", "").replace(" ", "").replace(",", "."))
    except ValueError:
        raise DataError(_("{file}, row {row}, column '{column}': '{value}' is not a number.", file=source, row=row, column=column, value=text),
                        hint=_("Use digits with a dot or a comma as the decimal mark.")) from None
    if not math.isfinite(value) or value < 0:
        raise DataError(_("{file}, row {row}, column '{column}': {value} is negative or not finite.", file=source, row=row, column=column, value=text),
                        hint=_("Counts and values must be zero or positive."))
    return value


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(_("Path file '{file}' does not exist.", file=path))
    try:
        return pd.read_csv(path, dtype=str, sep=None, engine="python", encoding="utf-8-sig", keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(_("{file}: not a readable CSV file ({problem}).", file=path, problem=exc),
                        hint=_("Save it as UTF-8 CSV with a header row: path, conversions, nulls[, value].")) from None


def read_paths_csv(file: str | Path, sep: str = SEPARATOR) -> PathCounts:
    """Read a path-level CSV (ChannelAttribution format); errors name the row and column."""
    path = Path(file)
    df = _read_table(path)
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise DataError(_("{file}: missing column(s) {columns}.", file=path, columns=", ".join(missing)),
                        hint=_("The header must hold path, conversions, nulls and optionally value; found: {found}.", found=", ".join(df.columns)))
    has_value = "value" in df.columns
    records = []
    for i, rec in enumerate(df.to_dict("records"), start=2):  # row 1 is the header
        steps = parse_path(rec["path"], sep)
        if not steps:
            raise DataError(_("{file}, row {row}, column 'path': the path is empty.", file=path, row=i),
                            hint=_("Write channels separated by '{sep}', e.g. search{sep}email.", sep=sep))
        conv = _number(rec["conversions"], row=i, column="conversions", source=str(path), required=True)
        null = _number(rec["nulls"], row=i, column="nulls", source=str(path), required=True)
        val = _number(rec["value"], row=i, column="value", source=str(path), required=False) if has_value else 0.0
        records.append((steps, conv, null, val))
    if not records:
        raise DataError(_("{file}: no path rows.", file=path))
    return PathCounts.from_records(records)
