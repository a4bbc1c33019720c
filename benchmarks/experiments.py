"""Benchmark: experiment analysis end to end, and the statistics step next to gbstats.

Workload: 50 metrics × 3 arms × 20 dimension values over a 10M-row facts table (touches),
1M assigned leads. End to end = engine aggregation (DuckDB through Ibis: per-unit values, by hash parts
of the units above ``UNIT_CELLS`` (decision 0235), then
n / Σ / Σ² per arm × cell) + statistics (Welch t-test, relative lift, every metric × arm ×
cell). The statistics step alone runs on the same sufficient statistics with Levier and with
GrowthBook's ``gbstats`` (installed in a throwaway venv under benchmarks/_data/, never a
dependency). Writes the "experiments" fragment (``_results.write_section``), one row per size.

    .venv/bin/python benchmarks/experiments.py [--rows 10000000] [--units 1000000]
    .venv/bin/python benchmarks/experiments.py --rows 1000000 10000000 [--no-peer] [--json out.json] [--no-write]

Each size runs in its own subprocess: the synthetic facts are built once into a DuckDB file under
``benchmarks/_data`` (reused), then opened with the workspace's default 2 GB ``memory_limit``;
peak RSS is that child's ``ru_maxrss``. Units default to rows / 10.

Assignment step (per size, ``--no-assign`` to skip): ``levier experiment assign`` of a new
3-arm experiment over every lead of the demo workspace of the matching size
(``_demo.copy_ws(rows // 10, …)``: 1M rows ↔ 100,000 leads), default exclusions, stored as one
import batch, then the CSV export — in a fresh child process per path: ``assign_s`` /
``assign_rss`` for the engine path (:mod:`levier.analysis.experiments.engine`), and
``assign_before_s`` / ``assign_before_rss`` for the previous Python path (ids, exclusions and
existing assignments collected into Python; ``--no-before`` to skip it). ``export_s`` is the
export alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import ibis

from levier.analysis.experiments.analysis import collect_statistics, unit_part_count
from levier.analysis.experiments.frequentist import ttest
from levier.analysis.experiments.metrics import MetricSpec

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from _results import emit, output_args  # noqa: E402

DATA = Path(os.environ.get("LEVIER_BENCH_DATA", ROOT / "_data"))
VENV = ROOT / "_data" / "gbstats-venv"
OUTCOMES = ["delivered", "opened", "clicked", "replied", "connected", "no_answer", "bounced", "complaint",
            "unsubscribed", "meeting_booked"]

GB_SCRIPT = r"""
import json, sys, time
from gbstats.frequentist.tests import TwoSidedTTest
try:
    from gbstats.models.statistics import SampleMeanStatistic
except ImportError:
    from gbstats.shared.models import SampleMeanStatistic
try:
    from gbstats.frequentist.tests import FrequentistConfig
except ImportError:
    FrequentistConfig = None
pairs = json.load(open(sys.argv[1]))
def stat(d): return SampleMeanStatistic(n=int(d[0]), sum=d[1], sum_squares=d[2])
def run(a, b):
    if FrequentistConfig is None:
        return TwoSidedTTest(a, b).compute_result()
    try:
        return TwoSidedTTest(a, b, FrequentistConfig()).compute_result()
    except (TypeError, AttributeError):  # newer gbstats: a list of (a, b) pairs
        return TwoSidedTTest([(a, b)], FrequentistConfig()).compute_result()
best = None
for _ in range(3):
    t = time.perf_counter()
    out = [run(stat(a), stat(b)) for a, b in pairs]
    dt = time.perf_counter() - t
    best = dt if best is None else min(best, dt)
print(json.dumps({"seconds": best, "p": [float(r.p_value) if r.p_value is not None else None for r in out]}))
"""


def build(con: ibis.BaseBackend, rows: int, units: int) -> None:
    raw = con.raw_sql
    raw(f"""create or replace table assignments as
        select 'bench' as experiment_key, 'L' || i as unit_id,
               (['control','b','c'])[1 + (hash(i) % 3)::int] as variant,
               timestamp '2026-10-01' + to_seconds((i % 2592000)::bigint) as assigned_at
        from range({units}) t(i)""")
    raw(f"""create or replace table leads as
        select 'L' || i as lead_id, 'c' || (hash(i * 7) % 20)::int as country, random() * 100 as score
        from range({units}) t(i)""")
    outcomes = "[" + ",".join(f"'{o}'" for o in OUTCOMES) + "]"
    raw(f"""create or replace table touches as
        select 'L' || (hash(i) % {units}) as lead_id,
               timestamp '2026-10-01' + to_seconds((hash(i * 3) % 5184000)::bigint) as at,
               {outcomes}[1 + (hash(i * 5) % 10)::int] as outcome,
               case when hash(i * 11) % 4 = 0 then 'in' else 'out' end as direction
        from range({rows}) t(i)""")


def metrics() -> list[MetricSpec]:
    out = []
    for k in range(50):
        outcome = OUTCOMES[k % len(OUTCOMES)]
        kind = ("count", "any", "ratio")[k % 3]
        out.append(MetricSpec(name=f"m{k:02d}", kind=kind, outcomes=(outcome,), window_days=7 + (k % 5) * 7,
                              direction_filter=("any", "out")[k % 2]))
    return out


def statistics_step(data) -> tuple[float, list[tuple]]:  # noqa: ANN001
    pairs, results = [], []
    cells = [("", "")] + [("country", v) for v in data.breakdowns().get("country", [])]
    t = time.perf_counter()
    for m in data.metrics:
        for dim, val in cells:
            a = data.stat(m.name, "control", dim, val)
            for arm in ("b", "c"):
                b = data.stat(m.name, arm, dim, val)
                results.append(ttest(a, b))
    dt = time.perf_counter() - t
    for m in data.metrics:
        for dim, val in cells:
            a = data.stat(m.name, "control", dim, val)
            for arm in ("b", "c"):
                b = data.stat(m.name, arm, dim, val)
                if m.kind != "ratio":  # gbstats side: sample-mean statistics only (same as Levier's)
                    pairs.append(((a.n, a.sum, a.sum_squares), (b.n, b.sum, b.sum_squares)))
    return dt, pairs


def gbstats_step(pairs: list[tuple]) -> dict | None:
    py = VENV / "bin" / "python"
    try:
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
            subprocess.run([str(py), "-m", "pip", "install", "-q", "gbstats"], check=True)
        DATA.mkdir(parents=True, exist_ok=True)
        (DATA / "pairs.json").write_text(json.dumps(pairs))
        (DATA / "gb_run.py").write_text(GB_SCRIPT)
        out = subprocess.run([str(py), str(DATA / "gb_run.py"), str(DATA / "pairs.json")], check=True,
                             capture_output=True, text=True)
        version = subprocess.run([str(py), "-m", "pip", "show", "gbstats"], capture_output=True, text=True).stdout
        res = json.loads(out.stdout.strip().splitlines()[-1])
        res["version"] = re.search(r"Version: (\S+)", version).group(1) if "Version" in version else "?"
        return res
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"gbstats unavailable: {exc}", file=sys.stderr)
        return None


def levier_on_pairs(pairs: list[tuple]) -> tuple[float, list[float]]:
    from levier.analysis.experiments.statistics import SampleMeanStatistic as S

    best, ps = None, []
    for _ in range(3):
        t = time.perf_counter()
        ps = [ttest(S(*a), S(*b), distribution="t").p_value for a, b in pairs]
        dt = time.perf_counter() - t
        best = dt if best is None else min(best, dt)
    return best, ps


def facts(rows: int, units: int) -> tuple[ibis.BaseBackend, float]:
    """The synthetic facts in a DuckDB file (built once, reused), opened with a 2 GB memory cap."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"experiments_{rows}_{units}.duckdb"
    t_build = 0.0
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        con = ibis.duckdb.connect(str(tmp))
        t = time.perf_counter()
        build(con, rows, units)
        t_build = time.perf_counter() - t
        con.disconnect()
        tmp.rename(path)
    con = ibis.duckdb.connect(str(path), read_only=True)
    con.raw_sql("SET memory_limit = '2GB'")
    return con, t_build


def one(rows: int, units: int, peer: bool) -> dict:
    """One size, in this (child) process."""
    load = os.getloadavg()[0]
    con, t_build = facts(rows, units)
    tables = {n: con.table(n) for n in ("assignments", "leads", "touches")}
    ms = metrics()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    n_parts = unit_part_count(tables, "bench", ms)
    t, c = time.perf_counter(), time.process_time()
    data = collect_statistics(tables, "bench", ms, ["control", "b", "c"], dimensions=["country"])
    t_engine, cpu_engine = time.perf_counter() - t, time.process_time() - c
    load_end = os.getloadavg()[0]
    t_stats, pairs = statistics_step(data)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    comparisons = sum(1 for m in data.metrics for _ in range(1 + len(data.breakdowns().get("country", [])))) * 2
    lv_time, lv_p = levier_on_pairs(pairs)
    gb = gbstats_step(pairs) if peer else None
    max_diff = max((abs(a - b) for a, b in zip(lv_p, gb["p"], strict=True) if a is not None and b is not None),
                   default=float("nan")) if gb else None
    out = {"rows": rows, "touches": rows, "units": units, "load": load, "build_s": t_build, "engine_s": t_engine,
           "engine_cpu_s": cpu_engine, "parts": n_parts, "load_end": load_end,
           "stats_s": t_stats, "comparisons": comparisons, "cells": len(data.cells), "pairs": len(pairs),
           "levier_s": t_engine + t_stats, "levier_rss": rss1, "rss_before": rss0, "ttest_s": lv_time}
    if gb:
        out |= {"peer": f"gbstats {gb['version']} TwoSidedTTest (statistics step only)", "peer_s": gb["seconds"],
                "peer_rss": None, "ratio": gb["seconds"] / lv_time, "max_p_diff": max_diff}
    return out


ASSIGN_KEY = "bench-assign"
ASSIGN_ARMS = ["control", "b", "c"]


def _assign_engine(ws, export: Path) -> tuple[dict, float]:  # noqa: ANN001
    from levier.analysis.experiments.engine import plan_in_engine

    job = plan_in_engine(ws, ASSIGN_KEY, ASSIGN_ARMS, [2, 1, 1])
    plan = job.plan()
    stored = job.store(datetime(2026, 11, 1))
    t = time.perf_counter()
    job.export(export)
    return {"new": plan.new, "excluded": plan.excluded, "stored": stored, "p": plan.balance_p_value}, time.perf_counter() - t


def _assign_python(ws, export: Path) -> tuple[dict, float]:  # noqa: ANN001
    """The previous path (before decision 0200): every id, exclusion and assignment in Python."""
    from levier.analysis.experiments.assignment import split_units, write_csv
    from levier.analysis.experiments.storage import (
        eligible_leads,
        existing_assignments,
        lead_exclusions,
        store_assignments,
    )

    ids = eligible_leads(ws)
    split = split_units(ASSIGN_KEY, ids, ASSIGN_ARMS, [2, 1, 1], existing=existing_assignments(ws, ASSIGN_KEY),
                        exclusions=lead_exclusions(ws))
    plan = split.plan(ASSIGN_KEY, ASSIGN_ARMS, [2, 1, 1])
    stored = store_assignments(ws, ASSIGN_KEY, split.new, datetime(2026, 11, 1))
    t = time.perf_counter()
    write_csv(export, split.rows(ASSIGN_KEY))
    return ({"new": plan.new, "excluded": plan.excluded, "stored": stored, "p": plan.balance_p_value},
            time.perf_counter() - t)


def assign_one(rows: int, path: str) -> dict:
    """One assignment on a private copy of the demo workspace of this size, in this (child) process."""
    import shutil

    from _demo import copy_ws

    from levier.workspace import open_workspace

    leads = max(rows // 10, 1)
    dest = DATA / f".assign-{os.getpid()}"
    shutil.rmtree(dest, ignore_errors=True)
    copy_ws(leads, dest / "ws")
    load = os.getloadavg()[0]
    try:
        with open_workspace(dest / "ws") as ws:
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            t, c = time.perf_counter(), time.process_time()
            out, export_s = (_assign_engine if path == "engine" else _assign_python)(ws, dest / "export.csv")
            wall, cpu = time.perf_counter() - t, time.process_time() - c
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    finally:
        shutil.rmtree(dest, ignore_errors=True)
    return {**out, "leads": leads, "assign_s": wall - export_s, "export_s": export_s, "cpu_s": cpu, "rss": rss,
            "rss_before": rss0, "load": load}


def _child(args: list[str], out: Path) -> dict:
    subprocess.run([sys.executable, __file__, *args, "--child", str(out)], check=True)
    res = json.loads(out.read_text())
    out.unlink()
    return res


def assign_runs(rows: int, before: bool) -> dict:
    """The assignment step of one size: engine path, then (optionally) the previous Python path."""
    out = DATA / f".experiments-assign-{os.getpid()}-{rows}.json"
    eng = _child(["--rows", str(rows), "--assign-path", "engine"], out)
    res = {"assign_s": eng["assign_s"], "assign_rss": eng["rss"], "assign_rss_before": eng["rss_before"],
           "assign_cpu_s": eng["cpu_s"], "export_s": eng["export_s"], "assign_leads": eng["leads"],
           "assign_new": eng["new"], "assign_excluded": eng["excluded"], "assign_load": eng["load"],
           "assign_p": eng["p"]}
    if before:
        py = _child(["--rows", str(rows), "--assign-path", "python"], out)
        if (py["new"], py["excluded"], py["stored"]) != (eng["new"], eng["excluded"], eng["stored"]):
            raise SystemExit(f"assignment paths disagree at {rows:,} rows: {py} vs {eng}")
        res |= {"assign_before_s": py["assign_s"], "assign_before_rss": py["rss"], "assign_before_cpu_s": py["cpu_s"],
                "export_before_s": py["export_s"], "assign_before_load": py["load"]}
    return res


def _mib(x: float) -> str:
    return f"{x / 2**20:,.0f} MiB"


def assign_lines(runs: list[dict]) -> list[str]:
    runs = [r for r in runs if "assign_s" in r]
    if not runs:
        return []
    lines = ["", "Assignment (`levier experiment assign` of a new 3-arm experiment, weights 2:1:1, over every lead of the "
             "demo workspace of the size, default exclusions, stored as one import batch; export = the CSV of every "
             "assigned unit). Each path in a fresh process on a private copy of the workspace; RSS = that process's peak "
             "(before the assignment: imports and the open workspace):", "",
             "| touches | leads | new units (excluded) | engine s (export s) · CPU s | engine peak RSS | "
             "previous Python path s (export s) · CPU s | Python path peak RSS | load avg |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        before = (f"{r['assign_before_s']:.1f} ({r['export_before_s']:.1f}) · {r['assign_before_cpu_s']:.1f} | "
                  f"{_mib(r['assign_before_rss'])}" if "assign_before_s" in r else "not run | ")
        load = f"{r['assign_load']:.1f}" + (f" / {r['assign_before_load']:.1f}" if "assign_before_load" in r else "")
        lines.append(f"| {r['rows']:,} | {r['assign_leads']:,} | {r['assign_new']:,} ({r['assign_excluded']:,}) | "
                     f"{r['assign_s']:.1f} ({r['export_s']:.1f}) · {r['assign_cpu_s']:.1f} | {_mib(r['assign_rss'])} "
                     f"(before {_mib(r['assign_rss_before'])}) | {before} | {load} |")
    lines += ["", "Engine path: eligible leads, exclusions (anti-join) and existing assignments are joined in DuckDB, the "
              "bucket is SHA-256 in SQL, the new rows are written by `INSERT … SELECT`, the export streams Arrow batches; "
              "only the counts per arm and per exclusion reason reach Python (decision 0200). CPU s = process CPU time "
              "of the whole step (all threads, export included): the wall times are inflated when the shared cores are "
              "loaded (load avg: engine / Python path)."]
    return lines


def section(runs: list[dict], argv: str) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        "## Experiments", "",
        f"`benchmarks/experiments.py {argv}` — {date.today().isoformat()}, {platform.system()} {cpu}, "
        f"{os.cpu_count()} CPUs (shared), Python {platform.python_version()}, DuckDB via Ibis (2 GB `memory_limit`).", "",
        "Workload per size: synthetic touches, assigned leads = rows / 10, 50 metrics × 3 arms × 20 dimension values "
        "(+ overall), Welch t-test and relative lift for every comparison. Each size runs in its own subprocess; "
        "the facts are built once into a DuckDB file and reused (build time not counted).", "",
        "| touches | units | hash parts | engine aggregation s · CPU s | statistics s (comparisons) | end to end s | peak RSS | "
        "statistics reaching Python | load avg |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        cpu = f" · {r['engine_cpu_s']:.1f}" if "engine_cpu_s" in r else ""
        load = f"{r['load']:.1f}" + (f" → {r['load_end']:.1f}" if "load_end" in r else "")
        lines.append(f"| {r['rows']:,} | {r['units']:,} | {r.get('parts', 1)} | {r['engine_s']:.1f}{cpu} | "
                     f"{r['stats_s']:.2f} ({r['comparisons']:,}) | {r['levier_s']:.1f} | "
                     f"{r['levier_rss'] / 2**20:,.0f} MiB (before aggregation {r['rss_before'] / 2**20:,.0f}) | "
                     f"{r['cells']:,} | {load} |")
    lines += ["", "Statistics step alone on the same sample-mean pairs (best of 3), Levier `ttest` vs GrowthBook's gbstats:", "",
              "| touches | pairs | Levier s | gbstats s | gbstats / Levier | largest \\|Δp\\| |", "|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        if "peer_s" in r:
            lines.append(f"| {r['rows']:,} | {r['pairs']:,} | {r['ttest_s']:.3f} | {r['peer_s']:.3f} | {r['ratio']:.2f} | {r['max_p_diff']:.2e} |")
        else:
            lines.append(f"| {r['rows']:,} | {r['pairs']:,} | {r['ttest_s']:.3f} | not run | | |")
    peers = sorted({r["peer"] for r in runs if "peer" in r})
    lines += ["", f"Peer: {', '.join(peers) or 'gbstats not run (--no-peer or no network)'}. Only the sufficient statistics "
              "(n, Σ, Σ² per arm × cell) leave the engine, so the statistics step does not grow with the rows; "
              "the engine step is a scan + group-by per source table, on one hash part of the units at a time above "
              "`UNIT_CELLS` per-unit values (units × value columns; decision 0235), the per-part sums added. "
              "CPU s = process CPU time of the engine step (every DuckDB thread). Load avg = 1-minute load average of "
              "the 2 shared cores when the size started → when its engine step ended."]
    lines += assign_lines(runs) + [""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000_000])
    ap.add_argument("--units", type=int, help="assigned leads (default: rows / 10)")
    ap.add_argument("--no-peer", action="store_true", help="skip gbstats")
    ap.add_argument("--no-assign", action="store_true", help="skip the assignment step")
    ap.add_argument("--no-before", action="store_true", help="assignment: skip the previous (Python) path")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--assign-path", choices=["engine", "python"], help=argparse.SUPPRESS)
    args = output_args(ap).parse_args()
    if args.child and args.assign_path:  # one assignment in this process
        args.child.write_text(json.dumps(assign_one(args.rows[0], args.assign_path)))
        return
    if args.child:  # one size in this process, result to the given file
        rows = args.rows[0]
        args.child.write_text(json.dumps(one(rows, args.units or max(rows // 10, 1), not args.no_peer)))
        return
    runs = []
    for rows in args.rows:
        out = DATA / f".experiments-{os.getpid()}-{rows}.json"
        DATA.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, __file__, "--rows", str(rows), "--child", str(out)]
        cmd += ["--units", str(args.units)] if args.units else []
        cmd += ["--no-peer"] if args.no_peer else []
        subprocess.run(cmd, check=True)
        runs.append(json.loads(out.read_text()))
        out.unlink()
        if not args.no_assign:
            runs[-1] |= assign_runs(rows, not args.no_before)
        print(json.dumps(runs[-1]), flush=True)
    argv = "--rows " + " ".join(str(r) for r in args.rows) + (f" --units {args.units}" if args.units else "")
    argv += "".join(f" --{f}" for f in ("no-peer", "no-assign", "no-before") if getattr(args, f.replace("-", "_")))
    emit(args, "experiments", section(runs, argv), runs)


if __name__ == "__main__":
    main()
