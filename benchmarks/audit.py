"""Audit benchmark: `run_audit` (DuckDB through Ibis) vs a straightforward pandas baseline.

    .venv/bin/python benchmarks/audit.py                    # 1M leads and 100k leads
    .venv/bin/python benchmarks/audit.py --leads 100000

For each size: generate the demo data (``levier.data.demo.generate``, seed 7; reused from
``benchmarks/_data/demo_<N>``), load leads / touches / stage_events into a DuckDB workspace, then
run in separate subprocesses, one after the other, `repeat` times each: levier = the full
``run_audit`` over all leads (``2026-07-01..2026-10-31``, segments channel × company_size,
compare to the previous period), pandas = ``benchmarks/baselines/audit_pandas.py`` on the same
Parquet files (the core figures only: a subset of the audit). Each child reports wall time and
its own peak RSS. Targets: ≥ 5× faster than pandas at 1M leads; peak RSS < 3 GB; 100k leads in
< 10 s. Results: the "audit" fragment (``_results.write_section``), one row per size;
``--json`` also writes them for ``run_all.py``; ``--no-write`` prints only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _demo import demo_base  # noqa: E402
from _results import write_section  # noqa: E402

DATA = Path(os.environ.get("LEVIER_BENCH_DATA", HERE / "_data"))
PERIOD = ("2026-07-01", "2026-11-01", "2026-07-01..2026-10-31")

LEVIER = """
import json, resource, sys, time
from levier.workspace import open_workspace
from levier.analysis import run_audit, AuditOptions
ws = open_workspace(sys.argv[1])
t0 = time.perf_counter()
r = run_audit(ws, AuditOptions(period=sys.argv[2]))
d = r.to_dict("en")
print(json.dumps({"seconds": time.perf_counter() - t0, "n": d["overall"]["n"], "r": d["overall"]["correlation"]["r"], "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

PANDAS = "BASELINE = " + repr(str(HERE / "baselines" / "audit_pandas.py")) + """
import json, resource, runpy, sys, time
sys.argv = ["audit_pandas", sys.argv[1], sys.argv[2], sys.argv[3]]
t0 = time.perf_counter()
runpy.run_path(BASELINE, run_name="__main__")
print(json.dumps({"seconds": time.perf_counter() - t0, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def prepare(leads: int) -> Path:
    return demo_base(leads)


def child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")), platform.processor())
    mem = int(next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))) / 1024**2
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GB RAM, Python {platform.python_version()}"


def bench(leads: int, repeat: int, peer_max: int) -> dict:
    base = prepare(leads)
    touches = json.loads((base / "data" / "ground_truth.json").read_text())["rows"]["touches"]
    load = os.getloadavg()[0]
    peer = leads <= peer_max
    lev, pdx = [], []
    for _ in range(repeat):  # interleaved: both sides see the same machine load
        lev.append(child(LEVIER, str(base / "ws"), PERIOD[2]))
        if peer:
            pdx.append(child(PANDAS, str(base / "data"), PERIOD[0], PERIOD[1]))
    med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
    out = {"leads": leads, "touches": touches, "load": load, "levier_s": med(lev, "seconds"), "levier_rss": max(r["rss"] for r in lev)}
    if not peer:  # the pandas baseline holds per-lead frames: ~2.6 GB per million leads would not fit in RAM
        return out | {"pandas_s": None, "pandas_rss": None, "peer": f"pandas baseline: not run above {peer_max:,} leads (~{2.6 * leads / 1e6:.0f} GB of frames)",
                      "peer_s": None, "peer_rss": None, "ratio": None}
    out |= {"pandas_s": med(pdx, "seconds"), "pandas_rss": max(r["rss"] for r in pdx)}
    return out | {"peer": "pandas baseline", "peer_s": out["pandas_s"], "peer_rss": out["pandas_rss"],
                  "ratio": out["pandas_s"] / out["levier_s"]}


def section(rows: list[dict], repeat: int) -> str:
    sizes = " ".join(str(r["leads"]) for r in rows)
    lines = ["## Audit", "", f"`benchmarks/audit.py --leads {sizes} --repeat {repeat}` — {dt.date.today()} — {machine()}; median of {repeat} run(s), each in its own subprocess (levier and pandas interleaved);",
             "levier = full `run_audit` (all leads, 9 segments, comparison period, every section);",
             "pandas = `benchmarks/baselines/audit_pandas.py` (core figures only, per-lead frames in memory).", "",
             "| leads | touches | levier s | pandas s | speed-up | levier peak RSS | pandas peak RSS | load avg |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["pandas_s"] is None:
            lines.append(f"| {r['leads']:,} | {r['touches']:,} | {r['levier_s']:.2f} | not run | – | {r['levier_rss'] / 1e9:.2f} GB | – | {r['load']:.1f} |")
            continue
        lines.append(f"| {r['leads']:,} | {r['touches']:,} | {r['levier_s']:.2f} | {r['pandas_s']:.2f} | {r['pandas_s'] / r['levier_s']:.1f}× | {r['levier_rss'] / 1e9:.2f} GB | {r['pandas_rss'] / 1e9:.2f} GB | {r['load']:.1f} |")
    lines += ["", "Targets: ≥ 5× faster than pandas at 1M leads; peak RSS < 3 GB; 100k leads < 10 s.",
              "The workspace caps DuckDB at 2 GB (`memory_limit`), so levier's peak RSS is bounded while pandas holds "
              "per-lead frames in memory. Load avg = 1-minute load average of the 2 shared cores when the size started.", ""]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--leads", type=int, nargs="*", default=[100_000, 1_000_000])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--peer-max-leads", type=int, default=1_000_000,
                   help="run the pandas baseline only up to this size (it needs ~2.6 GB of RAM per million leads)")
    p.add_argument("--no-write", action="store_true", help="print only; do not update RESULTS.md")
    p.add_argument("--json", type=Path, help="also write the measurements here (for run_all.py)")
    a = p.parse_args()
    rows = []
    for n in a.leads:
        t = time.perf_counter()
        rows.append(bench(n, a.repeat, a.peer_max_leads))
        print(json.dumps(rows[-1]), f"({time.perf_counter() - t:.0f} s)", flush=True)
    text = section(rows, a.repeat)
    print(text)
    if a.json:
        a.json.write_text(json.dumps({"benchmark": "audit", "runs": rows}))
    if not a.no_write:
        write_section("audit", text)


if __name__ == "__main__":
    main()
