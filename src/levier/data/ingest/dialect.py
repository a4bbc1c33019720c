"""What a file is and how to read it: format, encoding, delimiter, decimal mark, header.

Detection reads only the first bytes of the file (``SAMPLE_BYTES``). Every guess can be
overridden (``--encoding``, ``--delimiter``, ``--decimal``). Non-UTF-8 text is transcoded to a
temporary UTF-8 file in chunks, so memory stays flat whatever the file size.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from levier.errors import FileFormatError, OptionError
from levier.i18n import gettext as _

__all__ = ["Dialect", "detect_format", "sniff_csv", "transcode", "DELIMITERS", "ENCODINGS"]

SAMPLE_BYTES = 256 * 1024
CHUNK_BYTES = 4 * 1024 * 1024
DELIMITERS = (",", ";", "\t")
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16")
_DELIM_NAMES = {",": "comma (,)", ";": "semicolon (;)", "\t": "tab", "|": "pipe (|)"}
_COMMA_NUMBER = re.compile(r"^[+-]?\d{1,3}(?:[ .\u00a0\u202f]?\d{3})*,\d+(?:[eE][+-]?\d+)?$")
_DOT_NUMBER = re.compile(r"^[+-]?\d+\.\d+(?:[eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Dialect:
    """How a file was read (detected or given)."""

    format: str  # csv | xlsx | parquet
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str = "."
    header: tuple[str, ...] = ()
    detected: tuple[str, ...] = ()  # which fields were detected rather than given
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "decimal": self.decimal,
            "columns": list(self.header),
            "detected": list(self.detected),
        }

    def describe_delimiter(self) -> str:
        return _DELIM_NAMES.get(self.delimiter or ",", repr(self.delimiter))


def detect_format(path: Path) -> str:
    """csv, xlsx or parquet, from the magic bytes first and the extension second."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except FileNotFoundError:
        raise FileFormatError(_("File '{path}' not found.", path=str(path))) from None
    except IsADirectoryError:
        raise FileFormatError(_("'{path}' is a directory, not a file.", path=str(path))) from None
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileFormatError(
            _("{file}: this is an old Excel .xls file, which Levier cannot read.", file=path.name),
            hint=_("Save it as .xlsx or CSV (UTF-8) from Excel and import that."),
        )
    return "csv"


def _normalise_encoding(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    aliases = {"utf8": "utf-8", "utf-8-bom": "utf-8-sig", "utf8-sig": "utf-8-sig", "latin1": "latin-1",
               "iso-8859-1": "latin-1", "windows-1252": "cp1252", "utf16": "utf-16"}
    key = aliases.get(key, key)
    try:
        codecs.lookup(key)
    except LookupError:
        raise OptionError(_("Unknown encoding '{name}'.", name=name), hint=_("Use one of: {valid}.", valid=", ".join(ENCODINGS))) from None
    return key


def _guess_encoding(raw: bytes, path: Path) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    nul = raw.find(b"\x00")
    controls = sum(1 for b in raw[:65536] if b < 32 and b not in (9, 10, 12, 13))
    if nul >= 0 or controls > max(8, len(raw[:65536]) // 100):
        where = nul if nul >= 0 else 0
        raise FileFormatError(
            _("{file}: this is a binary file, not text (NUL or control bytes near byte {offset}).", file=path.name, offset=where),
            hint=_("Import a CSV, XLSX or Parquet file; export the data from your CRM as CSV."),
        )
    try:
        codecs.getincrementaldecoder("utf-8")().decode(raw, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        raw.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _sample_rows(text: str, delimiter: str, complete: bool) -> list[list[str]]:
    lines = text.splitlines(keepends=True)
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the sample may end mid-line
    try:
        return [row for row in csv.reader(io.StringIO("".join(lines[:200])), delimiter=delimiter) if row]
    except csv.Error:
        return []


def _guess_delimiter(text: str, complete: bool) -> str:
    best, best_score = ",", (0, 0)
    for delim in DELIMITERS:
        rows = _sample_rows(text, delim, complete)
        if not rows:
            continue
        width = len(rows[0])
        consistent = sum(1 for r in rows[1:] if len(r) == width)
        score = (1 if width > 1 else 0, consistent * width if width > 1 else 0)
        if score > best_score:
            best, best_score = delim, score
    return best


def _guess_decimal(rows: list[list[str]], delimiter: str) -> str:
    if delimiter == ",":
        return "."
    comma = dot = 0
    for row in rows[1:]:
        for value in row:
            v = value.strip()
            comma += bool(_COMMA_NUMBER.match(v))
            dot += bool(_DOT_NUMBER.match(v))
    return "," if comma > dot else "."


def clean_header(names: list[str]) -> tuple[tuple[str, ...], list[str]]:
    """Header names made unique and non-empty, plus warnings about what was changed."""
    out: list[str] = []
    notes: list[str] = []
    for i, name in enumerate(names):
        n = name.replace("\ufeff", "").strip() or f"column{i + 1}"
        base, k = n, 2
        while n in out:
            n, k = f"{base}_{k}", k + 1
        if n != base:
            notes.append(_("Column '{name}' appears more than once; the copy at position {pos} is read as '{new}'.", name=base, pos=i + 1, new=n))
        out.append(n)
    return tuple(out), notes


def sniff_csv(path: Path, *, delimiter: str | None = None, encoding: str | None = None, decimal: str | None = None) -> Dialect:
    """Detect the encoding, delimiter, decimal mark and header of the CSV file ``path``."""
    with path.open("rb") as fh:
        raw = fh.read(SAMPLE_BYTES)
        complete = not fh.read(1)
    if not raw.replace(codecs.BOM_UTF8, b"").strip():
        raise FileFormatError(_("{file} is empty.", file=path.name), hint=_("Export the data again; the file holds no header and no rows."))
    detected: list[str] = []
    if encoding:
        enc = _normalise_encoding(encoding)
    else:
        enc = _guess_encoding(raw, path)
        detected.append("encoding")
    text = codecs.getincrementaldecoder(enc)(errors="replace").decode(raw, final=complete)
    text = text.lstrip("\ufeff")
    if delimiter is None:
        delim = _guess_delimiter(text, complete)
        detected.append("delimiter")
    else:
        delim = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}.get(delimiter, delimiter)
        if len(delim) != 1:
            raise OptionError(_("--delimiter must be one character (or 'tab'), not '{value}'.", value=delimiter))
    rows = _sample_rows(text, delim, complete)
    if not rows:
        raise FileFormatError(_("{file} is empty.", file=path.name))
    if decimal is None:
        dec = _guess_decimal(rows, delim)
        detected.append("decimal")
    elif decimal in (".", ","):
        dec = decimal
    else:
        raise OptionError(_("--decimal must be '.' or ',', not '{value}'.", value=decimal))
    header, notes = clean_header(rows[0])
    return Dialect("csv", enc, delim, dec, header, tuple(detected), tuple(notes))


def transcode(src: Path, dest: Path, encoding: str, progress: Callable[[float], None] | None = None) -> None:
    """Copy ``src`` (in ``encoding``) to ``dest`` as UTF-8, in chunks; UnicodeDecodeError if it does not decode."""
    total = max(src.stat().st_size, 1)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    done = 0
    with src.open("rb") as fin, dest.open("w", encoding="utf-8", newline="") as fout:
        first = True
        while chunk := fin.read(CHUNK_BYTES):
            text = decoder.decode(chunk)
            if first:
                text, first = text.lstrip("\ufeff"), False
            fout.write(text)
            done += len(chunk)
            if progress:
                progress(done / total)
        fout.write(decoder.decode(b"", final=True))


def with_encoding(d: Dialect, encoding: str, note: str) -> Dialect:
    return replace(d, encoding=encoding, notes=d.notes + (note,))
