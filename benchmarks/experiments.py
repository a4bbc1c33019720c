"""Benchmark: experiment analysis end to end, and the statistics step next to gbstats.

Workload: 50 metrics × 3 arms × 20 dimension values over a 10M-row facts table (touches),
1M assigned leads. End to end = engine aggregation (DuckDB through Ibis: per-unit values, then
n / Σ / Σ² per arm × cell) + statistics (Welch t-test, relative lift, every metric × arm ×
cell). The statistics step alone runs on the same sufficient statistics with Levier and with
GrowthBook's ``gbstats`` (installed in a throwaway venv under benchmarks/_data/, never a
dependency). Writes the "## Experiments" section of benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/experiments.py [--rows 10000000] [--units 1000000]
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
from datetime import date
from pathlib import Path

import ibis

from levier.analysis.experiments.analysis import collect_statistics
from levier.analysis.experiments.frequentist import ttest
from levier.analysis.experiments.metrics import MetricSpec

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "_data"
VENV = DATA / "gbstats-venv"
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
        DATA.mkdir(exist_ok=True)
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


def write_results(text: str) -> None:
    path = ROOT / "RESULTS.md"
    content = path.read_text(encoding="utf-8")
    new = re.sub(r"## Experiments\n.*?(?=\n## |\Z)", text.rstrip() + "\n", content, flags=re.S)
    path.write_text(new, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--units", type=int, default=1_000_000)
    args = ap.parse_args()
    con = ibis.duckdb.connect()
    t = time.perf_counter()
    build(con, args.rows, args.units)
    t_build = time.perf_counter() - t
    tables = {n: con.table(n) for n in ("assignments", "leads", "touches")}
    ms = metrics()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    data = collect_statistics(tables, "bench", ms, ["control", "b", "c"], dimensions=["country"])
    t_engine = time.perf_counter() - t
    t_stats, pairs = statistics_step(data)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    comparisons = len(ms) * 21 * 2
    lv_time, lv_p = levier_on_pairs(pairs)
    gb = gbstats_step(pairs)
    max_diff = max((abs(a - b) for a, b in zip(lv_p, gb["p"], strict=True) if a is not None and b is not None),
                   default=float("nan")) if gb else float("nan")
    cpu = platform.processor() or platform.machine()
    lines = [
        "## Experiments", "",
        f"`benchmarks/experiments.py` — {date.today().isoformat()}, {platform.system()} {cpu}, "
        f"{os.cpu_count()} CPUs (shared), Python {platform.python_version()}, DuckDB via Ibis.", "",
        f"Workload: {args.rows:,} touches, {args.units:,} assigned leads, 50 metrics × 3 arms × "
        f"20 dimension values (+ overall) = {comparisons:,} comparisons (Welch, relative lift).", "",
        "| step | time | note |", "|---|---|---|",
        f"| build synthetic facts (not measured work) | {t_build:.1f} s | DuckDB SQL |",
        f"| engine aggregation (per-unit values + Σ, Σ² per arm × cell) | {t_engine:.1f} s | only {len(data.cells):,} statistics reach Python |",
        f"| statistics, all {comparisons:,} comparisons | {t_stats:.2f} s | {1e6 * t_stats / comparisons:.0f} µs each |",
        f"| end to end | {t_engine + t_stats:.1f} s | peak RSS {rss1 / 1024:.0f} MB (before aggregation {rss0 / 1024:.0f} MB) |",
        "",
        f"Statistics step alone on the same {len(pairs):,} sample-mean pairs (best of 3):", "",
        "| implementation | time | ratio |", "|---|---|---|",
        f"| Levier `ttest` | {lv_time:.3f} s | 1.00 |",
    ]
    if gb:
        lines.append(f"| gbstats {gb['version']} `TwoSidedTTest` | {gb['seconds']:.3f} s | {gb['seconds'] / lv_time:.2f} |")
        lines += ["", f"Largest |p(Levier) − p(gbstats)| over the pairs: {max_diff:.2e}."]
    else:
        lines.append("| gbstats | not available (no network?) | |")
    text = "\n".join(lines) + "\n"
    print(text)
    write_results(text)


if __name__ == "__main__":
    main()
