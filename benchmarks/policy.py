"""Benchmark: the contact-policy check, in process and over HTTP on loopback.

Workload: the 1M-lead demo workspace (benchmarks/_data/demo_1000000, reused; copied to
benchmarks/_data/policy_ws so the state file does not touch the shared one). Steps:
1. build the policy state from the facts (one engine query + the weekly counters), timed;
2. in process: ``Policy.check`` on random leads / channels / times for a fixed number of checks;
3. over HTTP: uvicorn (one process) on 127.0.0.1, an open-loop client (8 keep-alive connections) sending
   ``POST /api/v1/policy/check`` at a steady rate (default 500 req/s for 20 s); latency from the
   scheduled send time (no coordinated omission) and from the actual send time.
Targets: ≥ 20,000 checks/s in process; p99 < 20 ms over HTTP. Writes "## Policy" in RESULTS.md.

    .venv/bin/python benchmarks/policy.py [--checks 200000] [--rate 500] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "_data"
SOURCE = DATA / "demo_1000000" / "ws"
WS = DATA / "policy_ws"
CHANNELS = ["email", "call", "sms", "social"]


def _prepare() -> Path:
    if not (WS / "facts.duckdb").exists():
        if not (SOURCE / "facts.duckdb").exists():
            sys.exit(f"missing {SOURCE}: build it with the audit benchmark first (1M-lead demo workspace)")
        WS.mkdir(parents=True, exist_ok=True)
        for name in ("facts.duckdb", "levier.toml", "loop.sqlite"):
            shutil.copy2(SOURCE / name, WS / name)
    return WS


def _times(n: int, rng: random.Random) -> list[str]:
    base = datetime(2026, 10, 5, 6, 0)
    return [(base + timedelta(minutes=rng.randrange(0, 14 * 24 * 60))).isoformat() for _ in range(n)]


def in_process(ws_path: Path, checks: int) -> dict[str, float]:
    from levier.policy import Policy
    from levier.workspace import open_workspace

    ws = open_workspace(ws_path)
    t0 = time.perf_counter()
    policy = Policy.load(ws, rebuild=True)
    build = time.perf_counter() - t0
    leads = [r[0] for r in policy.store.con.execute("SELECT lead_id FROM leads ORDER BY random() LIMIT 100000")]
    rng = random.Random(7)
    plan = list(zip([rng.choice(leads) for _ in range(checks)], [rng.choice(CHANNELS) for _ in range(checks)], _times(checks, rng), strict=True))
    counts: dict[str, int] = {}
    for lead, ch, at in plan[:2000]:
        policy.check(lead, ch, at)
    t0 = time.perf_counter()
    for lead, ch, at in plan:
        d = policy.check(lead, ch, at)
        counts[d.decision] = counts.get(d.decision, 0) + 1
    secs = time.perf_counter() - t0
    n_leads = policy.store.count()
    touches = int(ws.facts.count("touches"))
    policy.close()
    ws.close()
    return {"build_s": build, "checks": checks, "seconds": secs, "per_s": checks / secs, "leads": n_leads, "touches": touches,
            "decisions": counts, "sample": leads[:2000]}


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


async def _worker(port: int, queue: asyncio.Queue, token: str, out: dict[str, list[float]]) -> None:
    """One keep-alive HTTP/1.1 connection taking requests from the queue (raw asyncio streams: a
    pooled client library adds more latency than the server at this rate)."""
    import json

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    while True:
        item = await queue.get()
        if item is None:
            writer.close()
            return
        due, body = item
        payload = json.dumps(body).encode()
        sent = time.perf_counter()
        writer.write(b"POST /api/v1/policy/check HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token.encode()
                     + b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        end = time.perf_counter()
        out["sched"].append(end - due)
        out["send"].append(end - sent)
        if status != 200:
            out["errors"].append(status)


async def _load(port: int, token: str, leads: list[str], rate: int, seconds: int, connections: int = 8) -> dict[str, float]:
    rng = random.Random(11)
    n = rate * seconds
    times = _times(n, rng)
    out: dict[str, list[float]] = {"sched": [], "send": [], "errors": []}
    queue: asyncio.Queue = asyncio.Queue()
    workers = [asyncio.create_task(_worker(port, queue, token, out)) for _ in range(connections)]
    for i in range(400):  # warm-up: policy loaded, connections open
        await queue.put((time.perf_counter(), {"lead_id": leads[i % len(leads)], "channel": "email"}))
    while queue.qsize():
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    out["sched"].clear(), out["send"].clear(), out["errors"].clear()
    start = time.perf_counter() + 0.2
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((due, {"lead_id": rng.choice(leads), "channel": rng.choice(CHANNELS), "at": times[i]}))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    wall = time.perf_counter() - start

    def pct(xs: list[float], q: float) -> float:
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000

    sched, send = out["sched"], out["send"]
    return {"requests": len(sched), "errors": len(out["errors"]), "wall_s": wall, "achieved_rps": len(sched) / wall,
            "p50": pct(sched, 0.50), "p90": pct(sched, 0.90), "p99": pct(sched, 0.99), "max": max(sched) * 1000,
            "send_p50": pct(send, 0.50), "send_p99": pct(send, 0.99)}


def over_http(ws_path: Path, leads: list[str], rate: int, seconds: int) -> dict[str, float]:
    token = _token(ws_path)
    port = _free_port()
    code = ("import uvicorn; from levier.web.app import create_app; "
            f"uvicorn.run(create_app({str(ws_path)!r}), host='127.0.0.1', port={port}, log_level='warning', access_log=False)")
    server = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        return asyncio.run(_load(port, token, leads, rate, seconds))
    finally:
        server.terminate()
        server.wait(10)


def _machine() -> str:
    try:
        import duckdb

        dv = duckdb.__version__
    except ImportError:  # pragma: no cover
        dv = "?"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {mem:.1f} GiB RAM, Python {platform.python_version()}, DuckDB {dv}"


def write_results(local: dict, http: dict, rate: int, seconds: int) -> str:
    ok_local = "met" if local["per_s"] >= 20_000 else "missed"
    ok_http = "met" if http["p99"] < 20 else "missed"
    dec = ", ".join(f"{k} {v:,}" for k, v in sorted(local["decisions"].items()))
    section = f"""## Policy

`benchmarks/policy.py` — {date.today().isoformat()} — {_machine()}.
Workspace: the 1M-lead demo ({local['leads']:,} leads, {local['touches']:,} touches; `benchmarks/_data/demo_1000000`, seed 7).
State build (one engine query per lead + weekly counters, written to SQLite): **{local['build_s']:.1f} s**.

| measure | value | target |
|---|---:|---|
| in-process `Policy.check`, {local['checks']:,} random checks | **{local['per_s']:,.0f} checks/s** ({1e6 / local['per_s']:.1f} µs each) | ≥ 20,000/s: {ok_local} |
| HTTP `POST /api/v1/policy/check`, {rate} req/s for {seconds} s ({http['requests']:,} requests, {http['errors']} errors) | p50 {http['p50']:.1f} ms · p90 {http['p90']:.1f} ms · **p99 {http['p99']:.1f} ms** · max {http['max']:.1f} ms | p99 < 20 ms: {ok_http} |
| same, latency from the actual send time | p50 {http['send_p50']:.1f} ms · p99 {http['send_p99']:.1f} ms | |

Achieved rate {http['achieved_rps']:.0f} req/s (open loop: latencies count from the scheduled send time, so a stalled
server cannot hide its queue). Decisions in the in-process sample: {dec}. Server: uvicorn, one process, token auth on
every request; the load generator (raw asyncio HTTP/1.1, 8 keep-alive connections) runs on the same 2 shared cores.
"""
    path = ROOT / "RESULTS.md"
    text = path.read_text(encoding="utf-8")
    if "## Policy\n" in text:
        text = re.sub(r"## Policy\n.*?(?=\n## |\Z)", section.rstrip("\n") + "\n", text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")
    return section


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checks", type=int, default=200_000)
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    ws = _prepare()
    local = in_process(ws, args.checks)
    print({k: v for k, v in local.items() if k != "sample"}, flush=True)
    http = over_http(ws, local["sample"], args.rate, args.seconds)
    print(http, flush=True)
    if not args.no_write:
        print(write_results(local, http, args.rate, args.seconds))


if __name__ == "__main__":
    main()
