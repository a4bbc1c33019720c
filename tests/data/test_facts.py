"""Facts connections: read-only DuckDB processes spill into directories of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from levier.workspace import create_workspace, open_workspace

SPILL = "SELECT current_setting('temp_directory')"
OTHER = """
import sys
from levier.workspace import open_workspace
ws = open_workspace(sys.argv[1], read_only=True)
print(ws.facts.con.raw_sql("SELECT current_setting('temp_directory')").fetchone()[0])
"""


def test_read_only_processes_spill_into_their_own_directory(tmp_path: Path) -> None:
    """Two workers opening one file read-only must not share spill files (same names: corrupt reads)."""
    create_workspace(tmp_path / "ws").close()
    ws = open_workspace(tmp_path / "ws", read_only=True)
    try:
        mine = Path(ws.facts.con.raw_sql(SPILL).fetchone()[0])
        other = subprocess.run([sys.executable, "-c", OTHER, str(tmp_path / "ws")], capture_output=True, text=True, check=True,
                               env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        theirs = Path(other.stdout.strip().splitlines()[-1])
        assert mine != theirs and mine.parent == theirs.parent == tmp_path / "ws" / "facts.duckdb.tmp"
        assert mine.name.startswith(f"ro-{os.getpid()}-") and mine.is_dir()
        assert not theirs.exists()  # removed when that process ended
        assert ws.table("touches").count().execute() == 0
    finally:
        ws.close()
