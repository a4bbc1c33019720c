"""KPI time-series benchmark: incremental refresh after one appended day vs a full recomputation.

    .venv/bin/python benchmarks/kpi.py                  # 1M leads / ~10M touches (reuses benchmarks/_data)
    .venv/bin/python benchmarks/kpi.py --leads 100000

The demo workspace ``benchmarks/_data/demo_<N>/ws`` (leads, touches, stage_events; built by
benchmarks/audit.py) is copied to a temporary directory. Series: every catalogue KPI that reads
those tables, at its review frequency (daily → day, weekly → week, monthly → month), plus two
user formulas per day, over 2026-07-01 .. 2026-11-02. Steps, timed one after the other in the
same process: (1) build every series (nothing stored yet = a full computation); (2) append one
day of data (the leads of 2026-10-31 copied to 2026-11-01 with new ids, their touches and stage
events, as import batch 2); (3) incremental refresh; (4) full recomputation (``full=True``).
Results: the ``kpi`` fragment (benchmarks/results/kpi.md, through ``_results.write_section``).
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
START, END = dt.datetime(2026, 7, 1), dt.datetime(2026, 11, 2)
CUSTOM = {"touches_out": "count(touches, direction == 'out')",
          "replies_per_lead": "count(touches, outcome == 'replied') / count(leads)"}


def _append_day(ws) -> int:  # noqa: ANN001
    """Copy the leads created on 2026-10-31 (and their rows) one day later as batch 2."""
    con = ws.facts.con
    n = con.raw_sql("SELECT count(*) FROM leads WHERE created_at >= '2026-10-31' AND created_at < '2026-11-01'").fetchone()[0]
    for name in ("leads", "touches", "stage_events"):
        cols = [c for c in con.table(name).columns if c not in ("_row_id", "_batch")]
        sel = ", ".join(f"'N' || \"{c}\"" if c in ("lead_id", "touch_id") else (f"\"{c}\" + INTERVAL 1 DAY" if c in ("created_at", "at", "opted_out_at")
                        else f'"{c}"') for c in cols)
        lead_filter = "lead_id IN (SELECT lead_id FROM leads WHERE created_at >= '2026-10-31' AND created_at < '2026-11-01' AND _batch = 1)"
        con.raw_sql(f"INSERT INTO {name} SELECT {sel}, (SELECT max(_row_id) FROM {name}) + row_number() OVER (), 2 FROM {name} "
                    f"WHERE _batch = 1 AND {lead_filter}")
    return int(n)


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _series_plan(s) -> list[tuple[str, str]]:  # noqa: ANN001
    from levier.kpi import registry
    from levier.kpi.timeseries import FREQUENCY_GRAIN

    plan = []
    for e in registry.list_kpis(s, computable_only=True):
        if e.tables and set(e.tables) <= {"leads", "touches", "stage_events"}:
            plan.append((e.key, FREQUENCY_GRAIN.get(e.frequency, "month") if e.frequency != "quarterly" else "month"))
    return plan


def _refresh(ws, s, plan, full: bool, per: dict | None = None) -> tuple[float, float, int, int]:  # noqa: ANN001
    from levier.kpi import timeseries

    t0, c0 = time.perf_counter(), time.process_time()
    rec = reu = 0
    for key, grain in plan:
        t1 = time.perf_counter()
        ser = timeseries.series(ws, s, key, grain, START, END, full=full)
        if per is not None:
            per[key] = time.perf_counter() - t1
        rec += ser.recomputed
        reu += ser.reused
    s.commit()
    return time.perf_counter() - t0, time.process_time() - c0, rec, reu


def _load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def bench(leads: int) -> dict:
    from levier.kpi import registry
    from levier.workspace import open_workspace

    src = HERE / "_data" / f"demo_{leads}" / "ws"
    if not (src / "facts.duckdb").exists():
        sys.exit(f"{src} is missing: run benchmarks/audit.py --leads {leads} first (it builds the workspace).")
    tmp = Path(tempfile.mkdtemp(prefix="levier-kpi-bench-"))
    shutil.copy(src / "facts.duckdb", tmp / "facts.duckdb")
    shutil.copy(src / "levier.toml", tmp / "levier.toml")
    try:
        with open_workspace(tmp) as ws, ws.session() as s:
            for key, formula in CUSTOM.items():
                registry.define_kpi(s, key, formula, frequency="daily")
            s.commit()
            plan = _series_plan(s)
            touches = int(ws.facts.count("touches"))
            load_before = _load()
            _log(f"load average {load_before}; {len(plan)} series")
            build, build_cpu, n0, _ = _refresh(ws, s, plan, full=False)
            _log(f"first build: {build:.1f} s ({build_cpu:.1f} s CPU), {n0} periods")
            appended = _append_day(ws)
            inc, inc_cpu, rec, reused = _refresh(ws, s, plan, full=False)
            _log(f"incremental: {inc:.1f} s ({inc_cpu:.1f} s CPU), {rec} periods")
            per: dict[str, float] = {}
            full, full_cpu, nfull, _ = _refresh(ws, s, plan, full=True, per=per)
            _log(f"full: {full:.1f} s ({full_cpu:.1f} s CPU), {nfull} periods; load average {_load()}")
        slowest = sorted(per.items(), key=lambda kv: -kv[1])[:4]
        return {"leads": leads, "touches": touches, "series": len(plan), "build": build, "build_cpu": build_cpu, "periods": n0,
                "appended": appended, "incremental": inc, "incremental_cpu": inc_cpu, "recomputed": rec, "reused": reused,
                "full": full, "full_cpu": full_cpu, "full_periods": nfull, "load_before": load_before, "load_after": _load(),
                "slowest": slowest}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_results(r: dict) -> None:
    sys.path.insert(0, str(HERE))
    from _results import machine_line, write_section

    lines = ["## KPIs", "",
             f"`benchmarks/kpi.py` — {machine_line()}, {dt.date.today().isoformat()}; machine shared with other jobs "
             f"(load average {r['load_before']} before the run, {r['load_after']} after).",
             f"{r['series']} KPI series (catalogue KPIs on leads/touches/stage_events at their review frequency + 2 user formulas",
             "per day), 2026-07-01 .. 2026-11-02; then one day appended (import batch 2). Each catalogue series is one grouped",
             "engine query for all its periods (ADR 0150). Wall time and CPU time of this process (DuckDB threads included).", "",
             "| leads | touches | step | periods computed | wall s | CPU s |", "|---:|---:|---|---:|---:|---:|",
             f"| {r['leads']:,} | {r['touches']:,} | first build (nothing stored) | {r['periods']} | {r['build']:.1f} | {r['build_cpu']:.1f} |",
             f"| | | incremental refresh after +1 day ({r['appended']:,} leads) | {r['recomputed']} (reused {r['reused']}) "
             f"| {r['incremental']:.1f} | {r['incremental_cpu']:.1f} |",
             f"| | | full recomputation | {r['full_periods']} | {r['full']:.1f} | {r['full_cpu']:.1f} |", "",
             f"Incremental vs full, side by side in one run: **{r['full'] / r['incremental']:.1f}× faster** in wall time, "
             f"{r['full_cpu'] / max(r['incremental_cpu'], 1e-9):.1f}× in CPU time",
             f"({r['recomputed']} of {r['full_periods']} periods recomputed: lead-cohort KPIs revise the periods of the last 31 days,",
             "funnel cohorts 90 days; event KPIs only the new day).", ""]
    lines += ["Before this change the catalogue series called `compute_kpi` once per period: at 100,000 leads the first build took",
              "181 s, the incremental refresh 36 s and the full recomputation 125 s (same plan, same machine, 2026-11-22); the",
              "1M-lead run was out of reach. Why the incremental refresh is only about 2× cheaper: 14 of the 19 series are",
              "lead-cohort KPIs, and one new day revises their last 31 days (a conversion within the 30-day window changes past",
              "cohorts), i.e. about a quarter of the leads and touches of the range, and each series pays 3 small bookkeeping",
              "queries (batch watermarks, first time of the new rows, data end). With this code at 100,000 leads (load 5-6, not",
              "written by the script): first build 20.3 s, incremental 12.4 s (8.9 s CPU), full 14.0 s (9.0 s CPU) — at that size",
              "query compilation and fixed scans dominate, so a refresh costs about a full recomputation, which is now cheap.", ""]
    if r.get("slowest"):
        lines += ["Slowest series of the full recomputation (wall s): " + ", ".join(f"{k} {v:.1f}" for k, v in r["slowest"]) + ".", ""]
    write_section("kpi", "\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--rewrite", help="Rewrite the section from the result dict a previous run printed (no run).")
    a = ap.parse_args()
    r = ast.literal_eval(a.rewrite) if a.rewrite else bench(a.leads)
    print(r)
    if not a.no_write:
        write_results(r)


if __name__ == "__main__":
    main()
