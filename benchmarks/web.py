"""Web app under load on loopback: 50 logged-in users on the seeded demo workspace, at one or several sizes.

For each size (``--leads N [N …]``: a private copy of the shared demo workspace of N leads from
``benchmarks/_demo.py``; without ``--leads``: a copy of the `make demo` workspace) the loop demo
is seeded (`levier seed-demo`) and the weekly conversion-rate series the KPI page shows is
refreshed (`levier kpi refresh`), then:

* **in process** (a child process, so its peak RSS is its own): the app is built and every page
  of :data:`IN_PROCESS_PAGES` is requested once by each demo user (admin, editor, viewers: the
  three dashboard views) — the **cold** cost, i.e. the caches being built — then
  ``--in-process`` more times — the **warm** CPU cost per request;
* **over HTTP**, for each number of worker processes (default 1 then 2): `levier serve --workers N`
  on a free 127.0.0.1 port, the users logged in (one session and one keep-alive connection
  each), every user requesting the dashboard `/`, the action board `/actions` and a playbook
  search `/playbook?q=cadence` in turn, under two user models measured one after the other:
  **stress** (closed loop, no think time: 50 requests always in flight — throughput and
  queueing) and **users** (a uniform random 1–3 s think time between clicks: ~25 requests/s
  offered). The peak RSS (VmHWM) of the server's processes is read from /proc before it stops.

The load generator is raw asyncio HTTP/1.1 in this process; the server's CPU time per request
is read from /proc, and the load average is printed next to every figure (the machine is
shared). Writes the "web" fragment of benchmarks/RESULTS.md (unless --no-write) and, with
``--json PATH``, ``{"benchmark": "web", "runs": [...]}`` (per size: touches, levier_s = the
sum of the cold page builds in process, levier_rss = the peak RSS of the busiest server worker,
load, note = users p95 of the three pages). Target: p95 < 300 ms on each page.

The first page after a start (decision 0230): the in-process app is built as ``levier serve``
builds it (the dashboard's figures stored per facts version beside the facts and computed by a
background thread from the start); the benchmark times the first dashboard of each user right
after the start (and how many answered "being computed" rather than waiting), the background
warm-up, and the same first pages after a restart of a second process on the same workspace.

**Light mode** (``--light``, what ``run_all.py`` passes at 100M): no KPI refresh and no KPI
page (the KPI benchmark's job), 20 warm requests per page in process, then one server start
(``--workers 1``) and one 10 s stress phase with 20 users (no think-time phase).

    .venv/bin/python benchmarks/web.py [--leads N [N ...]] [--workspace demo-workspace] [--users 50] [--workers 1,2]
                                       [--stress-seconds 20] [--think-seconds 40] [--think 1-3] [--light] [--json PATH] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_line, write_section  # noqa: E402

LEVIER = Path(sys.executable).with_name("levier")
PAGES = {"dashboard": "/", "action board": "/actions", "playbook search": "/playbook?q=cadence"}
USERS = ("admin", "camille", "ines", "lucas")
PASSWORD = "levier-demo"
TARGET_MS = 300.0


# -- a minimal HTTP/1.1 keep-alive client --------------------------------------------------
class Conn:
    """One user's keep-alive connection (cookies kept; reconnects when the server closes it)."""

    def __init__(self, port: int) -> None:
        self.port, self.cookies = port, {}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        for attempt in (0, 1):
            if self.writer is None:
                await self._open()
            assert self.reader is not None and self.writer is not None
            cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
            if body:
                head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
            try:
                self.writer.write(head.encode() + b"\r\n" + body)
                line = await self.reader.readline()
                if not line:
                    raise ConnectionResetError("closed by the server")
                status = int(line.split()[1])
                headers: dict[str, str] = {}
                while (h := await self.reader.readline()) not in (b"\r\n", b""):
                    name, _, value = h.decode("latin-1").partition(":")
                    name, value = name.strip().lower(), value.strip()
                    if name == "set-cookie":
                        k, _, v = value.split(";")[0].partition("=")
                        if v and "max-age=0" not in value.lower():
                            self.cookies[k] = v
                        else:
                            self.cookies.pop(k, None)
                    headers[name] = value
                data = await self.reader.readexactly(int(headers.get("content-length", "0")))
                if headers.get("connection", "").lower() == "close":
                    self.close()
                return status, headers, data
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Run:
    """Latencies (seconds) per page, worker of each answer, wall and server CPU seconds."""

    times: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in PAGES})
    workers: dict[str, int] = field(default_factory=dict)
    wall: float = 0.0
    cpu: float = 0.0
    load_start: str = ""
    load_end: str = ""
    errors: int = 0

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.times.values())


def _load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children (the uvicorn workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


async def _click(conn: Conn, label: str, run: Run) -> None:
    t = time.perf_counter()
    status, headers, _body = await conn.request("GET", PAGES[label])
    run.times[label].append(time.perf_counter() - t)
    if status != 200:
        run.errors += 1
    worker = headers.get("x-levier-worker", "?")
    run.workers[worker] = run.workers.get(worker, 0) + 1


async def _user(conn: Conn, run: Run, until: float, think: tuple[float, float] | None, rng: random.Random) -> None:
    labels = list(PAGES)
    i = rng.randrange(len(labels))  # users start on different pages
    if think:
        await asyncio.sleep(rng.uniform(0, think[1]))  # arrivals spread over the first think time
    while time.perf_counter() < until:
        await _click(conn, labels[i % len(labels)], run)
        i += 1
        if think:
            await asyncio.sleep(rng.uniform(*think))


async def _phase(conns: list[Conn], pid: int, seconds: float, think: tuple[float, float] | None, seed: int) -> Run:
    run = Run(load_start=_load())
    rng = random.Random(seed)
    cpu0, t0 = _cpu_seconds(pid), time.perf_counter()
    until = t0 + seconds
    await asyncio.gather(*(_user(c, run, until, think, random.Random(rng.random())) for c in conns))
    run.wall, run.cpu, run.load_end = time.perf_counter() - t0, _cpu_seconds(pid) - cpu0, _load()
    return run


async def _session(port: int, users: int, stress_s: float, think_s: float, think: tuple[float, float], pid: int) -> dict[str, Run]:
    conns = []
    for i in range(users):  # sessions first (argon2 is slow on purpose)
        c = Conn(port)
        body = urlencode({"username": USERS[i % len(USERS)], "password": PASSWORD}).encode()
        status, _h, _b = await c.request("POST", "/login", body)
        assert status == 303, status
        conns.append(c)
    warm = Run()

    async def warm_up(c: Conn) -> None:
        for label in PAGES:
            await _click(c, label, warm)

    for c in conns:  # warm-up: every role's pages once, then all users at once (caches filled in each worker)
        await warm_up(c)
    await asyncio.gather(*(warm_up(c) for c in conns))
    out = {"stress": await _phase(conns, pid, stress_s, None, 1)}
    if think_s > 0:  # --light: the stress phase only
        await asyncio.sleep(2.0)
        out["users"] = await _phase(conns, pid, think_s, think, 2)
    for c in conns:
        c.close()
    return out


# -- in process: the app's own CPU per page (no HTTP server, no client) --------------------
LAST_BODY: list[bytes] = [b""]  # the body of the last in-process response (is the dashboard "being computed"?)
PENDING_MARK = b'id="dashboard-body" hx-get='
async def _asgi(app: object, method: str, path: str, cookie: str = "", body: bytes = b"") -> tuple[int, list[tuple[bytes, bytes]]]:
    route, _, query = path.partition("?")
    headers = [(b"host", b"127.0.0.1"), (b"cookie", cookie.encode())]
    if body:
        headers.append((b"content-type", b"application/x-www-form-urlencoded"))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http", "path": route,
             "raw_path": route.encode(), "query_string": query.encode(), "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    out: dict[str, object] = {}
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    chunks: list[bytes] = []

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            out.update(status=message["status"], headers=message["headers"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))  # type: ignore[arg-type]

    await app(scope, receive, send)  # type: ignore[operator]
    LAST_BODY[:] = [b"".join(chunks)]
    return int(out["status"]), list(out["headers"])  # type: ignore[arg-type]


IN_PROCESS_PAGES = {**PAGES, "KPI list": "/kpis", "KPI page": "/kpis/conversion_rate?grain=week", "alerts": "/alerts",
                    "experiments": "/experiments"}
#: left out by --light: the KPI page shows a stored series (its refresh is the KPI benchmark's job, not refreshed in light mode)
LIGHT_SKIP = ("KPI page",)


def _vm(field_name: str, pid: int | str = "self") -> int:
    """``VmHWM`` / ``VmRSS`` of a process in bytes (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def in_process_child(ws: Path, n: int, light: bool = False, restart: bool = False) -> dict[str, object]:
    """The first pages after a start, then cold and warm cost of each page, the app driven through ASGI in this process.

    The app is built as ``levier serve`` builds it (``warm=True``: the dashboard's figures are
    computed by a background thread from the start, decision 0230) and its lifespan runs.
    First = the dashboard requested by each demo user (the three views) right after the start:
    wall seconds and how many answered "being computed" instead of waiting. Warm-up = seconds
    from the start until the background thread has stored every figure. Cold = the first
    request of each page by each user once warmed, in :data:`IN_PROCESS_PAGES` order (the
    other pages' caches being built). Warm = CPU ms per request over ``n`` more requests.
    ``restart=True``: only the first pages and the warm-up of a second start on the same
    workspace (figures stored by the first: nothing to compute).
    """
    import resource

    from levier.web.app import create_app

    pages = {k: v for k, v in IN_PROCESS_PAGES.items() if not (light and k in LIGHT_SKIP)}
    t0 = time.perf_counter()
    app = create_app(ws, warm=True)
    start_s, rss_start = time.perf_counter() - t0, _vm("VmRSS")

    async def run() -> dict[str, object]:
        async with app.router.lifespan_context(app):  # type: ignore[attr-defined]
            warmer = app.state.warmer  # type: ignore[attr-defined]
            cookies = []
            for name in USERS:
                _status, headers = await _asgi(app, "POST", "/login", body=urlencode({"username": name, "password": PASSWORD}).encode())
                cookies.append("; ".join(v.decode().split(";")[0] for k, v in headers if k == b"set-cookie"))
            first: list[dict[str, float | bool]] = []
            for cookie in cookies:
                w = time.perf_counter()
                status = (await _asgi(app, "GET", "/", cookie))[0]
                assert status == 200, ("first dashboard", status)
                first.append({"wall": time.perf_counter() - w, "pending": PENDING_MARK in LAST_BODY[0]})
            await asyncio.to_thread(warmer.idle.wait)
            warm_up_s = time.perf_counter() - t0 - start_s
            out: dict[str, object] = {"first": first, "warm_up_s": warm_up_s, "warm_runs": warmer.runs}
            if restart:
                return out
            cold: dict[str, dict[str, float]] = {}
            for label, path in pages.items():
                w, c = time.perf_counter(), time.process_time()
                for cookie in cookies:
                    status = (await _asgi(app, "GET", path, cookie))[0]
                    assert status == 200, (label, status)
                cold[label] = {"wall": time.perf_counter() - w, "cpu": time.process_time() - c, "rss": _vm("VmRSS")}
            warm = {}
            for label, path in pages.items():
                c = time.process_time()
                for i in range(n):
                    await _asgi(app, "GET", path, cookies[i % len(cookies)])
                warm[label] = (time.process_time() - c) / n * 1000
            return {**out, "cold": cold, "warm": warm}

    try:
        out = asyncio.run(run())
    finally:
        app.state.workspace.close()  # type: ignore[attr-defined]
    return {**out, "start_s": start_s, "rss_start": rss_start, "rss_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def in_process(ws: Path, n: int, light: bool = False, restart: bool = False) -> dict[str, object]:
    """:func:`in_process_child` in a child process (its peak RSS is the app's alone)."""
    extra = [*(["--light"] if light else []), *(["--child-restart"] if restart else [])]
    out = subprocess.run([sys.executable, __file__, "--child-in-process", str(ws), "--in-process", str(n), *extra],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise SystemExit(f"the in-process measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- server --------------------------------------------------------------------------------
def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(src: Path | int, tmp: Path, light: bool = False) -> Path:
    """A private, seeded copy: of the shared demo workspace of ``src`` leads, or of the workspace ``src``."""
    ws = tmp / "ws"
    if isinstance(src, int):
        from _demo import copy_ws

        copy_ws(src, ws)
    else:
        shutil.copytree(src, ws, ignore=shutil.ignore_patterns("reports", "*.wal"))
    subprocess.run([str(LEVIER), "seed-demo", "--workspace", str(ws)], check=True, capture_output=True)
    if light:
        return ws
    # the KPI page shows a stored series (a GET never computes it): refresh the one it shows
    subprocess.run([str(LEVIER), "kpi", "refresh", "conversion_rate", "--grain", "week", "--workspace", str(ws)], check=True, capture_output=True)
    return ws


def _server_rss(pid: int) -> dict[str, int]:
    """Peak RSS (VmHWM, bytes) of the server process and of each of its children (the uvicorn workers)."""
    out = {"main": _vm("VmHWM", pid)}
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    for i, c in enumerate(children):
        out[f"worker {i + 1}"] = _vm("VmHWM", c)
    return out


def _start(ws: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    log = open(ws / f"serve-{workers}.log", "wb")  # noqa: SIM115 - kept open for the server
    proc = subprocess.Popen([str(LEVIER), "serve", "--workspace", str(ws), "--port", str(port), "--workers", str(workers)],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600  # at 10M leads the app opens a 4 GB workspace
    seen: set[str] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                head = s.recv(4096).decode("latin-1")
            if head.startswith("HTTP/1.1 200"):
                seen |= {ln.split(":", 1)[1].strip() for ln in head.split("\r\n") if ln.lower().startswith("x-levier-worker:")}
                if len(seen) >= workers or "x-levier-worker" not in head.lower():
                    return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the server did not start:\n{(ws / f'serve-{workers}.log').read_text(errors='replace')[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- report --------------------------------------------------------------------------------
def _pct(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1] if len(xs) > 1 else (xs[0] if xs else float("nan"))


def _rows(size: str, workers: int, model: str, run: Run) -> list[str]:
    out = []
    for label, xs in run.times.items():
        p95 = _pct(xs, 95) * 1000
        ok = "yes" if p95 < TARGET_MS else "**no**"
        out.append(f"| {size} | {workers} | {model} | {label} | {len(xs):,} | {_pct(xs, 50) * 1000:.0f} | {p95:.0f} | {max(xs) * 1000:.0f} | {ok} |")
    return out


def _gib(n: float) -> str:
    return f"{n / 2**30:.2f} GiB"


def http_stack() -> str:
    """What uvicorn parses HTTP with in this environment (it picks httptools and uvloop when installed)."""
    import importlib.util

    parser = "httptools" if importlib.util.find_spec("httptools") else "h11 (pure Python)"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{parser} + {loop}"




@dataclass
class Size:
    """Everything measured on one workspace size."""

    label: str
    leads: int
    touches: int
    load: str
    inproc: dict[str, Any]
    inproc_load: str
    restart: dict[str, Any] = field(default_factory=dict)
    http: dict[int, dict[str, Run]] = field(default_factory=dict)
    rss: dict[int, dict[str, int]] = field(default_factory=dict)

    @property
    def cold_s(self) -> float:
        return sum(v["wall"] for v in self.inproc["cold"].values())

    @property
    def ready_s(self) -> float:
        """From the app built to every page ready: the background warm-up, then the other pages' first requests."""
        return float(self.inproc["warm_up_s"]) + self.cold_s

    @property
    def worker_rss(self) -> int:
        return max((v for per in self.rss.values() for v in per.values()), default=0)


def _first(run: dict[str, Any]) -> str:
    walls = [f["wall"] for f in run["first"]]
    return f"{sum(walls):.2f} ({max(walls):.2f}) | {sum(1 for f in run['first'] if f['pending'])} of {len(walls)}"


def _first_lines(sizes: list[Size]) -> list[str]:
    """The first dashboard after a start (figures not stored yet) and after a restart (stored by the first start)."""
    lines = ["**The first page after a start** (decision 0230: the dashboard's figures are stored per facts version in `figures.sqlite` "
             "beside the facts and computed by a background thread from the start; a request waits at most 2 s for them, then shows "
             "the last figures — or none — as \"being computed\"). First = the dashboard requested by each of the 4 demo users (the three "
             "views) right after the app is built; warm-up = from the app built to every figure stored; restart = a second process "
             "started on the same workspace.", "",
             "| leads | app built s | first dashboards: wall s total (max) | being computed | warm-up s (background) | figures computed "
             "| restart: first dashboards s total (max) | restart: being computed | restart: figures computed |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for z in sizes:
        r = z.restart
        lines.append(f"| {z.leads:,} | {z.inproc['start_s']:.1f} | {_first(z.inproc)} | {z.inproc['warm_up_s']:.1f} | {z.inproc['warm_runs']} views "
                     f"| {_first(r) if r else '—'} | {r.get('warm_runs', '—')} |")
    return [*lines, ""]


def _in_process_lines(sizes: list[Size], n: int) -> list[str]:
    lines = [*_first_lines(sizes),
             f"**In process** (the app driven through ASGI in a child process, no HTTP; cold = the first request of the page by each of the 4 demo "
             f"users — admin, editor and viewers, i.e. the three dashboard views — in table order once the warm-up is done, the caches being "
             f"built; warm = CPU per request over {n} more requests):", "",
             "| leads | touches | page | cold s (wall, 4 users) | cold CPU s | RSS after, GiB | warm CPU ms/request |", "|---:|---:|---|---:|---:|---:|---:|"]
    for z in sizes:
        for i, (label, cold) in enumerate(z.inproc["cold"].items()):
            head = f"| {z.leads:,} | {z.touches:,}" if i == 0 else "| |"
            lines.append(f"{head} | {label} | {cold['wall']:.2f} | {cold['cpu']:.2f} | {cold['rss'] / 2**30:.2f} | {z.inproc['warm'][label]:.1f} |")
        lines.append(f"| | | **all pages cold** | **{z.cold_s:.2f}** | {sum(v['cpu'] for v in z.inproc['cold'].values()):.2f} "
                     f"| peak {z.inproc['rss_peak'] / 2**30:.2f} | |")
        lines.append(f"| | | **warm-up + all pages cold** | **{z.ready_s:.2f}** | | | |")
    lines.append("")
    lines += [f"{z.leads:,} leads: app built in {z.inproc['start_s']:.1f} s, RSS {_gib(z.inproc['rss_start'])} after start, "
              f"peak {_gib(z.inproc['rss_peak'])} (load average {z.inproc_load})." for z in sizes]
    return [*lines, ""]


def report(sizes: list[Size], args: argparse.Namespace) -> str:
    lo, hi = args.think
    what = f"--leads {' '.join(str(z.leads) for z in sizes)} " if args.leads else ""
    what += "--light " if args.light else ""
    lines = [
        "## Web", "",
        f"`benchmarks/web.py {what}--users {args.users} --workers {','.join(map(str, args.workers))} --stress-seconds {args.stress_seconds:g} "
        f"--think-seconds {args.think_seconds:g} --think {lo:g}-{hi:g}` — {dt.date.today()} — {machine_line()}.",
        "Each size is a private copy of the demo workspace (`benchmarks/_demo.py`) seeded with the loop demo (`levier seed-demo`).", "",
        *_in_process_lines(sizes, args.in_process),
        f"**Over HTTP**: `levier serve --workers N` (uvicorn with {http_stack()}; N = {' or '.join(map(str, args.workers))} processes) on loopback; "
        f"{args.users} logged-in users, one keep-alive connection each, requesting the dashboard, the action board and a playbook search in turn. "
        + (f"Light mode: one user model, **stress** = closed loop, no think time ({args.users} requests always in flight) for {args.stress_seconds:g} s. "
           if args.think_seconds <= 0 else
           f"Two user models, one after the other in the same run: **stress** = closed loop, no think time ({args.users} requests always in flight) "
           f"for {args.stress_seconds:g} s; **users** = a uniform {lo:g}–{hi:g} s think time between clicks for {args.think_seconds:g} s. ") +
        "The load generator (raw asyncio HTTP/1.1, in the benchmark process) shares the 2 cores with the server.", "",
        "| leads | workers | model | page | requests | p50 ms | p95 ms | max ms | p95 < 300 ms |", "|---:|---|---|---|---|---|---|---|---|",
    ]
    for z in sizes:
        for workers, runs in z.http.items():
            for model, run in runs.items():
                lines += _rows(f"{z.leads:,}", workers, model, run)
    lines += ["", "| leads | workers | model | requests/s | server CPU ms per request | errors | answers per worker | peak RSS per process | load average start → end |",
              "|---:|---|---|---|---|---|---|---|---|"]
    for z in sizes:
        for workers, runs in z.http.items():
            rss = ", ".join(f"{k} {_gib(v)}" for k, v in z.rss.get(workers, {}).items())
            for model, run in runs.items():
                per = ", ".join(f"{v}" for _k, v in sorted(run.workers.items()))
                lines.append(f"| {z.leads:,} | {workers} | {model} | {run.requests / run.wall:.0f} | {run.cpu / max(run.requests, 1) * 1000:.1f} | {run.errors} "
                             f"| {per} | {rss} | {run.load_start} → {run.load_end} |")
    said = []
    for z in sizes:
        for w, runs in z.http.items():
            for m, run in runs.items():
                ok = all(_pct(xs, 95) * 1000 < TARGET_MS for xs in run.times.values())
                said.append(f"{z.leads:,} leads, {m}, {w} worker{'s' if w > 1 else ''}: {'**met**' if ok else '**not met**'}")
    lines += ["", "Target p95 < 300 ms on each page — " + "; ".join(said) + ".", ""]
    if len(sizes) > 1:
        a, b = sizes[0], sizes[-1]
        lines.append(f"Growth from {a.leads:,} to {b.leads:,} leads ({b.touches / max(a.touches, 1):.1f}× the touches): all pages cold "
                     f"{a.cold_s:.1f} s → {b.cold_s:.1f} s ({b.cold_s / max(a.cold_s, 1e-9):.1f}×); peak RSS of a server worker "
                     f"{_gib(a.worker_rss)} → {_gib(b.worker_rss)}. Warm pages come from the caches (decision 0120) and do not grow with the data.")
    for z in sizes:
        stress = z.http.get(args.workers[0], {}).get("stress")
        if stress is not None and stress.requests:
            rate = stress.requests / stress.wall
            lines.append(f"Stress at {z.leads:,} leads with {args.workers[0]} worker(s): {args.users} requests always in flight at {rate:.0f} req/s make "
                         f"every request wait behind the others — {args.users} / {rate:.0f} ≈ {args.users / rate * 1000:.0f} ms on average (Little's law).")
    lines.append("")
    return "\n".join(lines)


def json_runs(sizes: list[Size], workers: list[int]) -> dict[str, Any]:
    """The wave-4 contract: one dict per size (levier_s = the sum of the cold page builds in process)."""
    runs = []
    for z in sizes:
        users = z.http.get(workers[0], {}).get("users")
        stress = z.http.get(workers[0], {}).get("stress")
        note = ""
        if users is not None:
            note = f"users p95 ({workers[0]} worker): " + ", ".join(f"{k} {_pct(v, 95) * 1000:.0f} ms" for k, v in users.times.items())
        runs.append({"leads": z.leads, "touches": z.touches, "levier_s": round(z.ready_s, 3),
                     "levier_s_is": "from the app built to every page ready in process: background warm-up + the first request of each page",
                     "first_s": round(sum(f["wall"] for f in z.inproc["first"]), 3), "first_pending": sum(1 for f in z.inproc["first"] if f["pending"]),
                     "warm_up_s": round(float(z.inproc["warm_up_s"]), 3), "app_built_s": round(float(z.inproc["start_s"]), 3),
                     "restart_first_s": round(sum(f["wall"] for f in z.restart["first"]), 3) if z.restart else None,
                     "restart_computed": z.restart.get("warm_runs") if z.restart else None,
                     "levier_rss": max(z.worker_rss, int(z.inproc["rss_peak"])),
                     "levier_rss_is": "the larger peak RSS of the in-process app (which computes the figures) and of the busiest server worker",
                     "server_rss": z.worker_rss, "inproc_rss": z.inproc["rss_peak"], "load": float(z.load.split(" / ")[0]), "note": note,
                     "cold_s": {k: round(v["wall"], 3) for k, v in z.inproc["cold"].items()},
                     "warm_cpu_ms": {k: round(v, 2) for k, v in z.inproc["warm"].items()},
                     "stress_p95_ms": {k: round(_pct(v, 95) * 1000, 1) for k, v in stress.times.items()} if stress else {}})
    return {"benchmark": "web", "runs": runs}


def measure(src: Path | int, args: argparse.Namespace) -> Size:
    """One size: seed a private copy, the in-process cold/warm costs, then each worker count over HTTP."""
    from _demo import row_counts

    with tempfile.TemporaryDirectory(prefix="levier-web-bench-") as tmp:
        load = _load()
        t = time.perf_counter()
        ws = _prepare(src, Path(tmp), args.light)
        leads, touches = row_counts(ws, ("leads", "touches"))
        print(f"{leads:,} leads, {touches:,} touches (load {load}; prepared in {time.perf_counter() - t:.0f} s)", flush=True)
        inproc_load = _load()
        inproc = in_process(ws, args.in_process, args.light)
        print(f"in process (load {inproc_load}): app built {inproc['start_s']:.1f} s, first dashboards {json.dumps(inproc['first'])}, "
              f"warm-up {inproc['warm_up_s']:.1f} s ({inproc['warm_runs']} views); cold {json.dumps(inproc['cold'])}; "
              f"warm CPU ms {json.dumps(inproc['warm'])}; peak RSS {_gib(inproc['rss_peak'])}", flush=True)
        restart = in_process(ws, 0, args.light, restart=True)
        print(f"restart (load {_load()}): app built {restart['start_s']:.1f} s, first dashboards {json.dumps(restart['first'])}, "
              f"figures computed {restart['warm_runs']} views", flush=True)
        z = Size(f"{leads:,} leads", leads, touches, load, inproc, inproc_load, restart)
        for workers in args.workers:
            port = _port()
            proc = _start(ws, port, workers)
            try:
                z.http[workers] = asyncio.run(_session(port, args.users, args.stress_seconds, args.think_seconds, args.think, proc.pid))
                z.rss[workers] = _server_rss(proc.pid)
            finally:
                _stop(proc)
            for model, run in z.http[workers].items():
                for label, xs in run.times.items():
                    print(f"workers={workers} {model:6s} {label:16s} n={len(xs):5d} p50={_pct(xs, 50) * 1000:6.0f} ms "
                          f"p95={_pct(xs, 95) * 1000:6.0f} ms max={max(xs) * 1000:6.0f} ms", flush=True)
                print(f"workers={workers} {model:6s} {run.requests / run.wall:.0f} req/s, server CPU {run.cpu / max(run.requests, 1) * 1000:.1f} ms/request, "
                      f"per worker {run.workers}, errors {run.errors}, load {run.load_start} -> {run.load_end}; peak RSS {z.rss[workers]}", flush=True)
    return z


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--leads", type=int, nargs="+", help="demo sizes in leads (benchmarks/_demo.py); default: a copy of --workspace")
    ap.add_argument("--workspace", type=Path, default=Path("demo-workspace"), help="the workspace to copy when --leads is not given")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    ap.add_argument("--stress-seconds", type=float, default=20.0)
    ap.add_argument("--think-seconds", type=float, default=40.0)
    ap.add_argument("--think", type=lambda s: tuple(float(x) for x in s.split("-")), default=(1.0, 3.0))
    ap.add_argument("--in-process", type=int, default=300, help="warm requests per page for the in-process CPU measurement")
    ap.add_argument("--json", type=Path, help="write {benchmark, runs: [per size]} to this file")
    ap.add_argument("--no-write", action="store_true", help="print only (do not write benchmarks/results/web.md)")
    ap.add_argument("--light", action="store_true",
                    help="for the largest sizes (run_all passes it at 100M): no KPI refresh nor KPI page, the in-process pages with 20 warm "
                         "requests, one server start (1 worker), one 10 s stress phase with 20 users, no think-time phase")
    ap.add_argument("--child-in-process", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--child-restart", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_in_process:
        print(json.dumps(in_process_child(args.child_in_process, args.in_process, args.light, args.child_restart)))
        return
    if args.light:
        args.workers, args.users, args.think_seconds = [1], min(args.users, 20), 0.0
        args.stress_seconds, args.in_process = min(args.stress_seconds, 10.0), min(args.in_process, 20)
    if not args.leads and not (args.workspace / "levier.toml").is_file():
        raise SystemExit(f"no workspace in {args.workspace}: run `make demo` first (or give --leads N)")
    sizes = [measure(src, args) for src in (args.leads or [args.workspace])]
    text = report(sizes, args)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(json_runs(sizes, args.workers), indent=1))
    if not args.no_write:
        write_section("web", text)


if __name__ == "__main__":
    main()
