"""The demo workspaces the benchmarks share, one per size, built once and reused.

``demo_base(leads)`` returns ``benchmarks/_data/demo_<leads>`` (or ``$LEVIER_BENCH_DATA/…``)
holding ``data/`` (the demo generator's Parquet files, seed 7) and ``ws/`` (a DuckDB workspace
with leads, touches and stage_events loaded as import batch 1). The first caller builds it under
an ``fcntl`` lock, so two benchmarks started together never build the same size twice; later
callers reuse it. Benchmarks that write into a workspace copy ``ws/`` first (``copy_ws``).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["DATA", "demo_base", "demo_ws", "copy_ws", "row_counts"]

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import file_lock  # noqa: E402

DATA = Path(os.environ.get("LEVIER_BENCH_DATA", HERE / "_data"))
SEED = 7


def demo_base(leads: int) -> Path:
    """``_data/demo_<leads>`` with ``data/`` and ``ws/`` ready (built on first use)."""
    base = DATA / f"demo_{leads}"
    if (base / "ws" / "levier.toml").exists():
        return base
    with file_lock(DATA / f".demo_{leads}.lock"):
        if not (base / "ws" / "levier.toml").exists():
            _build(base, leads)
    return base


def demo_ws(leads: int) -> Path:
    """The shared (read-only by convention) workspace of that size."""
    return demo_base(leads) / "ws"


def copy_ws(leads: int, dest: Path, files: tuple[str, ...] = ("facts.duckdb", "levier.toml", "loop.sqlite")) -> Path:
    """A private copy of the workspace of that size in ``dest`` (for benchmarks that write)."""
    src = demo_ws(leads)
    dest.mkdir(parents=True, exist_ok=True)
    for name in files:
        if (src / name).exists():
            shutil.copy2(src / name, dest / name)
    return dest


def _build(base: Path, leads: int) -> None:
    sys.path.insert(0, str(HERE.parent / "tests" / "analysis"))
    from conftest import load_demo_parquet  # the test helper that loads the Parquet files
    from levier.data.demo import generate
    from levier.workspace import create_workspace

    print(f"building the {leads:,}-lead demo workspace in {base} (once)", file=sys.stderr, flush=True)
    if not (base / "data" / "ground_truth.json").exists():
        shutil.rmtree(base / "data", ignore_errors=True)
        generate(base / "data", leads=leads, seed=SEED)
    shutil.rmtree(base / "ws", ignore_errors=True)
    tmp = base / "ws.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    ws = create_workspace(tmp, timezone="UTC")
    load_demo_parquet(ws, base / "data")
    ws.close()
    tmp.rename(base / "ws")


def row_counts(ws_dir: Path, tables: tuple[str, ...]) -> tuple[int, ...]:
    """The rows of ``tables`` in the workspace's ``facts.duckdb`` (opened read-only, closed at once)."""
    import duckdb

    con = duckdb.connect(str(ws_dir / "facts.duckdb"), read_only=True)
    try:
        return tuple(int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables)
    finally:
        con.close()
