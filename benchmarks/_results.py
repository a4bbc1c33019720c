"""One place that writes benchmark results.

Each benchmark owns one fragment, ``benchmarks/results/<name>.md`` (its whole ``## …`` section).
``benchmarks/RESULTS.md`` is assembled from the fragments in :data:`ORDER` (then any other
fragment, alphabetically) under a fixed header, so two benchmarks finishing at the same time
never overwrite each other's section. Writes are atomic (temporary file + rename) and serialised
by an ``fcntl`` lock on ``benchmarks/results/.lock``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

__all__ = ["ORDER", "FRAGMENTS", "RESULTS", "write_section", "assemble", "machine_line", "file_lock", "output_args", "emit"]

HERE = Path(__file__).resolve().parent
FRAGMENTS = HERE / "results"
RESULTS = HERE / "RESULTS.md"
#: the order of the sections in RESULTS.md (fragment names without ``.md``)
ORDER = ("suite", "growth", "ingest", "audit", "attribution", "experiments", "web", "policy", "kpi", "deployment")

HEADER = """# Benchmark results

Benchmarks are not tests: each script in `benchmarks/` runs its workload side by side with its
floor, baseline or peer in the same run and rewrites its own section below with the machine,
the date, medians and ratios. Run one with `.venv/bin/python benchmarks/<name>.py`, or all of
them with `make bench` (`benchmarks/run_all.py`). Each section lives in
`benchmarks/results/<name>.md`; this file is assembled from them (`benchmarks/_results.py`).
"""


def machine_line() -> str:
    """``x86_64, 2 cores, 23.5 GiB RAM, Python 3.11.7`` for the machine running the benchmark."""
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        mem_text = f", {mem:.1f} GiB RAM"
    except (ValueError, OSError):
        mem_text = ""
    return f"{platform.machine()}, {os.cpu_count()} cores{mem_text}, Python {platform.python_version()}"


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``fcntl`` lock on ``path`` (created if needed) for the ``with`` block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _locked() -> AbstractContextManager[None]:
    return file_lock(FRAGMENTS / ".lock")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _fragment_names() -> list[str]:
    present = sorted(p.stem for p in FRAGMENTS.glob("*.md"))
    return [n for n in ORDER if n in present] + [n for n in present if n not in ORDER]


def assemble() -> str:
    """Rebuild RESULTS.md from the fragments; returns its text."""
    with _locked():
        parts = [HEADER.rstrip("\n")]
        for name in _fragment_names():
            parts.append((FRAGMENTS / f"{name}.md").read_text(encoding="utf-8").strip("\n"))
        text = "\n\n".join(parts) + "\n"
        _atomic_write(RESULTS, text)
        return text


def write_section(name: str, text: str) -> Path:
    """Store ``text`` (a whole ``## …`` section) as fragment ``name`` and reassemble RESULTS.md."""
    if not text.lstrip().startswith("## "):
        raise ValueError(f"the section for {name!r} must start with a '## ' heading")
    with _locked():
        path = FRAGMENTS / f"{name}.md"
        _atomic_write(path, text.strip("\n") + "\n")
    assemble()
    return path


def output_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The output options every sized benchmark takes: ``--json PATH`` (for run_all.py), ``--no-write``."""
    parser.add_argument("--no-write", action="store_true", help="print only; do not update RESULTS.md")
    parser.add_argument("--json", type=Path, help="also write the measurements here (for run_all.py)")
    return parser


def emit(args: argparse.Namespace, name: str, text: str, runs: list[dict] | None = None) -> None:
    """Print section ``text``; write ``{"benchmark": name, "runs": runs}`` to ``args.json`` when given
    (``runs`` required then); store the section as fragment ``name`` unless ``args.no_write``."""
    print(text)
    if getattr(args, "json", None):
        if runs is None:
            raise ValueError(f"{name}: --json needs the runs")
        args.json.write_text(json.dumps({"benchmark": name, "runs": runs}, indent=1))
    if not getattr(args, "no_write", False):
        write_section(name, text)


if __name__ == "__main__":
    print(assemble(), end="")
