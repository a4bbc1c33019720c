"""Column mappings: how a source file's columns become canonical columns.

A mapping is YAML, the same shape for shipped presets and user files::

    tables:
      touches:
        columns:          # canonical column: source column (or a list: first non-empty wins)
          touch_id: ID
          at: [CompletedDateTime, CreatedDate]
        values:           # canonical column: {source value: canonical value} (case-insensitive)
          channel: {"1": meeting, "2": call}
        constants:        # canonical column: the same value on every row
          direction: out
        date_format: "%d/%m/%Y %H:%M"     # strptime format(s) for every date column
        date_formats: {at: "%m/%d/%Y"}    # … or per column
        when: {won: IsClosed}             # keep the value only where a source boolean is true
        keep: {COMPLETED: ["Y"]}          # import only rows whose source column has one of these
        stages: {lead: CreatedDate}       # stage_events only: one event per non-empty date column
        ignored: {Score: "why it is not imported"}   # documentation only

A user file may also give one table's keys at the top level (with an optional ``table:``).
Canonical columns absent from ``columns`` are read from a source column of the same name.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from levier.data.schema import TABLE_NAMES, Table
from levier.data.schema import table as canonical
from levier.errors import MappingError, PresetError
from levier.i18n import gettext as _

__all__ = ["TableMapping", "Mapping", "load_mapping", "load_preset", "list_presets", "parse_mapping", "close_hint"]

TABLE_KEYS = ("columns", "values", "constants", "date_format", "date_formats", "when", "keep", "stages", "ignored", "description")
TOP_KEYS = ("preset", "title", "description", "tables", "table")


def close_hint(word: str, valid: list[str] | tuple[str, ...]) -> str:
    """'Did you mean X? Valid: a, b, c.' for an unknown ``word``."""
    guess = difflib.get_close_matches(word, list(valid), n=1, cutoff=0.6)
    listed = ", ".join(valid)
    if guess:
        return _("Did you mean '{guess}'? Valid: {valid}.", guess=guess[0], valid=listed)
    return _("Valid: {valid}.", valid=listed)


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return (str(value),)


def _yaml_str(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


@dataclass(frozen=True)
class TableMapping:
    """The mapping of one canonical table (a preset entry or a user file)."""

    table: str
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    date_formats: dict[str, tuple[str, ...]] = field(default_factory=dict)
    date_format: tuple[str, ...] = ()
    when: dict[str, str] = field(default_factory=dict)
    keep: dict[str, tuple[str, ...]] = field(default_factory=dict)
    stages: dict[str, tuple[str, ...]] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)
    origin: str = "identity"
    strict: bool = True  # user mappings: a mapped source column must be in the file
    description: str = ""

    @property
    def schema(self) -> Table:
        return canonical(self.table)

    def formats_for(self, column: str) -> tuple[str, ...]:
        return self.date_formats.get(column) or self.date_format

    def signature(self) -> str:
        """A short hash of the mapping content (part of the duplicate-file check)."""
        payload = {k: v for k, v in self.__dict__.items() if k not in ("origin", "ignored", "description")}
        text = json.dumps(payload, sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "origin": self.origin,
            "columns": {k: list(v) for k, v in self.columns.items()},
            "values": self.values,
            "constants": self.constants,
            "date_formats": {k: list(v) for k, v in self.date_formats.items()},
            "date_format": list(self.date_format),
            "when": self.when,
            "keep": {k: list(v) for k, v in self.keep.items()},
            "stages": {k: list(v) for k, v in self.stages.items()},
            "ignored": self.ignored,
        }


@dataclass(frozen=True)
class Mapping:
    """A whole mapping file: one :class:`TableMapping` per table it covers."""

    name: str
    tables: dict[str, TableMapping]
    title: str = ""
    description: str = ""

    def for_table(self, table: str) -> TableMapping:
        if table not in self.tables:
            raise MappingError(
                _("The mapping '{name}' has no entry for table '{table}'.", name=self.name, table=table),
                hint=_("It maps: {tables}.", tables=", ".join(self.tables) or "-"),
            )
        return self.tables[table]


def _check_keys(where: str, given: dict[str, Any], valid: tuple[str, ...] | list[str]) -> None:
    for key in given:
        if key not in valid:
            raise MappingError(
                _("{where}: unknown key '{key}'.", where=where, key=key), hint=close_hint(str(key), list(valid))
            )


def _dict(where: str, key: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingError(_("{where}: '{key}' must be a mapping of name: value.", where=where, key=key))
    return value


def _parse_table(where: str, name: str, spec: Any, *, origin: str, strict: bool) -> TableMapping:
    if name not in TABLE_NAMES:
        raise MappingError(_("{where}: unknown table '{key}'.", where=where, key=name), hint=close_hint(name, TABLE_NAMES))
    spec = _dict(where, name, spec)
    where = f"{where} [{name}]"
    _check_keys(where, spec, TABLE_KEYS)
    cols = canonical(name).column_names
    columns = {str(k): _as_tuple(v) for k, v in _dict(where, "columns", spec.get("columns")).items()}
    values = {
        str(k): {_yaml_str(a).strip().lower(): _yaml_str(b) for a, b in _dict(where, f"values.{k}", v).items()}
        for k, v in _dict(where, "values", spec.get("values")).items()
    }
    constants = {str(k): _yaml_str(v) for k, v in _dict(where, "constants", spec.get("constants")).items()}
    date_formats = {str(k): _as_tuple(v) for k, v in _dict(where, "date_formats", spec.get("date_formats")).items()}
    when = {str(k): str(v) for k, v in _dict(where, "when", spec.get("when")).items()}
    for section, entries in (("columns", columns), ("values", values), ("constants", constants), ("date_formats", date_formats), ("when", when)):
        _check_keys(f"{where} {section}", entries, cols)
    stages = {str(k): _as_tuple(v) for k, v in _dict(where, "stages", spec.get("stages")).items()}
    if stages and name != "stage_events":
        raise MappingError(_("{where}: 'stages' is only allowed for the stage_events table.", where=where))
    keep = {str(k): tuple(x.strip().lower() for x in _as_tuple(v)) for k, v in _dict(where, "keep", spec.get("keep")).items()}
    ignored = {str(k): str(v) for k, v in _dict(where, "ignored", spec.get("ignored")).items()}
    return TableMapping(
        table=name, columns=columns, values=values, constants=constants, date_formats=date_formats,
        date_format=_as_tuple(spec.get("date_format")), when=when, keep=keep, stages=stages,
        ignored=ignored, origin=origin, strict=strict, description=str(spec.get("description") or ""),
    )


def parse_mapping(data: Any, *, name: str, strict: bool = True) -> Mapping:
    """Build a :class:`Mapping` from parsed YAML (``tables:`` form); raises :class:`MappingError`."""
    if not isinstance(data, dict) or "tables" not in data:
        raise MappingError(_("{where}: a mapping file must be a YAML mapping with a 'tables:' key.", where=name))
    _check_keys(name, data, TOP_KEYS)
    tables = {
        str(t): _parse_table(name, str(t), spec, origin=name, strict=strict)
        for t, spec in _dict(name, "tables", data["tables"]).items()
    }
    return Mapping(name=name, tables=tables, title=str(data.get("title", "")), description=str(data.get("description", "")))


def load_mapping(path: str | Path, table: str) -> TableMapping:
    """The user mapping at ``path`` for ``table`` (``tables:`` form, or one table's keys at top level)."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8-sig"))
    except (FileNotFoundError, IsADirectoryError):
        raise MappingError(_("Mapping file '{path}' not found.", path=str(p))) from None
    except yaml.YAMLError as exc:
        raise MappingError(_("Mapping file '{path}' is not valid YAML: {error}", path=str(p), error=str(exc))) from None
    if isinstance(data, dict) and "tables" not in data:
        _check_keys(p.name, data, TABLE_KEYS + ("table",))
        target = str(data.get("table") or table)
        if target != table:
            raise MappingError(
                _("Mapping file '{path}' is for table '{mapped}', not '{table}'.", path=p.name, mapped=target, table=table),
                hint=_("Use --table {mapped}, or add a 'tables:' section.", mapped=target),
            )
        return _parse_table(p.name, table, {k: v for k, v in data.items() if k != "table"}, origin=p.name, strict=True)
    return parse_mapping(data, name=p.name, strict=True).for_table(table)


def _preset_dir() -> Any:
    return resources.files("levier.data") / "presets"


def list_presets() -> tuple[str, ...]:
    """Names of the shipped presets."""
    return tuple(sorted(p.name[:-5] for p in _preset_dir().iterdir() if p.name.endswith(".yaml")))


def load_preset(name: str) -> Mapping:
    """The shipped preset ``name``; raises :class:`PresetError` listing the presets."""
    names = list_presets()
    key = name.strip().lower()
    if key not in names:
        raise PresetError(_("Unknown preset '{name}'.", name=name), hint=close_hint(key, names))
    data = yaml.safe_load((_preset_dir() / f"{key}.yaml").read_text(encoding="utf-8"))
    return parse_mapping(data, name=f"preset:{key}", strict=False)
