"""The benchmark suite: every benchmark at several sizes, then the "suite" and "growth" sections.

    .venv/bin/python benchmarks/run_all.py                      # = make bench: sizes 1M and 10M
    .venv/bin/python benchmarks/run_all.py --sizes 100M         # on demand (generates ~100M rows)
    .venv/bin/python benchmarks/run_all.py --sizes 100M --update --keep-sections   # add 100M beside the saved 1M/10M
    .venv/bin/python benchmarks/run_all.py --only audit,ingest --sizes 1M
    .venv/bin/python benchmarks/run_all.py --quick --no-write   # smoke test: tiny sizes, seconds
    .venv/bin/python benchmarks/run_all.py --only policy --update   # re-run one benchmark into the saved run
    .venv/bin/python benchmarks/run_all.py --render benchmarks/results/suite.json   # rewrite the sections only
    .venv/bin/python benchmarks/run_all.py --import policy:100M=policy-100m.json   # add a run made by hand (its --json)

Sizes are named by the number of touches: "1M" = the demo workspace of 100,000 leads (≈ 0.8M
touches) and 1,000,000-row files; "10M" = 1,000,000 leads (≈ 8.2M touches) and 10,000,000 rows;
"100M" = 10,000,000 leads and 100,000,000 rows (generated on first use: hours and ~60 GB).

Each benchmark runs as its own subprocess (`benchmarks/<name>.py`) with its size arguments and
keeps its side-by-side baseline or peer. The ones owned by this suite (ingest, audit,
attribution, experiments) take every size in one call, write their own section and hand their
measurements back as JSON; the others (policy, web, kpi) run with ``--no-write`` (their sections
belong to their owners) and the suite quotes the tables they print. For every subprocess the
suite records the wall time and the peak RSS of its process tree (``os.wait4`` rusage). Then it
writes the "suite" and "growth" sections through ``_results.write_section``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _results import machine_line, write_section  # noqa: E402

__all__ = ["SIZES", "BENCHMARKS", "main"]

#: size name → demo leads (workspace benchmarks) and rows (file / synthetic benchmarks)
SIZES: dict[str, dict[str, int]] = {
    "quick": {"leads": 500, "rows": 5_000},
    "1M": {"leads": 100_000, "rows": 1_000_000},
    "10M": {"leads": 1_000_000, "rows": 10_000_000},
    "100M": {"leads": 10_000_000, "rows": 100_000_000},
}
DEFAULT_SIZES = ("1M", "10M")
OWN = ("ingest", "audit", "attribution", "experiments")
#: benchmarks that hand their measurements back as JSON (``--json``), one run per size
SIZED = (*OWN, "policy", "web", "kpi", "sessions")


@dataclass
class Bench:
    """How to call one benchmark script."""

    name: str
    owner: str
    #: sizes → argument lists; one entry per subprocess (own benchmarks: one call for all sizes)
    calls: Callable[[list[str], bool], list[tuple[list[str], list[str]]]]
    note: str = ""


def _own(flag: str, key: str, extra: Callable[[bool], list[str]], light: tuple[str, ...] = ()) -> Callable[[list[str], bool], list[tuple[list[str], list[str]]]]:
    """One call for every size; with ``light``, the 100M size runs in a call of its own with those flags
    (a lighter mode of the benchmark, documented in its script)."""
    def calls(sizes: list[str], quick: bool) -> list[tuple[list[str], list[str]]]:
        groups = [[s for s in sizes if s != "100M" or not light], [s for s in sizes if s == "100M" and light]]
        return [(g, [flag, *(str(SIZES[s][key]) for s in g), *extra(quick), *(light if g[0] == "100M" else ())])
                for g in groups if g]
    return calls




BENCHMARKS: dict[str, Bench] = {b.name: b for b in (
    Bench("ingest", "H5", _own("--rows", "rows", lambda q: [])),
    Bench("audit", "H5", _own("--leads", "leads", lambda q: ["--repeat", "1"])),
    Bench("attribution", "H5", _own("--leads", "leads", lambda q: ["--rounds", "1", "--repeats", "1" if q else "3", *(["--no-peer"] if q else [])])),
    Bench("experiments", "H5", _own("--rows", "rows", lambda q: ["--no-peer"] if q else [])),
    Bench("policy", "H2", _own("--leads", "leads", lambda q: ["--no-write"]),
          "levier s = building the real-time state and its snapshot; the check rates are in the notes"),
    Bench("web", "H3", _own("--leads", "leads", lambda q: ["--no-write"], light=("--light",)),
          "levier s = the background warm-up of the dashboard figures + the first request of each page, on the seeded demo "
          "workspace of the size (100M: --light, one server start)"),
    Bench("kpi", "H3", _own("--leads", "leads", lambda q: ["--no-write"], light=("--steps", "first,incremental")),
          "levier s = the first build of every catalogue series (100M: --steps first,incremental, no full recomputation)"),
    Bench("sessions", "H1", _own("--events", "rows", lambda q: ["--no-write"]),
          "rows = web events + sales touches; levier s = web funnel + attribution by hash parts, the single query beside it"),
)}
DEFAULT_ONLY = ("ingest", "audit", "attribution", "experiments", "policy", "web", "kpi", "sessions")


@dataclass
class Run:
    """One subprocess of the suite."""

    bench: str
    sizes: list[str]
    argv: list[str]
    seconds: float = 0.0
    tree_rss: int = 0  # bytes: peak RSS of the largest process of the tree
    status: str = "ok"
    load: tuple[float, float] = (0.0, 0.0)
    measures: list[dict[str, Any]] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)


def _run(bench: str, sizes: list[str], args: list[str], workdir: Path, timeout: float, env: dict[str, str]) -> Run:
    script = HERE / f"{bench}.py"
    json_out = workdir / f"{bench}-{'-'.join(sizes)}.json"
    argv = [sys.executable, str(script), *args]
    if bench in SIZED:
        argv += ["--json", str(json_out)]
    run = Run(bench, sizes, argv)
    log = workdir / f"{bench}-{'-'.join(sizes)}.log"
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, cwd=HERE.parent, env=env, start_new_session=True)
        status, rusage = _wait(proc, timeout)
    run.seconds = time.perf_counter() - t0
    run.load = (load0, os.getloadavg()[0])
    run.tree_rss = rusage.ru_maxrss * 1024 if rusage else 0
    run.status = status
    text = log.read_text(errors="replace")
    if json_out.exists():
        run.measures = json.loads(json_out.read_text())["runs"]
    run.printed = [ln for ln in text.splitlines() if ln.startswith("|")] or [ln[:300] for ln in text.strip().splitlines()[-8:]]
    if status != "ok":
        run.printed = [f"    {ln[:300]}" for ln in text.strip().splitlines()[-8:]]
    return run


def _wait(proc: subprocess.Popen, timeout: float) -> tuple[str, Any]:
    """Wait for ``proc`` (its whole session killed on timeout); its exit status and rusage."""
    deadline = time.monotonic() + timeout
    while True:
        pid, code, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(code)
            return ("ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"), rusage
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)  # the session this suite started for the benchmark
            _pid, _code, rusage = os.wait4(proc.pid, 0)
            return f"timed out after {timeout:.0f} s", rusage
        time.sleep(0.5)


def _help_check(bench: str, args: list[str], env: dict[str, str]) -> Run:
    """--quick for a benchmark that needs big inputs: its --help must list every flag we pass."""
    out = subprocess.run([sys.executable, str(HERE / f"{bench}.py"), "--help"], capture_output=True, text=True, env=env, timeout=300)
    flags = [a for a in args if a.startswith("--")]
    missing = [f for f in flags if f not in out.stdout]
    status = "ok (--help only)" if out.returncode == 0 and not missing else f"failed: --help exit {out.returncode}, missing {missing}"
    return Run(bench, ["quick"], [str(HERE / f"{bench}.py"), "--help"], status=status)


# -- sections ------------------------------------------------------------------------------------
def _gib(b: float | None) -> str:
    return "–" if not b else f"{b / 2**30:.2f} GiB"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def _size_rows(run: Run) -> list[dict[str, Any]]:
    """One row per (benchmark, size) with what the suite can say about it."""
    if run.measures:
        return [dict(m, size=s) for s, m in zip(run.sizes, _padded(run), strict=False)]
    return [{"size": s, "levier_s": None, "levier_rss": None} for s in run.sizes]


def suite_section(runs: list[Run], args: argparse.Namespace, started: str, wall: float, loads: tuple[float, float]) -> str:
    sizes = ", ".join(f'"{s}" = {SIZES[s]["leads"]:,} demo leads / {SIZES[s]["rows"]:,} rows' for s in args.sizes)
    lines = ["## Suite", "",
             f"`{args.command}` — started {started} UTC — {machine_line()} — {wall / 60:.1f} min in all; "
             f"1-minute load average {loads[0]:.1f} at the start, {loads[1]:.1f} at the end (2 cores shared with other contributors).",
             f"Sizes: {sizes}. Each benchmark ran as a subprocess of `benchmarks/run_all.py`, its baseline or peer side by side in the same run.",
             *[f"Re-run later: {u}." for u in getattr(args, "updates", [])], "",
             "| benchmark | size | touches / rows | levier s | levier peak RSS | baseline or peer | peer s | speed-up on the compared step | load avg | status | notes |",
             "|---|---|---:|---:|---:|---|---:|---:|---:|---|---|"]
    for run in runs:
        if "--help" in run.argv:
            lines.append(f"| {run.bench} | – | | – | – | – | – | – | – | {run.status} | |")
            continue
        for r in _size_rows(run):
            touches = "" if r.get("touches") is None else f"{r['touches']:,}"
            ratio = "–" if r.get("ratio") is None else f"**{r['ratio']:.2f}×**"
            peer = r.get("peer", "–")
            step = r.get("markov1_s") if run.bench == "attribution" else r.get("ttest_s") if run.bench == "experiments" else None
            if step is not None and r.get("peer_s") is not None:
                peer += f"; levier on that step: {step:.2f} s"
            lines.append(
                f"| {run.bench} | {r['size']} | {touches} | {_num(r.get('levier_s'))} | {_gib(r.get('levier_rss'))} | "
                f"{peer} | {_num(r.get('peer_s'))} | {ratio} | {(r.get('load') or run.load[0]):.1f} | {r.get('status', run.status)} | {r.get('note', '')} |")
    lines += ["", "Speed-up = peer time / levier time on the same step (>1: levier is faster). ingest: DuckDB's own `read_csv` is the floor; audit: the pandas "
              "baseline (core figures only); attribution: ChannelAttribution's Markov order 1 "
              "(model step only: it starts from the distinct paths, levier from the engine's transition counts — "
              "the same journeys, aggregated in the engine; levier s = engine query + exact Markov 1 + Shapley); experiments: gbstats on the "
              "same sufficient statistics (statistics step only; levier s = engine aggregation + every test). "
              "Details and targets are in each benchmark's own section below.", ""]
    for run in runs:
        if run.bench in OWN or "--help" in run.argv:
            continue
        bench = BENCHMARKS[run.bench]
        lines += [f"**{run.bench}** (run with `--no-write`: its own section below comes from its owner's full run; {bench.note}): "
                  f"{run.seconds:.0f} s wall, process-tree peak RSS {_gib(run.tree_rss)}, {run.status}; "
                  f"load avg {run.load[0]:.1f} → {run.load[1]:.1f}."]
        if not run.measures or not run.status.startswith("ok"):
            lines += ["What it printed:", "", *(run.printed or ["(nothing)"])]
        lines.append("")
    return "\n".join(lines)


def _exponent(a: dict[str, Any], b: dict[str, Any], key: str) -> str:
    try:
        return f"{math.log(b[key] / a[key]) / math.log(b['touches'] / a['touches']):.2f}"
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return "–"


def growth_section(runs: list[Run], args: argparse.Namespace, started: str) -> str:
    lines = ["## Growth", "",
             f"Cost vs rows, from the suite run of {started} UTC (`{args.command}`): time and peak memory of the levier "
             "side of each benchmark at each size. Peak RSS is the high-water mark (`ru_maxrss` / `VmHWM`) of the child "
             "process that did the levier work; the process-tree column is `os.wait4`'s rusage of the whole benchmark "
             "subprocess, which ran every size (its largest process over all sizes, baseline or peer included).", "",
             "| benchmark | size | touches / rows | levier s | µs per row | levier peak RSS | process-tree peak RSS |",
             "|---|---|---:|---:|---:|---:|---:|"]
    fits, flat, growing = [], [], []
    for run in runs:
        rows = [r for r in _size_rows(run) if r.get("touches")]
        for i, r in enumerate(rows):
            per = 1e6 * r["levier_s"] / r["touches"] if r.get("levier_s") else None
            tree = _gib(run.tree_rss) if i == len(rows) - 1 else "↓"
            lines.append(f"| {run.bench} | {r['size']} | {r['touches']:,} | {_num(r.get('levier_s'))} | "
                         f"{_num(per)} | {_gib(r.get('levier_rss'))} | {tree} |")
        for a, b in zip(rows, rows[1:], strict=False):
            mem = _exponent(a, b, "levier_rss")
            fits.append(f"| {run.bench} | {a['size']} → {b['size']} | {a['touches']:,} → {b['touches']:,} ({b['touches'] / a['touches']:.1f}×) | "
                        f"{_ratio(b.get('levier_s'), a.get('levier_s'))} | {_exponent(a, b, 'levier_s')} | "
                        f"{_ratio(b.get('levier_rss'), a.get('levier_rss'))} | {mem} |")
        if len(rows) >= 2 and rows[-1]["touches"] >= 50_000_000:  # the last step reaches the 100M size
            mem = _exponent(rows[-2], rows[-1], "levier_rss")
            if mem != "–":
                (flat if float(mem) < FLAT else growing).append(f"{run.bench} ({mem})")
    if fits:
        lines += ["", "Growth from each size to the next (exponent k in cost ∝ rows^k: 1 = linear, 0 = flat):", "",
                  "| benchmark | step | rows | time × | time exponent | peak RSS × | memory exponent |",
                  "|---|---|---|---:|---:|---:|---:|", *fits]
    lines += ["", "Reading it: time grows about linearly with rows (exponent near 1; below 1 where fixed costs — "
              "process start, imports, planning — still dominate the small size). Memory does not follow the rows: "
              "the DuckDB engine works within a fixed cap (1 GB for ingest, the workspace's 2 GB `memory_limit` for "
              "the analyses) and spills to disk beyond it, and Python holds only sufficient statistics, histograms "
              "or counts bounded by channels and segments (docs/capacity.md). So peak RSS rises from the small size up "
              "to that cap, then stays there as data keeps growing."]
    if flat or growing:
        lines.append(f"Measured on the last step, to 100M rows (memory exponent below {FLAT} counts as flat): "
                     f"flat for {', '.join(flat) or 'none'}; still growing for {', '.join(growing) or 'none'}.")
    else:
        lines.append("The plateau shows on the step from 10M to 100M rows (`--sizes 100M`, on demand); this run did not include it.")
    lines.append("")
    return "\n".join(lines)


def _ratio(b: float | None, a: float | None) -> str:
    return "–" if not a or not b else f"{b / a:.2f}×"


#: a memory exponent below this over a 10× step counts as flat (×1.26 for 10× the rows)
FLAT = 0.1


# -- main ----------------------------------------------------------------------------------------
SAVED = HERE / "results" / "suite.json"


def save(runs: list[Run], args: argparse.Namespace, started: str, wall: float, loads: tuple[float, float]) -> None:
    """Keep what the sections were made from, so they can be re-rendered (``--render``)."""
    data = {"command": args.command, "sizes": args.sizes, "started": started, "wall": wall, "loads": list(loads),
            "runs": [vars(r) for r in runs], "updates": getattr(args, "updates", [])}
    SAVED.write_text(json.dumps(data, indent=1, default=list) + "\n", encoding="utf-8")


def _merge(new: list[Run], args: argparse.Namespace, started: str) -> tuple[list[Run], argparse.Namespace, str, float, tuple[float, float]]:
    """The saved run with the sizes of ``new`` replaced or added (``--update``)."""
    data = json.loads(SAVED.read_text(encoding="utf-8"))
    old = [Run(**{**r, "load": tuple(r["load"])}) for r in data["runs"]]
    merged = merge_runs(old, new)
    note = f"{', '.join(sorted({r.bench for r in new}))} at {', '.join(sorted({s for r in new for s in r.sizes}))} at {started} UTC (`{args.command}`)"
    merged_args = argparse.Namespace(command=data["command"], sizes=_ordered({*data["sizes"], *args.sizes}),
                                     updates=[*data.get("updates", []), note])
    return merged, merged_args, data["started"], data["wall"], tuple(data["loads"])


def _padded(run: Run) -> list[dict[str, Any]]:
    """One measurement per size (``{}`` where the run measured nothing, e.g. it failed)."""
    return [*run.measures, *([{}] * (len(run.sizes) - len(run.measures)))]


def _ordered(sizes: set[str] | list[str]) -> list[str]:
    return [s for s in SIZES if s in sizes]


def merge_runs(old: list[Run], new: list[Run]) -> list[Run]:
    """``old`` with each new run's sizes replacing the same benchmark's sizes (other sizes kept).

    A benchmark re-run at 100M alone keeps its saved 1M and 10M measurements beside the new one;
    the merged run's wall time is the sum, its process-tree peak the larger of the two.
    """
    merged = list(old)
    for r in new:
        at = next((i for i, o in enumerate(merged) if o.bench == r.bench), None)
        if at is None:
            order = list(BENCHMARKS)
            at = next((i for i, o in enumerate(merged) if order.index(o.bench) > order.index(r.bench)), len(merged))
            merged.insert(at, r)
            continue
        o = merged[at]
        by_size = {s: {**m, "status": m.get("status", o.status)} for s, m in zip(o.sizes, _padded(o), strict=False)}
        by_size.update({s: {**m, "status": r.status} for s, m in zip(r.sizes, _padded(r), strict=False)})
        sizes = _ordered(list(by_size))
        merged[at] = Run(r.bench, sizes, r.argv, o.seconds + r.seconds, max(o.tree_rss, r.tree_rss), r.status, r.load,
                         [by_size[s] for s in sizes], r.printed)
    return merged


def imported(spec: str) -> Run:
    """``BENCH:SIZE[,SIZE…]=PATH``: a benchmark's own ``--json`` output from a run made outside the suite
    (e.g. one size at 100M, run by hand), as a suite run of those sizes (one measurement per size, in order)."""
    head, _, path = spec.partition("=")
    bench, _, sizes = head.partition(":")
    names = [x.strip() for x in sizes.split(",") if x.strip()]
    if bench not in BENCHMARKS or not names or any(n not in SIZES for n in names) or not path:
        raise SystemExit(f"--import {spec!r}: expected BENCH:SIZE[,SIZE…]=PATH with BENCH in {', '.join(BENCHMARKS)} "
                         f"and SIZE in {', '.join(SIZES)}")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    measures = data.get("runs", [])
    if data.get("benchmark") != bench or len(measures) != len(names):
        raise SystemExit(f"--import {spec!r}: {path} holds {len(measures)} run(s) of {data.get('benchmark')!r}, "
                         f"expected {len(names)} of {bench!r}")
    loads = [float(m["load"]) for m in measures if m.get("load") is not None] or [0.0]
    return Run(bench, names, [f"(imported from {path})"], sum(float(m.get("levier_s") or 0) for m in measures),
               max(int(m.get("levier_rss") or 0) for m in measures), "ok", (loads[0], loads[-1]), measures, [])


def render(path: Path, write: bool) -> int:
    """Rewrite the suite and growth sections from a saved run (no benchmark is run)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    runs = [Run(**{**r, "load": tuple(r["load"])}) for r in data["runs"]]
    args = argparse.Namespace(command=data["command"], sizes=data["sizes"], updates=data.get("updates", []))
    suite = suite_section(runs, args, data["started"], data["wall"], tuple(data["loads"]))
    growth = growth_section(runs, args, data["started"])
    print(suite)
    print(growth)
    if write:
        write_section("suite", suite)
        write_section("growth", growth)
    return 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Run every benchmark at several sizes and record the suite and growth sections.")
    ap.add_argument("--sizes", default=",".join(DEFAULT_SIZES), help=f"comma-separated among {', '.join(SIZES)} (default 1M,10M)")
    ap.add_argument("--only", default=",".join(DEFAULT_ONLY), help=f"comma-separated among {', '.join(BENCHMARKS)}")
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny size, no peers; policy/web/kpi/sessions only check their --help")
    ap.add_argument("--no-write", action="store_true", help="print only: no section is written (passed on to every benchmark)")
    ap.add_argument("--keep-sections", action="store_true",
                    help="the benchmarks' own sections stay as they are (e.g. a 100M run added with --update): only suite and growth are written")
    ap.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per benchmark subprocess")
    ap.add_argument("--update", action="store_true",
                    help=f"run only --only and replace those benchmarks in the saved run ({SAVED.name}), then rewrite the sections")
    ap.add_argument("--import", dest="imports", action="append", default=[], metavar="BENCH:SIZES=JSON",
                    help="merge a benchmark's own --json output, run outside the suite (e.g. by hand at 100M), into the saved run "
                         "(as --update does) and rewrite the sections; no benchmark is run; repeatable")
    ap.add_argument("--render", type=Path, help=f"only re-render the sections from a saved run (e.g. {SAVED.relative_to(HERE.parent)})")
    args = ap.parse_args(argv)
    args.command = "benchmarks/run_all.py" + ("" if argv is None and len(sys.argv) == 1 else " " + shlex.join(sys.argv[1:] if argv is None else argv))
    args.sizes = ["quick"] if args.quick else [s.strip() for s in args.sizes.split(",") if s.strip()]
    args.only = [b.strip() for b in args.only.split(",") if b.strip()]
    bad = [s for s in args.sizes if s not in SIZES] + [b for b in args.only if b not in BENCHMARKS]
    if bad:
        ap.error(f"unknown size or benchmark: {', '.join(bad)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.render:
        return render(args.render, not args.no_write)
    if args.imports:
        args.update, args.sizes = True, _ordered({n for spec in args.imports for n in imported(spec).sizes})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(HERE.parent / "src"), os.environ.get("PYTHONPATH")])))
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    loads0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="levier-suite-") as tmp:
        runs += [imported(spec) for spec in args.imports]
        for name in [] if args.imports else args.only:
            bench = BENCHMARKS[name]
            for sizes, extra in bench.calls(args.sizes, args.quick):
                extra = extra + (["--no-write"] if (args.no_write or args.keep_sections) and name in OWN else [])
                if args.quick and name not in OWN:
                    run = _help_check(name, extra, env)
                else:
                    print(f"[{time.strftime('%H:%M:%S')}] {name} {' '.join(extra)}", flush=True)
                    run = _run(name, sizes, extra, Path(tmp), args.timeout, env)
                runs.append(run)
                print(f"[{time.strftime('%H:%M:%S')}] {name}: {run.status}, {run.seconds:.1f} s, tree peak RSS {_gib(run.tree_rss)}", flush=True)
    wall = time.perf_counter() - t0
    loads = (loads0, os.getloadavg()[0])
    runs = merge_runs([], runs)  # a benchmark called twice (its 100M size in a lighter mode) is one run
    shown = args
    if args.update and SAVED.exists():
        runs, shown, started, wall, loads = _merge(runs, args, started)
    suite = suite_section(runs, shown, started, wall, loads)
    growth = growth_section(runs, shown, started)
    print(suite)
    print(growth)
    if not args.no_write:
        save(runs, shown, started, wall, loads)
        write_section("suite", suite)
        write_section("growth", growth)
    return 0 if all(r.status.startswith("ok") for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
