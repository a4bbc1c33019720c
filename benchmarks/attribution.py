"""Attribution benchmark: exact Markov (order 1 and 3) and Shapley on 1M journeys, side by side
with ChannelAttribution (its default Monte Carlo run) on the same path counts.

Journeys are drawn from the demo generator's first-order chain (levier.data.demo.truth.TRANSITIONS),
aggregated to path counts (what the engine hands to the models). Each timing runs in its own
subprocess; peak RSS is that child's ``VmHWM``. ChannelAttribution is GPL: it is installed
only into a throwaway venv under benchmarks/_data/ (gitignored), never a dependency of Levier.

    .venv/bin/python benchmarks/attribution.py [--journeys 1000000] [--seed 7] [--no-peer]

Results replace the "## Attribution" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
RESULTS = HERE / "RESULTS.md"
VENV = DATA / "ca-venv"
PY = sys.executable


def simulate(journeys: int, seed: int) -> pd.DataFrame:
    """Path counts of ``journeys`` walks of the demo chain (start → channels → conversion/null)."""
    from levier.data.demo.truth import JOURNEY_STATES, TRANSITIONS

    names = JOURNEY_STATES[1:7]
    cum = np.cumsum(TRANSITIONS, axis=1)
    rng = np.random.default_rng(seed)
    n_ch = len(names)
    state = np.zeros(journeys, dtype=np.int64)  # row index in TRANSITIONS (0 = start)
    codes = np.zeros(journeys, dtype=np.int64)  # path encoded in base (n_ch + 1), most recent last
    length = np.zeros(journeys, dtype=np.int64)
    outcome = np.full(journeys, -1)
    active = np.arange(journeys)
    while active.size:
        nxt = np.minimum((rng.random(active.size)[:, None] > cum[state[active]]).sum(axis=1), n_ch + 1)
        done = nxt >= n_ch
        outcome[active[done]] = nxt[done] - n_ch  # 0 conversion, 1 null
        go = active[~done]
        codes[go] = codes[go] * (n_ch + 1) + nxt[~done] + 1
        length[go] += 1
        state[go] = nxt[~done] + 1
        active = go
    keep = length > 0
    df = pd.DataFrame({"code": codes[keep], "conv": (outcome[keep] == 0).astype(int)})
    agg = df.groupby("code")["conv"].agg(["sum", "count"]).reset_index()

    def decode(c: int) -> str:
        out = []
        while c:
            c, d = divmod(c, n_ch + 1)
            out.append(names[d - 1])
        return ">".join(reversed(out))

    return pd.DataFrame({"path": [decode(int(c)) for c in agg["code"]], "total_conversions": agg["sum"],
                         "total_null": agg["count"] - agg["sum"], "total_conversion_value": agg["sum"] * 1000.0})


HWM = r"""
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
"""

OURS = HWM + r"""
import json, statistics, sys, time
import pandas as pd
from levier.analysis.attribution import PathCounts, markov, shapley
df = pd.read_csv(sys.argv[1])
model, repeats = sys.argv[2], int(sys.argv[3])
times = []
for i in range(repeats + 1):  # run 0 = warm-up (lazy imports, caches), not timed
    t = time.perf_counter()
    pc = PathCounts.from_arrays(df["path"], df["total_conversions"], df["total_null"], df["total_conversion_value"])
    r = shapley(pc) if model == "shapley" else markov(pc, order=int(model[-1]))
    if i:
        times.append(time.perf_counter() - t)
print(json.dumps({"seconds": statistics.median(times), "min": min(times), "runs": times, "rss": hwm(),
                  "credits": dict(zip(r.channels, r.conversions))}))
"""

PEER = HWM + r"""
import json, statistics, sys, time, io, contextlib
import pandas as pd
from ChannelAttribution import markov_model
df = pd.read_csv(sys.argv[1])
order, repeats = int(sys.argv[2]), int(sys.argv[3])
times = []
for i in range(repeats + 1):  # run 0 = warm-up, not timed
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        res = markov_model(df, "path", "total_conversions", var_null="total_null", order=order, sep=">")
    if i:
        times.append(time.perf_counter() - t)
print(json.dumps({"seconds": statistics.median(times), "min": min(times), "runs": times, "rss": hwm(),
                  "credits": dict(zip(res["channel_name"], res["total_conversions"].astype(float)))}))
"""


def run(code: str, args: list[str], python: str = PY) -> dict:
    env = dict(os.environ, PYTHONPATH=str(HERE.parent / "src"))
    out = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, env=env, timeout=3600)
    if out.returncode:
        return {"error": (out.stderr or out.stdout).strip().splitlines()[-1][:300]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def install_peer() -> str | None:
    """Create the throwaway venv and install ChannelAttribution; return an error text or None."""
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([PY, "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(py), "-c", "from ChannelAttribution import markov_model"], capture_output=True)
    if probe.returncode == 0:
        return None
    out = subprocess.run([str(py), "-m", "pip", "install", "-q", "channelattribution", "pandas", "matplotlib"], capture_output=True, text=True)
    if out.returncode:
        lines = [ln for ln in (out.stderr or out.stdout).splitlines() if ln.strip()]
        return " / ".join(lines[-3:])[:400]
    return None


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {mem:.1f} GiB RAM, Python {platform.python_version()}"


def max_rel_error(peer: dict, ours: dict) -> tuple[float, str]:
    worst, name = 0.0, ""
    for ch, v in ours.items():
        e = abs(peer.get(ch, 0.0) - v) / v if v else 0.0
        if e > worst:
            worst, name = e, ch
    return worst, name


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--journeys", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--repeats", type=int, default=5, help="Timed runs per model and round.")
    ap.add_argument("--rounds", type=int, default=5, help="Interleaved rounds (fresh subprocess per model and round).")
    a = ap.parse_args()
    DATA.mkdir(exist_ok=True)
    t = time.perf_counter()
    paths = simulate(a.journeys, a.seed)
    sim_s = time.perf_counter() - t
    csv = DATA / f"paths-{a.journeys}-{a.seed}.csv"
    paths.to_csv(csv, index=False)
    conv = int(paths["total_conversions"].sum())
    print(f"{a.journeys:,} journeys → {len(paths):,} distinct paths, {conv:,} conversions ({sim_s:.1f} s)")
    rows = []
    peer_err = None if a.no_peer else install_peer()
    jobs = [("levier", m, OURS, [m], PY) for m in ("markov1", "markov3", "shapley")]
    if not a.no_peer and peer_err is None:
        jobs += [("ca", f"markov{k}", PEER, [str(k)], str(VENV / "bin" / "python")) for k in (1, 3)]
    results: dict[tuple[str, str], list[dict]] = {}
    a.load = [os.getloadavg()[0]]
    for rnd in range(a.rounds):  # interleaved rounds: every contender sees the same machine load
        for who, model, code, extra, python in jobs:
            r = run(code, [str(csv), *extra, str(a.repeats)], python)
            results.setdefault((who, model), []).append(r)
            print(f"round {rnd + 1}", who, model, {k: v for k, v in r.items() if k not in ("credits", "runs")})
    a.load.append(os.getloadavg()[0])
    ours = {m: _merge(results.get(("levier", m), [])) for m in ("markov1", "markov3", "shapley")}
    peer = {m: _merge(results[("ca", m)]) for m in ("markov1", "markov3") if ("ca", m) in results}
    for model, label in (("markov1", "Markov order 1"), ("markov3", "Markov order 3"), ("shapley", "Shapley (simplified)")):
        o, p = ours[model], peer.get(model, {})
        err = max_rel_error(p["credits"], o["credits"]) if "credits" in p and "credits" in o else None
        rows.append((label, o, p, err))
    write_results(a, len(paths), conv, rows, peer_err)


def _merge(runs: list[dict]) -> dict:
    """Pool the timed runs of every round: median and minimum over all of them."""
    good = [r for r in runs if "runs" in r]
    if not good:
        return runs[0] if runs else {}
    times = [t for r in good for t in r["runs"]]
    return {"seconds": statistics.median(times), "min": min(times), "n": len(times),
            "rss": max(r["rss"] for r in good), "credits": good[-1]["credits"]}


def _fmt_run(r: dict) -> tuple[str, str]:
    if not r:
        return "–", "–"
    if "error" in r:
        return "error", "–"
    return f"{1000 * r['seconds']:.1f} (min {1000 * r['min']:.1f})", f"{r['rss'] / 2**30:.2f} GiB"


def write_results(a: argparse.Namespace, n_paths: int, conv: int, rows: list, peer_err: str | None) -> None:
    lines = ["## Attribution", "",
             f"`benchmarks/attribution.py --journeys {a.journeys} --seed {a.seed} --rounds {a.rounds} --repeats {a.repeats}` — {dt.date.today()} — {machine()}.",
             f"{a.journeys:,} journeys drawn from the demo generator's channel chain → {n_paths:,} distinct paths, {conv:,} conversions.",
             f"Each model runs in its own subprocess on the same path-count CSV: {a.rounds} interleaved rounds (levier and "
             f"ChannelAttribution alternate, so both see the same load), each one warm-up then {a.repeats} timed runs; "
             "time = median (and minimum) over the pooled runs, in milliseconds from the loaded DataFrame to the credits — for levier: parse the path strings "
             "(`PathCounts.from_arrays`), build the chain, solve every removal; peak RSS = that child's `VmHWM`.",
             "ChannelAttribution = `markov_model(…, order=K)` with its defaults (Monte Carlo simulation), in a throwaway venv.", "",
             "| model | levier ms (exact) | levier peak RSS | ChannelAttribution ms | CA peak RSS | levier / CA time | CA max error vs exact |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label, o, p, err in rows:
        os_, orss = _fmt_run(o)
        ps, prss = _fmt_run(p) if label.startswith("Markov") else ("n/a", "n/a")
        ratio = f"{o['seconds'] / p['seconds']:.2f}×" if "seconds" in o and "seconds" in (p or {}) else "n/a"
        e = f"{100 * err[0]:.1f} % ({err[1]})" if err else ("n/a" if not label.startswith("Markov") else "–")
        lines.append(f"| {label} | {os_} | {orss} | {ps} | {prss} | {ratio} | {e} |")
    lines.append("")
    timed = [(o["seconds"], p["seconds"]) for _label, o, p, _e in rows if "seconds" in o and "seconds" in (p or {})]
    if timed:
        met = all(x < y for x, y in timed)
        lines += [f"Target (exact answers in less time than ChannelAttribution's default run): **{'met' if met else 'not met'}** "
                  "on both Markov orders (medians).", "",
                  "How: channels are encoded as integers once (`levier.analysis.attribution.encode`: the path strings are "
                  "normalised in one joined string, split once, and mapped through a dict — no per-step Python parsing); "
                  "an order-k state is the mixed-radix integer of its last k channel codes, computed for every step of every "
                  "path with shifted NumPy arrays; transitions are summed by one sparse COO→CSR conversion; the baseline and "
                  "every removal system (removed states replaced by identity rows) are stacked into one block-diagonal "
                  "sparse matrix solved by a single SuperLU factorisation. About two thirds of the remaining time is "
                  "turning the path strings into integer codes.", ""]
    if peer_err:
        lines += [f"ChannelAttribution could not be installed here: `{peer_err}`", ""]
    lines += ["Same model, same states: ChannelAttribution's order-k states are the sliding windows of k consecutive "
              "channels (the whole path when shorter), entered straight from the start, with consecutive equal windows "
              "merged; levier's are the last k channels including the shorter prefixes at the start of a journey. The "
              "prefixes form a tree that reaches each first window with its observed frequency, and dropping self-loops "
              "does not change absorption probabilities, so both chains give the same exact removal effects "
              "(tests/analysis/attribution/test_encode.py checks it against an independent dense solve on CA's states, "
              "orders 1–4). CA's credit — share of simulated converting walks visiting the channel — estimates the same "
              "normalised removal effect, so its error column is Monte Carlo noise, not a definition gap.",
              "Error = max over channels of |CA credit − exact credit| / exact credit (attributed conversions).",
              "Shapley has no ChannelAttribution counterpart (the open-source package provides heuristic and Markov models).",
              "The machine is shared with other contributors' test runs: absolute times are noisy; medians of several runs "
              f"are reported for that reason (1-minute load average {a.load[0]:.1f} at the start, {a.load[1]:.1f} at the end, on 2 cores).", ""]
    section = "\n".join(lines)
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if re.search(r"^## Attribution\n", text, flags=re.M):
        text = re.sub(r"## Attribution\n.*?(?=\n## |\Z)", lambda _m: section.rstrip("\n") + "\n", text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")
    print(section)


if __name__ == "__main__":
    main()
