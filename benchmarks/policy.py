"""Benchmark: the contact-policy check, in process and over HTTP on loopback.

Workload: the demo workspace of each ``--leads`` size (``benchmarks/_demo.py``; a private copy in
benchmarks/_data/policy_ws_<leads> so the state file does not touch the shared one). Per size:
1. build the policy state from the facts (one engine query streamed in record batches + the
   weekly counters) and its memory-mapped snapshot, in a child process: wall and CPU seconds,
   peak RSS (``ru_maxrss``) and peak anonymous RSS (``RssAnon`` of /proc/self/status, sampled
   every 20 ms: the touched pages of memory-mapped files are not in it) (``--skip-build`` reuses
   them);
2. in process: ``Policy.check`` on a fixed plan of random leads / channels / times (leads drawn
   deterministically, so the SHA-256 of the first 30,000 answers compares code versions), wall
   and CPU time;
3. over HTTP: ``levier serve --workers N`` on 127.0.0.1 and an open-loop raw-asyncio client
   sending ``POST /api/v1/policy/check`` at steady rates (default 500 req/s for 20 s, and a
   sweep); latency from the scheduled send time (no coordinated omission) and from the actual
   send time; CPU of the server processes and of the generator itself.
Targets: ≥ 20,000 checks/s in process; p99 < 20 ms over HTTP at 500 req/s. Writes
benchmarks/results/policy.md (``_results.write_section``); ``--json PATH`` also writes the runs
for ``run_all.py`` (``{"benchmark": "policy", "runs": [...]}``, one dict per size).

    .venv/bin/python benchmarks/policy.py [--leads 100000 1000000] [--checks 200000] [--rate 500] [--seconds 20]
        [--workers 2] [--sweep 200,300,400] [--skip-build] [--skip-http] [--json PATH] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _demo import DATA, copy_ws  # noqa: E402
from _results import emit, machine_line, output_args  # noqa: E402

CHANNELS = ["email", "call", "sms", "social"]


def _prepare(leads: int, fresh: bool) -> Path:
    """The private copy of the demo workspace of that size (copied again unless reused with --skip-build)."""
    ws = DATA / f"policy_ws_{leads}"
    if fresh or not (ws / "facts.duckdb").exists():
        shutil.rmtree(ws, ignore_errors=True)
        copy_ws(leads, ws)
    return ws


_CHILD = """
import json, resource, sys, threading, time
from pathlib import Path
peak = [0]
def anon():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith("RssAnon:"))
def sample():
    while True:
        peak[0] = max(peak[0], anon())
        time.sleep(0.02)
threading.Thread(target=sample, daemon=True).start()
from levier.policy import Policy
from levier.workspace import open_workspace
ws = open_workspace(Path(sys.argv[1]))
c0, t0 = time.process_time(), time.perf_counter()
p = Policy.load(ws, rebuild=True)
secs, cpu = time.perf_counter() - t0, time.process_time() - c0
peak[0] = max(peak[0], anon())
snap = p.store.snapshot()
print(json.dumps({"build_s": secs, "build_cpu_s": cpu, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "rss_anon": peak[0], "leads": p.store.count(), "snapshot_mb": snap.nbytes() / 2**20 if snap else 0.0}))
"""


def build(ws_path: Path) -> dict:
    """State + snapshot rebuilt from the facts in a child process: seconds, peak RSS and peak RssAnon."""
    load = _load()
    out = subprocess.run([sys.executable, "-c", _CHILD, str(ws_path)], capture_output=True, text=True, check=False)
    if out.returncode:
        sys.exit(f"policy build failed:\n{out.stderr[-3000:]}")
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "build_load": load, "build_load_after": _load()}


def _times(n: int, rng: random.Random) -> list[str]:
    base = datetime(2026, 10, 5, 6, 0)
    return [(base + timedelta(minutes=rng.randrange(0, 14 * 24 * 60))).isoformat() for _ in range(n)]


def _load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def _plan(policy: object, checks: int) -> tuple[list[str], list[tuple[str, str, str]]]:
    """100,000 leads (every 10th id) and the checks: deterministic, so answers compare across versions."""
    leads = [r[0] for r in policy.store.con.execute("SELECT lead_id FROM leads ORDER BY lead_id")][::10]  # type: ignore[attr-defined]
    rng = random.Random(7)
    sample = [rng.choice(leads) for _ in range(100_000)]
    base = datetime(2026, 10, 5, 6, 0)
    plan = [(rng.choice(sample), rng.choice(CHANNELS), (base + timedelta(minutes=rng.randrange(0, 14 * 24 * 60))).isoformat())
            for _ in range(checks)]
    return sample, plan


def in_process(ws_path: Path, checks: int, rebuild: bool = False) -> dict:
    from levier.policy import Policy
    from levier.policy.snapshot import snapshot_dir
    from levier.workspace import open_workspace

    ws = open_workspace(ws_path)
    out: dict = {"load_before": _load()}
    t0 = time.perf_counter()
    policy = Policy.load(ws, rebuild=rebuild)
    out["load_s"] = time.perf_counter() - t0
    snap = policy.store.snapshot()
    out["snapshot_mb"] = snap.nbytes() / 2**20 if snap is not None else 0.0
    out["snapshot_files_mb"] = sum(f.stat().st_size for f in snapshot_dir(policy.store.path).rglob("*.npy")) / 2**20
    sample, plan = _plan(policy, max(checks, 32_000))
    digest = hashlib.sha256()
    for lead, ch, at in plan[:30_000]:
        digest.update(json.dumps(policy.check(lead, ch, at).to_dict(), sort_keys=True, default=str).encode())
    out["sha256_30k"] = digest.hexdigest()
    for lead, ch, at in plan[30_000:32_000]:
        policy.check(lead, ch, at)
    plan = plan[:checks]
    counts: dict[str, int] = {}
    c0, t0 = time.process_time(), time.perf_counter()
    for lead, ch, at in plan:
        d = policy.check(lead, ch, at)
        counts[d.decision] = counts.get(d.decision, 0) + 1
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    out.update(checks=checks, seconds=secs, cpu_s=cpu, per_s=checks / secs, cpu_per_s=checks / cpu, decisions=counts,
               leads=policy.store.count(), touches=int(ws.facts.count("touches")), load_after=_load(),
               rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, sample=sample)
    policy.close()
    ws.close()
    return out


def _token(ws_path: Path) -> str:
    from levier.loop.services import users
    from levier.workspace import open_workspace

    with open_workspace(ws_path) as ws, ws.session() as s:
        name = f"bench-{int(time.time())}"
        u = users.create_user(s, name, role="viewer")
        token = users.create_token(s, u.id, "bench")[1]
        s.commit()
    return token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return total


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, payload: bytes) -> tuple[int, bytes]:
    """One request on a keep-alive connection: (status, X-Levier-Worker)."""
    writer.write(head + str(len(payload)).encode() + b"\r\n\r\n" + payload)
    status = int((await reader.readline()).split()[1])
    length, worker = 0, b"?"
    while (line := await reader.readline()) not in (b"\r\n", b""):
        low = line.lower()
        if low.startswith(b"content-length:"):
            length = int(line.split(b":")[1])
        elif low.startswith(b"x-levier-worker:"):
            worker = line.split(b":")[1].strip()
    await reader.readexactly(length)
    return status, worker


def _head(token: str) -> bytes:
    return (b"POST /api/v1/policy/check HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token.encode()
            + b"\r\nContent-Type: application/json\r\nContent-Length: ")


async def _connect(port: int, token: str, lead: str, n: int, workers: int) -> list[tuple]:
    """``n`` keep-alive connections spread evenly over the server's worker processes (each probed once,
    which also loads the policy in every worker); extra connections to a full worker are closed."""
    per_worker = -(-n // workers)
    kept: list[tuple] = []
    seen: dict[bytes, int] = {}
    probe = json.dumps({"lead_id": lead, "channel": "email"}).encode()
    for _ in range(n * 12):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        _status, worker = await _request(reader, writer, _head(token), probe)
        if seen.get(worker, 0) < per_worker:
            seen[worker] = seen.get(worker, 0) + 1
            kept.append((reader, writer))
        else:
            writer.close()
        if len(kept) == n:
            break
    return kept


async def _worker(conn: tuple, queue: asyncio.Queue, token: str, out: dict) -> None:
    """One keep-alive HTTP/1.1 connection taking requests from the queue (raw asyncio streams: a
    pooled client library adds more latency than the server at this rate)."""
    reader, writer = conn
    head = _head(token)
    while True:
        item = await queue.get()
        if item is None:
            writer.close()
            return
        due, payload = item
        sent = time.perf_counter()
        status, worker = await _request(reader, writer, head, payload)
        end = time.perf_counter()
        out["sched"].append(end - due)
        out["send"].append(end - sent)
        out["workers"][worker] = out["workers"].get(worker, 0) + 1
        if status != 200:
            out["errors"].append(status)


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")


async def _load_run(port: int, token: str, leads: list[str], rate: int, seconds: float, server_pid: int,
                    connections: int, n_workers: int) -> dict:
    rng = random.Random(11 + rate)
    n = int(rate * seconds)
    times = _times(n, rng)
    bodies = [json.dumps({"lead_id": rng.choice(leads), "channel": rng.choice(CHANNELS), "at": times[i]}).encode() for i in range(n)]
    out: dict = {"sched": [], "send": [], "errors": [], "workers": {}}
    queue: asyncio.Queue = asyncio.Queue()
    conns = await _connect(port, token, leads[0], connections, n_workers)
    workers = [asyncio.create_task(_worker(conn, queue, token, out)) for conn in conns]
    for i in range(600):  # warm-up: each worker's policy loaded, connections open
        await queue.put((time.perf_counter(), json.dumps({"lead_id": leads[i % len(leads)], "channel": "email"}).encode()))
    while queue.qsize():
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    for k in ("sched", "send", "errors"):
        out[k].clear()
    out["workers"] = {}
    load0, cpu_server0, cpu_gen0 = _load(), _tree_cpu(server_pid), time.process_time()
    start = time.perf_counter() + 0.2
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, bodies[i]))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    wall = time.perf_counter() - start
    sched, send = out["sched"], out["send"]
    return {"rate": rate, "requests": len(sched), "errors": len(out["errors"]), "wall_s": wall, "achieved_rps": len(sched) / wall,
            "p50": _pct(sched, 0.50), "p90": _pct(sched, 0.90), "p99": _pct(sched, 0.99), "max": max(sched) * 1000,
            "send_p50": _pct(send, 0.50), "send_p99": _pct(send, 0.99),
            "server_cpu_ms_per_req": (_tree_cpu(server_pid) - cpu_server0) * 1000 / max(1, len(sched)),
            "gen_cpu_ms_per_req": (time.process_time() - cpu_gen0) * 1000 / max(1, len(sched)),
            "per_worker": sorted(out["workers"].values(), reverse=True), "load_before": load0, "load_after": _load()}


#: The app the HTTP benchmark serves: Levier's factory wrapped by the check fast path (docs/decisions/0141).
FACTORIES = {"fast": "levier.web.routes.api.policy_fast:app_from_env", "routed": "levier.web.app:app_from_env"}


def over_http(ws_path: Path, leads: list[str], rates: list[int], seconds: float, workers: int, connections: int,
              app: str) -> list[dict]:
    """uvicorn with ``workers`` processes on the app factory (as ``levier serve --workers`` runs it)."""
    token = _token(ws_path)
    port = _free_port()
    env = {**os.environ, "LEVIER_WORKSPACE": str(ws_path), "LEVIER_FACTS_READ_ONLY": "1" if workers > 1 else "0",
           "LEVIER_WEB_WORKERS": str(workers), "LEVIER_SECURE_COOKIES": "0"}
    code = (f"import uvicorn; uvicorn.run({FACTORIES[app]!r}, factory=True, host='127.0.0.1', port={port}, workers={workers}, "
            "log_level='warning', access_log=False, timeout_worker_healthcheck=120)")
    server = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.DEVNULL)
    try:
        for _ in range(900):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(3 if workers > 1 else 0)  # every worker process up before the connections are spread
        results = []
        for rate in rates:
            r = asyncio.run(_load_run(port, token, leads, rate, seconds, server.pid, connections, workers))
            r["app"] = app
            print(r, flush=True)
            results.append(r)
        return results
    finally:
        server.terminate()  # the server this benchmark started (its pid), not a broad kill
        server.wait(30)


def _http_row(r: dict) -> str:
    ok = "met" if r["p99"] < 20 and r["errors"] == 0 else "missed"
    return (f"| {r['app']} | {r['rate']} | {r['achieved_rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.0f} | {r['send_p99']:.1f} | "
            f"{r['server_cpu_ms_per_req']:.2f} | {r['gen_cpu_ms_per_req']:.2f} | {'/'.join(map(str, r['per_worker']))} | "
            f"{r['load_before']}→{r['load_after']} | {ok} |")


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def _build_row(r: dict) -> str:
    b = r.get("build")
    if b is None:
        return f"| {r['leads']:,} | {r['touches']:,} | reused | – | – | – | – |"
    return (f"| {r['leads']:,} | {r['touches']:,} | {b['build_s']:.1f} | {b['build_cpu_s']:.1f} | {_mib(b['rss'])} | "
            f"**{_mib(b['rss_anon'])}** | {b['build_load']}→{b['build_load_after']} |")


def _check_row(r: dict) -> str:
    loc = r["local"]
    ok = "met" if loc["per_s"] >= 20_000 else "missed"
    return (f"| {r['leads']:,} | **{loc['per_s']:,.0f}/s** wall ({1e6 / loc['per_s']:.1f} µs) · {loc['cpu_per_s']:,.0f}/s CPU | "
            f"`{loc['sha256_30k'][:16]}…` | {loc['snapshot_mb']:.0f} MiB | {loc['load_before']}→{loc['load_after']} | {ok} |")


def render(runs: list[dict], workers: int, connections: int, history: str) -> str:
    builds = "\n".join(_build_row(r) for r in runs)
    checks = "\n".join(_check_row(r) for r in runs)
    http = "\n".join(f"| {r['leads']:,} " + _http_row(h) for r in runs for h in r["http"])
    dec = "; ".join(f"{r['leads']:,} leads: " + ", ".join(f"{k} {v:,}" for k, v in sorted(r["local"]["decisions"].items())) for r in runs)
    sizes = " ".join(str(r["leads"]) for r in runs)
    return f"""## Policy

`benchmarks/policy.py --leads {sizes}` — {date.today().isoformat()} — {machine_line()}; 2 cores shared with other jobs (load average given per figure).
Workspaces: the demo of each size (`benchmarks/_demo.py`, seed 7), a private copy each.

**Build** of the state (SQLite) and its memory-mapped snapshot from the facts, in a child process
(`Policy.load(rebuild=True)`): the engine query read in Arrow record batches of 50,000 leads, written
to a staged SQLite file batch by batch, swapped in one transaction, the snapshot written from SQLite
chunk by chunk (decision 0185). Peak RSS = `ru_maxrss`; peak RssAnon = anonymous memory sampled every
20 ms (without the touched pages of memory-mapped files). With DuckDB the engine runs *in* this process:
its own working memory for the query (a window over every touch) is part of both figures.

| leads | touches | build s | CPU s | peak RSS | peak RssAnon | load |
|---:|---:|---:|---:|---:|---:|---|
{builds}

**In-process `Policy.check`** ({runs[0]['local']['checks']:,} random checks per size, same plan as before; the SHA-256 of the
first 30,000 answers compares code versions — at 1,000,000 leads it must stay `ece1daa502daf2bb…`):

| leads | checks/s | SHA-256 (30k answers) | snapshot | load | ≥ 20,000/s |
|---|---|---|---:|---|---|
{checks}

Decisions: {dec}.

Over HTTP: uvicorn `--workers {workers}` ({_http_stack()}) serving `{FACTORIES["fast"]}` — the app of `levier serve` with the check
answered before routing (decision 0141) —, token auth on every request, {connections} keep-alive
connections from an open-loop raw-asyncio generator on the same 2 cores; latency from the *scheduled* send time
(a stalled server cannot hide its queue), "sent p99" from the actual send time.

| leads | app | req/s asked | achieved | p50 ms | **p99 ms** | max ms | sent p99 ms | server CPU ms/req | generator CPU ms/req | requests per worker | load | p99 < 20 ms |
|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|
{http}
{history}"""


def _json_run(r: dict, rate: int) -> dict:
    """The run dict of the wave-4 contract (run_all.py) for one size."""
    b, loc = r.get("build") or {}, r["local"]
    h = next((x for x in r["http"] if x["rate"] == rate and x["app"] == "fast"), r["http"][0] if r["http"] else None)
    note = f"{loc['per_s']:,.0f} checks/s"
    if h is not None:
        note += f"; p99 {h['p99']:.1f} ms at {h['rate']} req/s"
    if b:
        note += f"; build RssAnon {b['rss_anon'] / 2**20:,.0f} MiB"
    return {"leads": r["leads"], "touches": r["touches"], "levier_s": b.get("build_s"), "levier_rss": b.get("rss"),
            "rss_anon": b.get("rss_anon"), "load": r["load"], "checks_per_s": loc["per_s"], "sha256_30k": loc["sha256_30k"],
            "http_p99_ms": h["p99"] if h is not None else None, "note": note}


def _http_stack() -> str:
    """The HTTP protocol and event loop uvicorn picks with ``http="auto"`` / ``loop="auto"``."""
    import importlib.util

    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{http} + {loop}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checks", type=int, default=200_000)
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--sweep", default="", help="other rates to measure, e.g. 200,300,400")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=64, help="keep-alive connections (enough that a latency spike does not cap the rate)")
    ap.add_argument("--skip-build", action="store_true", help="reuse the state and snapshot (no rebuild from the facts)")
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--app", default="fast", help="fast (check before routing), routed (plain app), or both: fast,routed")
    ap.add_argument("--history", type=Path, default=Path(__file__).resolve().parent / "history" / "policy.md",
                    help="a Markdown file appended to the section (earlier measurements; default benchmarks/history/policy.md)")
    ap.add_argument("--leads", type=int, nargs="+", default=[1_000_000], help="demo sizes (leads), e.g. 100000 1000000")
    args = output_args(ap).parse_args()
    rates = sorted({args.rate, *(int(x) for x in args.sweep.split(",") if x.strip())})
    runs = []
    for leads in args.leads:
        run: dict = {"leads": leads, "load": float(_load())}
        ws = _prepare(leads, fresh=not args.skip_build)
        run["build"] = None if args.skip_build else build(ws)
        print(leads, run["build"], flush=True)
        local = in_process(ws, args.checks)
        run["touches"], run["local"] = local["touches"], local
        print({k: v for k, v in local.items() if k != "sample"}, flush=True)
        run["http"] = [] if args.skip_http else [r for app in args.app.split(",")
                                                 for r in over_http(ws, local["sample"], rates, args.seconds, args.workers, args.connections, app)]
        local.pop("sample")
        runs.append(run)
    history = args.history.read_text(encoding="utf-8") if args.history else ""
    emit(args, "policy", render(runs, args.workers, args.connections, history), [_json_run(r, args.rate) for r in runs])


if __name__ == "__main__":
    main()
