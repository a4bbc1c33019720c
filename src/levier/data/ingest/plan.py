"""Resolve a mapping against a file's header: which source columns feed which canonical ones."""

from __future__ import annotations

from dataclasses import dataclass, field

from levier.data.ingest.dialect import Dialect
from levier.data.ingest.mapping import TableMapping, close_hint
from levier.errors import FileFormatError, MappingError, MissingColumnError
from levier.i18n import gettext as _

__all__ = ["ColumnPlan", "Plan", "resolve", "find_column"]


@dataclass(frozen=True)
class ColumnPlan:
    """How one canonical column is produced."""

    name: str
    dtype: str
    required: bool
    sources: tuple[str, ...] = ()  # source columns (first non-empty wins)
    constant: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    formats: tuple[str, ...] = ()
    when: str | None = None  # source boolean column gating the value
    allowed: tuple[str, ...] | None = None

    @property
    def empty(self) -> bool:
        return not self.sources and self.constant is None


@dataclass(frozen=True)
class Plan:
    """The resolved plan of one import."""

    table: str
    key: tuple[str, ...]
    columns: tuple[ColumnPlan, ...]
    keep: dict[str, tuple[str, ...]]  # source column -> accepted lower-case values
    stages: tuple[tuple[str, tuple[str, ...]], ...] = ()  # stage_events unpivot
    warnings: tuple[str, ...] = ()
    unused: tuple[str, ...] = ()

    def column(self, name: str) -> ColumnPlan:
        return next(c for c in self.columns if c.name == name)


def find_column(header: tuple[str, ...], name: str) -> str | None:
    """The header entry for ``name``: exact, else ignoring case and surrounding spaces."""
    if name in header:
        return name
    folded = name.strip().casefold()
    return next((h for h in header if h.strip().casefold() == folded), None)


def _missing_source(tm: TableMapping, file: str, col: str, names: tuple[str, ...], header: tuple[str, ...]) -> MappingError:
    return MappingError(
        _("{file}: the mapping '{origin}' maps '{column}' to source column '{source}', which is not in the file.",
          file=file, origin=tm.origin, column=col, source=" / ".join(names)),
        hint=close_hint(names[0], list(header)),
    )


def _sources(tm: TableMapping, col: str, header: tuple[str, ...], file: str, warnings: list[str]) -> tuple[str, ...]:
    wanted = tm.columns.get(col)
    if wanted is None:
        found = find_column(header, col)
        return (found,) if found else ()
    found = tuple(h for h in (find_column(header, n) for n in wanted) if h)
    if not found and tm.strict:
        raise _missing_source(tm, file, col, wanted, header)
    if len(found) < len(wanted) and not tm.strict:
        absent = [n for n in wanted if not find_column(header, n)]
        if not found:
            warnings.append(_("Column '{source}' is not in the file; '{column}' is left empty.", source=" / ".join(absent), column=col))
    return found


def _check_delimiter(header: tuple[str, ...], missing: list[str], dialect: Dialect, file: str) -> None:
    if len(header) == 1 and len(missing) >= 1 and dialect.format == "csv":
        raise FileFormatError(
            _("{file}: only one column was found with the delimiter {delimiter}, and the required columns {missing} are missing.",
              file=file, delimiter=dialect.describe_delimiter(), missing=", ".join(missing)),
            hint=_("Pass the right delimiter with --delimiter (e.g. --delimiter ';' or --delimiter tab)."),
        )


def _keep(tm: TableMapping, header: tuple[str, ...], file: str, warnings: list[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for name, accepted in tm.keep.items():
        found = find_column(header, name)
        if found:
            out[found] = accepted
        elif tm.strict:
            raise _missing_source(tm, file, "keep", (name,), header)
        else:
            warnings.append(_("Column '{source}' is not in the file; its row filter is not applied.", source=name))
    return out


def _stages(tm: TableMapping, header: tuple[str, ...], stages: tuple[str, ...], file: str, warnings: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    out = []
    for stage, names in tm.stages.items():
        if stage not in stages:
            raise MappingError(_("The mapping '{origin}' names the stage '{stage}', which is not a stage of this workspace.", origin=tm.origin, stage=stage),
                               hint=close_hint(stage, list(stages)))
        found = tuple(h for h in (find_column(header, n) for n in names) if h)
        if found:
            out.append((stage, found))
        elif tm.strict:
            raise _missing_source(tm, file, f"stages.{stage}", names, header)
        else:
            warnings.append(_("Column '{source}' is not in the file; no '{stage}' events are read from it.", source=" / ".join(names), stage=stage))
    return tuple(out)


def resolve(tm: TableMapping, header: tuple[str, ...], dialect: Dialect, *, file: str, stages: tuple[str, ...], date_format: tuple[str, ...] = ()) -> Plan:
    """Match ``tm`` to the file's ``header``; raises on missing required columns."""
    schema = tm.schema
    warnings: list[str] = []
    unpivot = _stages(tm, header, stages, file, warnings) if tm.stages else ()
    derived = {"stage", "at"} if tm.stages else set()
    if tm.stages and not unpivot:
        raise MissingColumnError(_("{file}: none of the stage date columns of the mapping is in the file.", file=file),
                                 hint=_("The file has the columns: {columns}.", columns=", ".join(header)))
    plans, missing = [], []
    for col in schema.columns:
        allowed = col.allowed or (stages if (tm.table, col.name) == ("stage_events", "stage") else None)
        if col.name in derived:
            plans.append(ColumnPlan(col.name, col.dtype, col.required, allowed=allowed))
            continue
        constant = tm.constants.get(col.name)
        srcs = () if constant is not None else _sources(tm, col.name, header, file, warnings)
        when = tm.when.get(col.name)
        if when is not None:
            when = find_column(header, when) or (None if not tm.strict else _raise(_missing_source(tm, file, f"when.{col.name}", (when,), header)))
        plan = ColumnPlan(col.name, col.dtype, col.required, srcs, constant, tm.values.get(col.name, {}),
                          date_format or tm.formats_for(col.name), when, allowed)
        if plan.empty and col.required:
            missing.append(col.name)
        plans.append(plan)
    if missing:
        _check_delimiter(header, missing, dialect, file)
        raise MissingColumnError(
            _("{file}: required column(s) {missing} not found for table '{table}'.", file=file, missing=", ".join(missing), table=tm.table),
            hint=_("The file has the columns: {columns}. Map them with --mapping FILE.yaml or a --preset.", columns=", ".join(header)),
        )
    used = {s for p in plans for s in p.sources} | {p.when for p in plans if p.when} | {s for _st, ss in unpivot for s in ss}
    unused = tuple(h for h in header if h not in used)
    return Plan(tm.table, schema.key, tuple(plans), _keep(tm, header, file, warnings), unpivot, tuple(warnings), unused)


def _raise(exc: Exception) -> None:
    raise exc
