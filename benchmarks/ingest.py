"""Ingest benchmark: `import_file` against DuckDB's raw `read_csv` on the same big CSV.

    .venv/bin/python benchmarks/ingest.py              # 10 million rows
    .venv/bin/python benchmarks/ingest.py --rows 1000000 10000000 [--json out.json] [--no-write]

Generates (or reuses) ``benchmarks/_data/touches_<rows>.csv`` (UTF-8, comma, naive ISO
timestamps, 8 canonical columns), then runs in separate subprocesses, one after the other:

- floor: ``CREATE TABLE t AS SELECT * FROM read_csv(file)`` into a fresh DuckDB file;
- levier: ``import_file(ws, file, "touches")`` into a fresh workspace (every value converted,
  checked, keyed upsert, one transaction).

Each child reports its wall time and its own peak RSS (``ru_maxrss``). Targets: levier at least
half the floor's rows/s; peak RSS under 2 GB. Results: the "ingest" fragment
(``_results.write_section``), one row per size; ``--json`` also writes them for ``run_all.py``.
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
sys.path.insert(0, str(HERE))
from _results import emit, output_args  # noqa: E402

DATA = Path(os.environ.get("LEVIER_BENCH_DATA", HERE / "_data"))

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

    DATA.mkdir(parents=True, exist_ok=True)
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


def bench(rows: int) -> dict:
    """Floor then levier on a ``rows``-row CSV, each in a fresh subprocess."""
    path = generate(rows)
    with tempfile.TemporaryDirectory(prefix="levier-bench-", dir=DATA) as tmp:
        load = os.getloadavg()[0]
        floor = run_child(FLOOR, str(path), str(Path(tmp) / "floor.duckdb"))
        lev = run_child(LEVIER, str(path), str(Path(tmp) / "ws"))
        shutil.rmtree(Path(tmp) / "ws", ignore_errors=True)
    ratio = (lev["rows"] / lev["seconds"]) / (floor["rows"] / floor["seconds"])
    return {"rows": rows, "touches": rows, "mib": path.stat().st_size / 2**20, "load": load,
            "levier_s": lev["seconds"], "levier_rss": lev["rss"], "levier_rows": lev["rows"],
            "peer": "DuckDB read_csv (floor)", "peer_s": floor["seconds"], "peer_rss": floor["rss"],
            "ratio": ratio, "phases": lev.get("phases", {})}


def section(runs: list[dict], argv: str) -> str:
    gb = 2**30
    lines = ["## Ingest", "",
             f"`benchmarks/ingest.py {argv}` — {dt.date.today().isoformat()} — {machine()}.",
             "Files: touches CSVs (UTF-8, comma, naive ISO timestamps, 8 canonical columns), generated once and reused.",
             "Each run is a fresh subprocess, floor then levier back to back; RSS is the child's own peak (`ru_maxrss`).", "",
             "| rows | CSV | floor s (DuckDB `read_csv` → table) | floor rows/s | floor peak RSS | levier s (`import_file`) | levier rows/s | levier peak RSS | levier / floor rows/s | load avg |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(f"| {r['rows']:,} | {r['mib']:,.0f} MiB | {r['peer_s']:.1f} | {r['rows'] / r['peer_s']:,.0f} | {r['peer_rss'] / gb:.2f} GiB "
                     f"| {r['levier_s']:.1f} | {r['levier_rows'] / r['levier_s']:,.0f} | {r['levier_rss'] / gb:.2f} GiB | **{r['ratio']:.2f}** | {r['load']:.1f} |")
    big = runs[-1]
    speed = "met" if big["ratio"] >= 0.5 else f"MISSED (needs {0.5 / big['ratio']:.2f}× faster)"
    rss = "met" if big["levier_rss"] < 2 * gb else f"MISSED by {(big['levier_rss'] - 2 * gb) / gb:.2f} GiB"
    phases = ", ".join(f"{k} from {v:.1f}s" for k, v in big["phases"].items())
    lines += ["", f"At {big['rows']:,} rows: ratio target ≥ 0.5 {speed}; peak RSS target < 2 GiB {rss}.",
              f"Phase start times of that import: {phases}.",
              "The import caps DuckDB at 1 GB (`IMPORT_MEMORY_LIMIT`; staging spills to disk beyond), so its peak RSS "
              "stays bounded as files grow (see docs/decisions/0010). Load avg = 1-minute load average of the 2 shared "
              "cores when the size started.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000_000], help="one or more file sizes (rows)")
    args = output_args(parser).parse_args()
    runs = []
    for rows in args.rows:
        runs.append(bench(rows))
        print(json.dumps({k: v for k, v in runs[-1].items() if k != "phases"}), flush=True)
    emit(args, "ingest", section(runs, "--rows " + " ".join(str(r) for r in args.rows)), runs)


if __name__ == "__main__":
    main()
