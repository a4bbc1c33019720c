"""Settings: the workspace file ``levier.toml`` plus ``LEVIER_*`` environment overrides.

Precedence (highest first): explicit arguments, environment variables
(``LEVIER_FACTS_URL``, ``LEVIER_DB_URL``, ``LEVIER_LANG``, ``LEVIER_TIMEZONE``),
the workspace's ``levier.toml``, the embedded defaults below.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from levier.data.schema import DEFAULT_STAGES
from levier.errors import ConfigError
from levier.i18n import gettext as _

__all__ = ["WorkspaceConfig", "EnvSettings", "CONFIG_FILE", "load_config", "write_config", "SETTINGS_DOC"]

CONFIG_FILE = "levier.toml"
FACTS_FILE = "facts.duckdb"
LOOP_FILE = "loop.sqlite"

#: Every setting, documented once (a test checks docs/configuration.md lists them all).
SETTINGS_DOC: dict[str, str] = {
    "name": "Workspace name shown in reports.",
    "timezone": "Default IANA time zone for naive timestamps at import (e.g. Europe/Paris).",
    "language": "Default language of outputs: fr or en.",
    "facts_url": "Facts engine: any Ibis backend URL (duckdb:///path, pyspark://local[2], postgres://…). Env: LEVIER_FACTS_URL.",
    "db_url": "Loop database: any SQLAlchemy URL (sqlite:///path, postgresql+psycopg://…). Env: LEVIER_DB_URL.",
    "stages": "Ordered funnel stages of the workspace.",
    "near_duplicate_seconds": "Two touches of the same lead and channel closer than this are near duplicates.",
    "memory_limit": "Memory cap of the embedded DuckDB engine (it spills to disk beyond it), e.g. 2GB. Env: LEVIER_MEMORY_LIMIT.",
}


class WorkspaceConfig(BaseModel):
    """The content of ``levier.toml`` (paths in URLs may be relative to the workspace)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "levier"
    timezone: str = "Europe/Paris"
    language: str = "fr"
    facts_url: str = f"duckdb:///{FACTS_FILE}"
    db_url: str = f"sqlite:///{LOOP_FILE}"
    stages: tuple[str, ...] = Field(default=DEFAULT_STAGES)
    near_duplicate_seconds: int = 60
    memory_limit: str = "2GB"

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, v: str) -> str:
        import re

        if not re.fullmatch(r"\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*", v, re.IGNORECASE):
            raise ValueError(f"memory_limit '{v}' is not a size such as 2GB or 512MB")
        return v.strip()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone '{v}' (e.g. Europe/Paris, UTC)") from None
        return v

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str) -> str:
        if v not in ("fr", "en"):
            raise ValueError("language must be 'fr' or 'en'")
        return v


class EnvSettings(BaseSettings):
    """Environment overrides (``LEVIER_*``)."""

    model_config = SettingsConfigDict(env_prefix="LEVIER_", extra="ignore")

    facts_url: str | None = None
    db_url: str | None = None
    lang: str | None = None
    timezone: str | None = None
    memory_limit: str | None = None


def _toml_value(v: object) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return str(v)


def write_config(path: Path, config: WorkspaceConfig) -> None:
    lines = ["# Levier workspace settings (see docs/configuration.md).", "[workspace]"]
    for key, value in config.model_dump().items():
        lines.append(f"{key} = {_toml_value(value)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_config(path: Path) -> WorkspaceConfig:
    """Read ``levier.toml`` at ``path`` and apply environment overrides."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")).get("workspace", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            _("{path}: not valid TOML ({problem}).", path=path, problem=exc),
            hint=_("Fix the file or run `levier init` again in a new directory."),
        ) from None
    env = EnvSettings()
    overrides = {"facts_url": env.facts_url, "db_url": env.db_url, "language": env.lang, "timezone": env.timezone, "memory_limit": env.memory_limit}
    data.update({k: v for k, v in overrides.items() if v})
    try:
        return WorkspaceConfig(**data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigError(_("{path}: invalid setting — {problems}.", path=path, problems=problems)) from None
