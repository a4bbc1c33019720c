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
Results replace the "## KPIs" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
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


def _refresh(ws, s, plan, full: bool) -> tuple[float, int, int]:  # noqa: ANN001
    from levier.kpi import timeseries

    t0 = time.perf_counter()
    rec = reu = 0
    for key, grain in plan:
        ser = timeseries.series(ws, s, key, grain, START, END, full=full)
        rec += ser.recomputed
        reu += ser.reused
    s.commit()
    return time.perf_counter() - t0, rec, reu


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
            build, n0, _ = _refresh(ws, s, plan, full=False)
            _log(f"first build: {build:.1f} s, {n0} periods")
            appended = _append_day(ws)
            inc, rec, reused = _refresh(ws, s, plan, full=False)
            _log(f"incremental: {inc:.1f} s, {rec} periods")
            full, nfull, _ = _refresh(ws, s, plan, full=True)
            _log(f"full: {full:.1f} s, {nfull} periods")
        return {"leads": leads, "touches": touches, "series": len(plan), "build": build, "periods": n0, "appended": appended,
                "incremental": inc, "recomputed": rec, "reused": reused, "full": full, "full_periods": nfull}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_results(r: dict) -> None:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {dt.date.today().isoformat()}"
    lines = ["## KPIs", "",
             f"`benchmarks/kpi.py` — {machine}. {r['series']} KPI series (catalogue KPIs on leads/touches/stage_events at their review",
             "frequency + 2 user formulas per day), 2026-07-01 .. 2026-11-02; then one day appended (import batch 2).", "",
             "| leads | touches | step | periods computed | seconds |", "|---:|---:|---|---:|---:|",
             f"| {r['leads']:,} | {r['touches']:,} | first build (nothing stored) | {r['periods']} | {r['build']:.1f} |",
             f"| | | incremental refresh after +1 day ({r['appended']:,} leads) | {r['recomputed']} (reused {r['reused']}) | {r['incremental']:.1f} |",
             f"| | | full recomputation | {r['full_periods']} | {r['full']:.1f} |", "",
             f"Incremental / full: **{r['full'] / r['incremental']:.1f}× faster** ({r['recomputed']} of {r['full_periods']} periods recomputed:",
             "lead-cohort KPIs revise the periods of the last 31 days, funnel cohorts 90 days; event KPIs only the new day).", ""]
    section = "\n".join(lines)
    text = RESULTS.read_text(encoding="utf-8")
    if "## KPIs" in text:
        text = re.sub(r"## KPIs\n.*?(?=\n## |\Z)", lambda _m: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    r = bench(a.leads)
    print(r)
    if not a.no_write:
        write_results(r)


if __name__ == "__main__":
    main()
