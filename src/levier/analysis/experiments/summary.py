"""Quick analysis from aggregated numbers (a CRM report), one CSV row per arm.

Columns (header names, case-insensitive; ``;`` or ``,`` separated):

- ``arm`` and ``units`` (required); the first arm listed is the control unless ``--control``;
- either ``conversions`` (a proportion) or ``sum`` + ``sum_squares`` (a mean);
- optional ``metric`` (several metrics in one file), ``dimension`` + ``value`` (breakdowns),
  ``role`` (primary / secondary / guardrail), ``direction`` (higher / lower);
- optional CUPED sums: ``covariate_sum``, ``covariate_sum_squares``, ``cross_sum`` (Σ x·y);
- optional ``unit``: the randomisation unit the ``units`` count (lead, account or visitor; the
  same on every row). Without it the report says the unit is not stated.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from levier.analysis.experiments.data import CellKey, ExperimentData
from levier.analysis.experiments.metrics import MetricSpec
from levier.analysis.experiments.statistics import (
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    Statistic,
)
from levier.errors import DataError
from levier.i18n import gettext as _

__all__ = ["read_summary", "parse_summary"]


def _num(row: dict[str, str], col: str, where: str) -> float:
    raw = (row.get(col) or "").strip().replace("\u00a0", "").replace(" ", "")
    if raw.count(",") == 1 and "." not in raw:
        raw = raw.replace(",", ".")
    try:
        return float(raw)
    except ValueError:
        raise DataError(_("{where}: column '{col}' must be a number (got '{value}').", where=where, col=col,
                          value=row.get(col, ""))) from None


def _statistic(row: dict[str, str], where: str) -> tuple[Statistic, str]:
    n = _num(row, "units", where)
    if n < 0:
        raise DataError(_("{where}: 'units' must not be negative.", where=where))
    if row.get("conversions", "").strip():
        c = _num(row, "conversions", where)
        if not 0 <= c <= n:
            raise DataError(_("{where}: conversions ({c}) must lie between 0 and units ({n}).", where=where, c=c, n=n))
        post: Statistic = ProportionStatistic(n, c)
        kind = "conversion"
    elif row.get("sum", "").strip() and row.get("sum_squares", "").strip():
        post = SampleMeanStatistic(n, _num(row, "sum", where), _num(row, "sum_squares", where))
        kind = "count"
    else:
        raise DataError(_("{where}: give either 'conversions' or both 'sum' and 'sum_squares'.", where=where))
    if row.get("covariate_sum", "").strip():
        sy = post.sum  # type: ignore[union-attr]
        ssy = sy if isinstance(post, ProportionStatistic) else post.sum_squares  # type: ignore[union-attr]
        pre = SampleMeanStatistic(n, _num(row, "covariate_sum", where), _num(row, "covariate_sum_squares", where))
        return RegressionAdjustedStatistic(n, SampleMeanStatistic(n, sy, ssy), pre, _num(row, "cross_sum", where)), kind
    return post, kind


def _unit(row: dict[str, str], where: str, seen: str | None) -> str | None:
    """The row's randomisation unit (checked; the same as the rows before), or ``seen`` when empty."""
    from levier.analysis.experiments.units import UNITS

    value = (row.get("unit") or "").strip().lower()
    if not value:
        return seen
    if value not in UNITS:
        raise DataError(_("{where}: column 'unit' must be one of {names} (got '{value}').", where=where,
                          names=", ".join(UNITS), value=row.get("unit", "")))
    if seen is not None and value != seen:
        raise DataError(_("{where}: unit '{value}' where the rows above say '{seen}' (one unit per file).", where=where,
                          value=value, seen=seen))
    return value


def parse_summary(text: str, *, name: str = "summary.csv", key: str = "summary", control: str | None = None) -> ExperimentData:
    """Parse the CSV ``text`` (see the module docstring) into :class:`ExperimentData`."""
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    reader.fieldnames = [f.strip().lower() for f in reader.fieldnames or []]
    for col in ("arm", "units"):
        if col not in reader.fieldnames:
            raise DataError(_("{file}: missing column '{col}' (found: {found}).", file=name, col=col,
                              found=", ".join(reader.fieldnames) or "none"))
    cells: dict[CellKey, Statistic] = {}
    arms: list[str] = []
    specs: dict[str, MetricSpec] = {}
    roles: dict[str, str] = {}
    unit: str | None = None
    for lineno, row in enumerate(reader, start=2):
        where = f"{name}, row {lineno}"
        unit = _unit(row, where, unit)
        arm = (row.get("arm") or "").strip()
        if not arm:
            raise DataError(_("{where}: empty 'arm'.", where=where))
        metric = (row.get("metric") or "").strip() or "conversion"
        stat, kind = _statistic(row, where)
        direction = (row.get("direction") or "higher").strip().lower()
        if metric not in specs:
            specs[metric] = MetricSpec(name=metric, kind=kind, direction="lower" if direction == "lower" else "higher")  # type: ignore[arg-type]
            roles[metric] = (row.get("role") or "").strip().lower() or ("primary" if not roles else "secondary")
        dim, value = (row.get("dimension") or "").strip(), (row.get("value") or "").strip()
        cell = (metric, dim, value, arm)
        if cell in cells:
            raise DataError(_("{where}: a second row for arm '{arm}', metric '{metric}'.", where=where, arm=arm, metric=metric))
        cells[cell] = stat
        if arm not in arms:
            arms.append(arm)
    if len(arms) < 2:
        raise DataError(_("{file}: at least two arms are needed (found {n}).", file=name, n=len(arms)))
    if control:
        if control not in arms:
            raise DataError(_("{file}: the control arm '{arm}' is not in the file ({arms}).", file=name, arm=control,
                              arms=", ".join(arms)))
        arms.remove(control)
        arms.insert(0, control)
    return ExperimentData(key=key, arms=tuple(arms), metrics=tuple(specs.values()), cells=cells, roles=roles,
                          source="summary", unit=unit)


def read_summary(path: str | Path, **kwargs: Any) -> ExperimentData:
    """Read a summary CSV file (UTF-8, with or without BOM)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(_("File not found: {path}", path=path)) from None
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")
    kwargs.setdefault("key", path.stem)
    return parse_summary(text, name=path.name, **kwargs)
