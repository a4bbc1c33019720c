"""Ingest benchmark: `import_file` against DuckDB's raw `read_csv` on the same big CSV.

    .venv/bin/python benchmarks/ingest.py              # 10 million rows
    .venv/bin/python benchmarks/ingest.py --rows 1000000

Generates (or reuses) ``benchmarks/_data/touches_<rows>.csv`` (UTF-8, comma, naive ISO
timestamps, 8 canonical columns), then runs in separate subprocesses, one after the other:

- floor: ``CREATE TABLE t AS SELECT * FROM read_csv(file)`` into a fresh DuckDB file;
- levier: ``import_file(ws, file, "touches")`` into a fresh workspace (every value converted,
  checked, keyed upsert, one transaction).

Each child reports its wall time and its own peak RSS (``ru_maxrss``). Targets: levier at least
half the floor's rows/s; peak RSS under 2 GB. Results replace the "## Ingest" section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
RESULTS = HERE / "RESULTS.md"

FLOOR = """
import duckdb, json, resource, sys, time
path, db = sys.argv[1], sys.argv[2]
con = duckdb.connect(db)
t0 = time.perf_counter()
con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}')")
n = con.execute("SELECT count(*) FROM t").fetchone()[0]
con.close()
print(json.dumps({"seconds": time.perf_counter() - t0, "rows": n, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

LEVIER = """
import json, resource, sys, time
import levier
from levier.data.ingest import import_file
path, ws_dir = sys.argv[1], sys.argv[2]
ws = levier.create_workspace(ws_dir, timezone="Europe/Paris")
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t0 = time.perf_counter()
phases = {}
def progress(phase, fraction):
    phases.setdefault(phase, time.perf_counter() - t0)
r = import_file(ws, path, "touches", progress=progress)
seconds = time.perf_counter() - t0
ws.close()
print(json.dumps({"seconds": seconds, "rows": r.rows_inserted, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "rss_before": rss0, "phases": phases}))
"""


def generate(rows: int) -> Path:
    """A touches CSV with ``rows`` rows (reused when it exists)."""
    import duckdb

    DATA.mkdir(exist_ok=True)
    path = DATA / f"touches_{rows}.csv"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    con = duckdb.connect()
    con.execute(f"""
        COPY (
          SELECT 't' || i AS touch_id,
                 'L' || (i % {max(rows // 10, 1)}) AS lead_id,
                 strftime(TIMESTAMP '2024-01-01' + to_seconds(i * 3), '%Y-%m-%d %H:%M:%S') AS at,
                 ['email', 'call', 'sms', 'social', 'meeting'][1 + i % 5] AS channel,
                 CASE WHEN i % 7 = 0 THEN 'in' ELSE 'out' END AS direction,
                 'rep' || (i % 40) AS owner,
                 ['delivered', 'opened', 'replied', 'no_answer', 'connected'][1 + (i // 5) % 5] AS outcome,
                 'c' || (i % 25) AS campaign_id
          FROM range({rows}) r(i)
        ) TO '{tmp}' (HEADER, DELIMITER ',')
    """)
    con.close()
    tmp.rename(path)
    return path


def run_child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    mem = 0
    try:
        with open("/proc/meminfo") as fh:
            mem = int(re.search(r"MemTotal:\s+(\d+)", fh.read()).group(1)) * 1024  # type: ignore[union-attr]
    except (OSError, AttributeError):
        pass
    import duckdb

    return f"{platform.machine()}, {os.cpu_count()} cores (nproc), {mem / 2**30:.1f} GiB RAM, Python {platform.python_version()}, DuckDB {duckdb.__version__}"


def write_results(section: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n## Ingest\n\n_Not run yet._\n"
    pattern = re.compile(r"## Ingest\n.*?(?=\n## |\Z)", re.S)
    text = pattern.sub(lambda _m: section.rstrip() + "\n", text, count=1) if pattern.search(text) else text.rstrip() + "\n\n" + section
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--no-write", action="store_true", help="print only; do not update RESULTS.md")
    args = parser.parse_args()
    path = generate(args.rows)
    size = path.stat().st_size
    with tempfile.TemporaryDirectory(prefix="levier-bench-", dir=DATA) as tmp:
        floor = run_child(FLOOR, str(path), str(Path(tmp) / "floor.duckdb"))
        lev = run_child(LEVIER, str(path), str(Path(tmp) / "ws"))
        shutil.rmtree(Path(tmp) / "ws", ignore_errors=True)
    f_rate, l_rate = floor["rows"] / floor["seconds"], lev["rows"] / lev["seconds"]
    ratio = l_rate / f_rate
    gb = 2**30
    verdict_speed = "met" if ratio >= 0.5 else f"MISSED (needs {0.5 / ratio:.2f}× faster)"
    verdict_rss = "met" if lev["rss"] < 2 * gb else f"MISSED by {(lev['rss'] - 2 * gb) / gb:.2f} GiB"
    phases = lev.get("phases", {})
    phase_text = ", ".join(f"{k} from {v:.1f}s" for k, v in phases.items())
    section = f"""## Ingest

`benchmarks/ingest.py --rows {args.rows}` — {dt.date.today().isoformat()} — {machine()}.
File: {args.rows:,} touches rows, {size / 2**20:,.0f} MiB CSV (UTF-8, comma, naive ISO timestamps).
Each run is a fresh subprocess; RSS is the child's own peak (`ru_maxrss`).

| run | seconds | rows/s | peak RSS |
|---|---:|---:|---:|
| DuckDB `read_csv` → table (floor) | {floor['seconds']:.1f} | {f_rate:,.0f} | {floor['rss'] / gb:.2f} GiB |
| levier `import_file` (convert + check + upsert) | {lev['seconds']:.1f} | {l_rate:,.0f} | {lev['rss'] / gb:.2f} GiB |

Ratio levier / floor: **{ratio:.2f}** (target ≥ 0.5: {verdict_speed}). Peak RSS target < 2 GiB: {verdict_rss}.
Phase start times of the import: {phase_text}.
"""
    print(section)
    if not args.no_write:
        write_results(section)


if __name__ == "__main__":
    main()
