"""The benchmark suite runner cannot rot: ``run_all.py --quick --no-write`` runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_run_all_quick_smoke(tmp_path: Path) -> None:
    results = ROOT / "benchmarks" / "RESULTS.md"
    before = results.read_text(encoding="utf-8") if results.exists() else None
    env = dict(os.environ, LEVIER_BENCH_DATA=str(tmp_path / "data"))
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--quick", "--no-write"],
                         capture_output=True, text=True, env=env, timeout=900, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    assert "## Suite" in text and "## Growth" in text
    for name in ("ingest", "audit", "attribution", "experiments"):  # ran at the tiny size, levier side measured
        row = next(ln for ln in text.splitlines() if ln.startswith(f"| {name} | quick |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[3]) > 0 and cells[4].endswith("GiB") and cells[-1] == "ok", row
    for name in ("policy", "web"):  # need big inputs: only their command line is checked
        assert f"| {name} | – |" in text and "ok (--help only)" in text
    assert (tmp_path / "data" / "touches_5000.csv").exists()
    after = results.read_text(encoding="utf-8") if results.exists() else None
    assert after == before  # --no-write: nothing recorded
