"""Open or create a workspace: config file + facts engine + loop database."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import sqlalchemy as sa

from levier.config import CONFIG_FILE, WorkspaceConfig, load_config, write_config
from levier.data.facts import Facts, connect_facts
from levier.data.schema import TABLE_NAMES
from levier.errors import (
    ConfigError,
    EngineError,
    FactsReadOnlyError,
    WorkspaceExistsError,
    WorkspaceNotFoundError,
)
from levier.i18n import gettext as _

__all__ = ["Workspace", "create_workspace", "open_workspace", "find_workspace"]


def _resolve_db_url(url: str, base: Path) -> str:
    """Make a relative ``sqlite:///file`` URL relative to the workspace directory."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rest = url[len("sqlite:///"):]
        if rest and rest != ":memory:":
            return f"sqlite:///{(base / rest).resolve()}"
    return url


@dataclass
class Workspace:
    """An opened workspace. Use :func:`open_workspace` or :func:`create_workspace`."""

    path: Path
    config: WorkspaceConfig
    facts: Facts
    _engine: sa.Engine | None = field(default=None, repr=False)
    read_only: bool = False

    @property
    def facts_writable(self) -> bool:
        """Whether this process may write the facts (False when opened read-only)."""
        return not self.read_only

    # -- facts ---------------------------------------------------------------------------
    def table(self, name: str, cleaned: bool = True) -> ir.Table:
        """Canonical table ``name`` as an Ibis expression (cleaned view by default)."""
        return self.facts.table(name, cleaned=cleaned)

    @property
    def tables(self) -> dict[str, ir.Table]:
        """Every canonical table (cleaned view) as an Ibis expression."""
        return {name: self.table(name) for name in TABLE_NAMES}

    # -- loop ----------------------------------------------------------------------------
    @property
    def db_url(self) -> str:
        return _resolve_db_url(self.config.db_url, self.path)

    @cached_property
    def engine(self) -> sa.Engine:
        """SQLAlchemy engine of the loop database (SQLite: foreign keys on, busy timeout)."""
        from levier.loop.db import make_engine

        return make_engine(self.db_url)

    def session(self) -> Any:
        """A new SQLAlchemy ``Session`` on the loop database (use as a context manager)."""
        from levier.loop.db import make_sessionmaker

        return make_sessionmaker(self.engine)()

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
        disconnect = getattr(self.facts.con, "disconnect", None)
        if callable(disconnect):
            disconnect()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _init_loop_db(url: str) -> None:
    """Create or upgrade the loop database at ``url`` to the newest schema (Alembic; rows kept)."""
    from levier.loop.db import migrate

    migrate(url)


def find_workspace(path: str | Path | None = None) -> Path:
    """The workspace directory: ``path`` or the current directory (must hold levier.toml)."""
    base = Path(path) if path else Path.cwd()
    if not (base / CONFIG_FILE).is_file():
        raise WorkspaceNotFoundError(
            _("No Levier workspace in '{path}' (no {file}).", path=base, file=CONFIG_FILE),
            hint=_("Create one with `levier init DIR`, or pass --workspace DIR / set LEVIER_WORKSPACE."),
        )
    return base.resolve()


_WRITES = ("insert", "upsert", "create_table", "create_view", "drop_table", "drop_view", "truncate_table",
           "rename_table", "create_database", "drop_database")


def _refuse_writes(con: Any, url: str) -> None:
    """Replace the write methods of this one backend object by a clear :class:`FactsReadOnlyError`.

    Temporary tables and views stay allowed: they live in the connection, not in the facts, and
    the analyses use them (``Table.cache()`` materialises an intermediate result as a temporary
    table and drops it afterwards). Only the temporary objects this process created may be dropped.
    """
    temp: set[str] = set()

    def refuse(method: str) -> Any:
        original = getattr(con, method)

        def write(*args: Any, **kwargs: Any) -> Any:
            name = kwargs.get("name", args[0] if args else None)
            if method in ("create_table", "create_view") and kwargs.get("temp"):
                out = original(*args, **kwargs)
                temp.add(str(name))
                return out
            if method in ("drop_table", "drop_view") and name in temp:
                temp.discard(str(name))
                return original(*args, **kwargs)
            raise FactsReadOnlyError(
                _("The facts ({url}) are open read-only in this process: '{method}' cannot write them.", url=url, method=method),
                hint=_("Request writes go through levier.data.inbox.append_facts; apply queued rows with `levier facts flush`."),
            )
        return write

    for method in _WRITES:
        if hasattr(con, method):
            setattr(con, method, refuse(method))


def _connect(config: WorkspaceConfig, base: Path, read_only: bool) -> Any:
    """The facts connection; read-only on a DuckDB file, unless this process already has it open read-write."""
    try:
        return connect_facts(config.facts_url, base, memory_limit=config.memory_limit, read_only=read_only)
    except EngineError as exc:
        if not (read_only and "different configuration" in str(exc)):
            raise
        # DuckDB shares one database instance per file and process: reuse it; the write guards still apply
        return connect_facts(config.facts_url, base, memory_limit=config.memory_limit)


def open_workspace(path: str | Path | None = None, *, read_only: bool = False) -> Workspace:
    """Open the workspace at ``path`` (default: current directory).

    ``read_only=True`` opens the facts without writing them: a DuckDB file is opened read-only
    (so several processes can share it), no table is created, and every write method of
    ``ws.facts.con`` raises :class:`~levier.errors.FactsReadOnlyError`. Facts rows a request
    must add go through :func:`levier.data.inbox.append_facts`, which queues them in the loop DB.
    """
    base = find_workspace(path)
    config = load_config(base / CONFIG_FILE)
    con = _connect(config, base, read_only)
    facts = Facts(con, config.facts_url)
    if read_only:
        _refuse_writes(con, config.facts_url)
    else:
        facts.ensure_schema()
    _init_loop_db(_resolve_db_url(config.db_url, base))
    return Workspace(path=base, config=config, facts=facts, read_only=read_only)


def create_workspace(
    path: str | Path,
    *,
    facts_url: str | None = None,
    db_url: str | None = None,
    timezone: str | None = None,
    language: str | None = None,
    name: str | None = None,
) -> Workspace:
    """Create a workspace in ``path`` (created if missing; must not hold one already)."""
    base = Path(path)
    if (base / CONFIG_FILE).exists():
        raise WorkspaceExistsError(
            _("'{path}' already holds a Levier workspace.", path=base), hint=_("Choose another directory or open this one.")
        )
    base.mkdir(parents=True, exist_ok=True)
    values = {"facts_url": facts_url, "db_url": db_url, "timezone": timezone, "language": language, "name": name or base.resolve().name}
    try:
        config = WorkspaceConfig(**{k: v for k, v in values.items() if v})
    except Exception as exc:
        raise ConfigError(_("Invalid workspace setting: {problem}", problem=exc)) from None
    write_config(base / CONFIG_FILE, config)
    try:
        _init_loop_db(_resolve_db_url(config.db_url, base.resolve()))
        ws = open_workspace(base)
    except Exception:
        (base / CONFIG_FILE).unlink(missing_ok=True)
        raise
    return ws
