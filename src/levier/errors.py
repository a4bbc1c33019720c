"""The Levier exception tree.

Every error a user can cause derives from :class:`LevierError`. The CLI prints
``Error: <message>`` and exits 1 for these; anything else is a bug and keeps its
traceback. Each leaf carries a one-line docstring saying when it is raised.

Messages name what is wrong (file, row, column, field, option) and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "LevierError",
    "ConfigError",
    "WorkspaceError",
    "WorkspaceExistsError",
    "WorkspaceNotFoundError",
    "EngineError",
    "DataError",
    "SchemaError",
    "IngestError",
    "FileFormatError",
    "MappingError",
    "PresetError",
    "ValidationFailed",
    "AnalysisError",
    "OptionError",
    "MissingColumnError",
    "DuplicateKeyError",
    "ValueParseError",
    "UnknownValueError",
    "FactsReadOnlyError",
    "FactsPartialWriteError",
]


class LevierError(Exception):
    """Root of every error a user can cause; the CLI shows its message without a traceback."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class ConfigError(LevierError):
    """A setting (config file, environment variable, option) is invalid."""


class OptionError(LevierError):
    """A command-line option or API argument has an invalid value."""


class WorkspaceError(LevierError):
    """The workspace cannot be opened or created."""


class WorkspaceExistsError(WorkspaceError):
    """`levier init` was pointed at a directory that already holds a workspace."""


class WorkspaceNotFoundError(WorkspaceError):
    """No workspace was found at the given path (no levier.toml)."""


class EngineError(LevierError):
    """The facts engine (an Ibis backend) could not be reached or refused a query."""


class DataError(LevierError):
    """Input data is unusable; subclasses say why."""


class SchemaError(DataError):
    """A table or column is unknown to the canonical model, or a value has the wrong type."""


class IngestError(DataError):
    """An import failed; nothing was written to the workspace."""


class FileFormatError(IngestError):
    """A file is empty, truncated, binary or in a format Levier cannot read."""


class MappingError(IngestError):
    """A column mapping (YAML file or preset) is malformed or names unknown columns."""


class PresetError(MappingError):
    """The requested import preset does not exist."""


class ValidationFailed(DataError):
    """Validation found blocking errors; the report lists them with file, row and column."""

    def __init__(self, message: str, *, report: object | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report


class AnalysisError(LevierError):
    """An analysis cannot run with the given options or data (e.g. an empty period)."""


class MissingColumnError(IngestError):
    """A required column is absent from the imported file (the message lists the file's columns)."""


class DuplicateKeyError(IngestError):
    """The imported file holds the same key twice (the message gives the key and both rows)."""


class ValueParseError(IngestError):
    """Dates, numbers or booleans of the imported file cannot be read (file, row, column, value)."""


class UnknownValueError(IngestError):
    """An enumerated column of the imported file holds a value outside the allowed list."""


class NotFoundError(LevierError):
    """A loop record (cycle, retro, action, user …) with the given id or key does not exist."""


class ConflictError(LevierError):
    """The request conflicts with existing loop data (duplicate name, wrong state transition)."""


class RuleError(LevierError):
    """A rule of the Retro ROI loop refuses the change (e.g. an action needs exactly one owner)."""


class AuthError(LevierError):
    """No valid credentials (session cookie, API token, user name and password) were given."""


class PermissionDeniedError(LevierError):
    """The authenticated user's role does not allow this operation."""


class CsrfError(PermissionDeniedError):
    """A form or cookie-authenticated request came without a valid CSRF token."""


class ServiceUnavailableError(LevierError):
    """A component the request needs (e.g. the audit analysis) is not installed or not reachable."""


class FormulaError(OptionError):
    """A user-defined KPI formula cannot be parsed or names an unknown table, column or function."""


class PolicyError(ConfigError):
    """The contact policy (YAML rules) is invalid; the message names the field path."""


class FactsReadOnlyError(ServiceUnavailableError):
    """A facts write was attempted on a workspace opened read-only (e.g. one of several web workers)."""


class FactsPartialWriteError(ConflictError):
    """A batch of queued facts rows is only partly in the facts (an interrupted engine write); it needs a person."""
