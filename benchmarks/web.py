"""Web app under load on loopback: 50 concurrent logged-in users on the (seeded) demo workspace.

Copies the demo workspace to a temporary directory, seeds its loop (`levier seed-demo`), starts
`levier serve` in its own process on a free 127.0.0.1 port, logs 50 users in (one session each)
and has them request the dashboard, the action board and a playbook search in turn, all at
once (httpx async). Reports p50 / p95 / max per page and rewrites the "## Web" section of
benchmarks/RESULTS.md. Bounded: ``--rounds`` requests per user and page, ``--timeout`` seconds.

    .venv/bin/python benchmarks/web.py [--workspace demo-workspace] [--users 50] [--rounds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
LEVIER = Path(sys.executable).with_name("levier")
PAGES = {"dashboard": "/", "action board": "/actions", "playbook search": "/playbook?q=cadence"}
USERS = ("admin", "camille", "ines", "lucas")
PASSWORD = "levier-demo"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {mem:.1f} GiB RAM, Python {platform.python_version()}"


def _prepare(src: Path, tmp: Path) -> Path:
    ws = tmp / "ws"
    shutil.copytree(src, ws, ignore=shutil.ignore_patterns("reports"))
    subprocess.run([str(LEVIER), "seed-demo", "--workspace", str(ws)], check=True, capture_output=True)
    return ws


def _start(ws: Path, port: int) -> subprocess.Popen[bytes]:
    log = open(ws / "serve.log", "wb")  # noqa: SIM115 - kept open for the server
    proc = subprocess.Popen([str(LEVIER), "serve", "--workspace", str(ws), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


async def _login(base: str, name: str) -> httpx.AsyncClient:
    c = httpx.AsyncClient(base_url=base, timeout=120)
    r = await c.post("/login", data={"username": name, "password": PASSWORD})
    assert r.status_code == 303, r.text
    return c


async def _user(c: httpx.AsyncClient, rounds: int, out: dict[str, list[float]]) -> None:
    try:
        for _ in range(rounds):
            for label, path in PAGES.items():
                t = time.perf_counter()
                r = await c.get(path)
                out[label].append(time.perf_counter() - t)
                assert r.status_code == 200, (path, r.status_code)
    finally:
        await c.aclose()


async def _load(base: str, users: int, rounds: int, timeout: float) -> tuple[dict[str, list[float]], float]:
    for name in USERS:  # one pass per role fills the figure caches (each role has its dashboard view)
        async with httpx.AsyncClient(base_url=base, timeout=120) as warm:
            await warm.post("/login", data={"username": name, "password": PASSWORD})
            for path in PAGES.values():
                await warm.get(path)
    clients = [await _login(base, USERS[i % len(USERS)]) for i in range(users)]  # sessions first (argon2 is slow on purpose)
    out: dict[str, list[float]] = {k: [] for k in PAGES}
    t = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(_user(c, rounds, out) for c in clients)), timeout)
    return out, time.perf_counter() - t


def _pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[int(q) - 1] if len(xs) > 1 else xs[0]


def write_results(stats: dict[str, list[float]], wall: float, users: int, rounds: int, leads: str) -> None:
    total = sum(len(v) for v in stats.values())
    lines = ["## Web", "", f"`benchmarks/web.py --users {users} --rounds {rounds}` — {dt.date.today()} — {machine()}.",
             f"`levier serve` (uvicorn, one process) on the seeded demo workspace ({leads}); {users} logged-in users at once "
             f"(httpx async, loopback), each requesting every page {rounds} times in turn after one warm-up pass: "
             f"{total:,} requests in {wall:.1f} s ({total / wall:.0f} req/s).", "",
             "| page | requests | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|"]
    for label, xs in stats.items():
        lines.append(f"| {label} (`{PAGES[label]}`) | {len(xs)} | {_pct(xs, 50) * 1000:.0f} | {_pct(xs, 95) * 1000:.0f} | {max(xs) * 1000:.0f} |")
    lines += ["", f"Load average when the run started: {LOAD}. Target: p95 < 300 ms on each page.", ""]
    text = RESULTS.read_text(encoding="utf-8")
    section = "\n".join(lines)
    if "## Web\n" in text:
        text = re.sub(r"## Web\n.*?(?=\n## |\Z)", lambda _m: section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")


LOAD = "n/a"


def main() -> None:
    global LOAD
    LOAD = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, default=Path("demo-workspace"))
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if not (args.workspace / "levier.toml").is_file():
        raise SystemExit(f"no workspace in {args.workspace}: run `make demo` first")
    with tempfile.TemporaryDirectory() as tmp:
        ws = _prepare(args.workspace, Path(tmp))
        port = _port()
        proc = _start(ws, port)
        try:
            try:
                stats, wall = asyncio.run(_load(f"http://127.0.0.1:{port}", args.users, args.rounds, args.timeout))
            except Exception:
                print((ws / "serve.log").read_text(errors="replace")[-3000:], file=sys.stderr)
                raise
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        import duckdb

        con = duckdb.connect(str(ws / "facts.duckdb"), read_only=True)
        leads = f"{con.execute('select count(*) from leads').fetchone()[0]:,} leads"
        con.close()
    for label, xs in stats.items():
        print(f"{label:16s} n={len(xs):4d} p50={_pct(xs, 50) * 1000:6.0f} ms p95={_pct(xs, 95) * 1000:6.0f} ms max={max(xs) * 1000:6.0f} ms")
    if not args.no_write:
        write_results(stats, wall, args.users, args.rounds, leads)


if __name__ == "__main__":
    main()
