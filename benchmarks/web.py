"""Web app under load on loopback: 50 logged-in users on the seeded demo workspace, two user models.

Copies the demo workspace to a temporary directory, seeds its loop (`levier seed-demo`) and, for
each number of worker processes (default 1 then 2), starts `levier serve --workers N` in its own
process on a free 127.0.0.1 port, logs the users in (one session and one keep-alive connection
each) and has every user request the dashboard `/`, the action board `/actions` and a playbook
search `/playbook?q=cadence` in turn, under two user models measured one after the other:

* **stress** (closed loop, no think time): each user sends its next request as soon as the
  previous answer arrives, so 50 requests are always in flight: this measures the server's
  throughput and how long a request queues behind the 49 others;
* **users** (think time): each user waits a uniform random 1–3 s between clicks (the usual
  meaning of "50 concurrent users"): ~25 requests/s offered.

The load generator is raw asyncio HTTP/1.1 (no client library: it costs ~0.1 ms of CPU a
request) in this process; the server's CPU time per request is read from /proc, and the load
average is printed next to every figure (the machine is shared). Writes the "web" fragment of
benchmarks/RESULTS.md. Target: p95 < 300 ms on each page.

    .venv/bin/python benchmarks/web.py [--workspace demo-workspace] [--users 50] [--workers 1,2]
                                       [--stress-seconds 20] [--think-seconds 40] [--think 1-3]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
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
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import machine_line, write_section  # noqa: E402

LEVIER = Path(sys.executable).with_name("levier")
PAGES = {"dashboard": "/", "action board": "/actions", "playbook search": "/playbook?q=cadence"}
USERS = ("admin", "camille", "ines", "lucas")
PASSWORD = "levier-demo"
TARGET_MS = 300.0
PREVIOUS = ("Before those caches (2026-11-22, the previous version of this benchmark: one worker, stress only, httpx client, "
            "load average 0.5 / 2.4 / 3.6): 81 req/s, p95 0.8–1.1 s; a page cost 12–18 ms in process.")


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
    await asyncio.sleep(2.0)
    out["users"] = await _phase(conns, pid, think_s, think, 2)
    for c in conns:
        c.close()
    return out


# -- in process: the app's own CPU per page (no HTTP server, no client) --------------------
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

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            out.update(status=message["status"], headers=message["headers"])

    await app(scope, receive, send)  # type: ignore[operator]
    return int(out["status"]), list(out["headers"])  # type: ignore[arg-type]


def in_process(ws: Path, n: int) -> dict[str, float]:
    """CPU ms per request of each page, the app driven through ASGI in this process (thread hops included)."""
    from levier.web.app import create_app

    app = create_app(ws)

    async def run() -> dict[str, float]:
        cookies = []
        for name in USERS:
            _status, headers = await _asgi(app, "POST", "/login", body=urlencode({"username": name, "password": PASSWORD}).encode())
            cookies.append("; ".join(v.decode().split(";")[0] for k, v in headers if k == b"set-cookie"))
            for path in PAGES.values():
                assert (await _asgi(app, "GET", path, cookies[-1]))[0] == 200
        res = {}
        for label, path in PAGES.items():
            t = time.process_time()
            for i in range(n):
                await _asgi(app, "GET", path, cookies[i % len(cookies)])
            res[label] = (time.process_time() - t) / n * 1000
        return res

    try:
        return asyncio.run(run())
    finally:
        app.state.workspace.close()  # type: ignore[attr-defined]


# -- server --------------------------------------------------------------------------------
def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(src: Path, tmp: Path) -> Path:
    ws = tmp / "ws"
    shutil.copytree(src, ws, ignore=shutil.ignore_patterns("reports", "*.wal"))
    subprocess.run([str(LEVIER), "seed-demo", "--workspace", str(ws)], check=True, capture_output=True)
    return ws


def _start(ws: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    log = open(ws / f"serve-{workers}.log", "wb")  # noqa: SIM115 - kept open for the server
    proc = subprocess.Popen([str(LEVIER), "serve", "--workspace", str(ws), "--port", str(port), "--workers", str(workers)],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
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


def _rows(workers: int, model: str, run: Run) -> list[str]:
    out = []
    for label, xs in run.times.items():
        p95 = _pct(xs, 95) * 1000
        ok = "yes" if p95 < TARGET_MS else "**no**"
        out.append(f"| {workers} | {model} | {label} | {len(xs):,} | {_pct(xs, 50) * 1000:.0f} | {p95:.0f} | {max(xs) * 1000:.0f} | {ok} |")
    return out


def http_stack() -> str:
    """What uvicorn parses HTTP with in this environment (it picks httptools and uvloop when installed)."""
    import importlib.util

    parser = "httptools" if importlib.util.find_spec("httptools") else "h11 (pure Python)"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{parser} + {loop}"


def report(results: dict[int, dict[str, Run]], args: argparse.Namespace, leads: str, cpu: dict[str, float], cpu_load: str) -> str:
    lo, hi = args.think
    lines = [
        "## Web", "",
        f"`benchmarks/web.py --users {args.users} --workers {','.join(map(str, args.workers))} --stress-seconds {args.stress_seconds:g} "
        f"--think-seconds {args.think_seconds:g} --think {lo:g}-{hi:g}` — {dt.date.today()} — {machine_line()}.",
        f"`levier serve --workers N` (uvicorn with {http_stack()}; N = 1 or 2 processes) on the seeded demo workspace ({leads}), on loopback; "
        f"{args.users} logged-in users, one keep-alive connection each, requesting the dashboard, the action board and a playbook search in turn. "
        f"Two user models, one after the other in the same run: **stress** = closed loop, no think time ({args.users} requests always in flight) "
        f"for {args.stress_seconds:g} s; **users** = a uniform {lo:g}–{hi:g} s think time between clicks for {args.think_seconds:g} s. "
        "The load generator (raw asyncio HTTP/1.1, in the benchmark process) shares the 2 cores with the server.", "",
        "| workers | model | page | requests | p50 ms | p95 ms | max ms | p95 < 300 ms |", "|---|---|---|---|---|---|---|---|",
    ]
    for workers, runs in results.items():
        for model, run in runs.items():
            lines += _rows(workers, model, run)
    lines += ["", "| workers | model | requests/s | server CPU ms per request | errors | answers per worker | load average start → end |",
              "|---|---|---|---|---|---|---|"]
    for workers, runs in results.items():
        for model, run in runs.items():
            per = ", ".join(f"{v}" for _k, v in sorted(run.workers.items()))
            lines.append(f"| {workers} | {model} | {run.requests / run.wall:.0f} | {run.cpu / max(run.requests, 1) * 1000:.1f} | {run.errors} | {per} "
                         f"| {run.load_start} → {run.load_end} |")
    met = {(w, m): all(_pct(xs, 95) * 1000 < TARGET_MS for xs in run.times.values()) for w, runs in results.items() for m, run in runs.items()}
    said = []
    for (w, m), ok in met.items():
        said.append(f"{m} with {w} worker{'s' if w > 1 else ''}: {'**met**' if ok else '**not met**'}")
    lines += ["", "Target p95 < 300 ms on each page — " + "; ".join(said) + ".", ""]
    pages = ", ".join(f"{label} {ms:.1f} ms" for label, ms in cpu.items())
    http = [run.cpu / max(run.requests, 1) * 1000 for runs in results.values() for run in runs.values()]
    lines += [
        f"Cost of a page in process (the app driven through ASGI, no HTTP server or client; {args.in_process} requests each, "
        f"load average {cpu_load}): {pages} of CPU. Over HTTP the server spends {min(http):.1f}–{max(http):.1f} ms of CPU per "
        f"request ({statistics.mean(http) - statistics.mean(cpu.values()):+.1f} ms on average: the HTTP layer). What is left of a request is the "
        "session look-up, FastAPI's dependencies and thread hand-offs and SQLAlchemy; facts figures and page HTML come from the caches "
        "(decision 0120).",
        PREVIOUS,
    ]
    for workers, runs in results.items():
        stress = runs.get("stress")
        if stress is not None and stress.requests:
            rate = stress.requests / stress.wall
            lines.append(f"Stress with {workers} worker{'s' if workers > 1 else ''}: {args.users} requests always in flight at {rate:.0f} req/s "
                         f"make every request wait behind the others — {args.users} / {rate:.0f} ≈ {args.users / rate * 1000:.0f} ms on average "
                         "(Little's law), whatever the page.")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, default=Path("demo-workspace"))
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2])
    ap.add_argument("--stress-seconds", type=float, default=20.0)
    ap.add_argument("--think-seconds", type=float, default=40.0)
    ap.add_argument("--think", type=lambda s: tuple(float(x) for x in s.split("-")), default=(1.0, 3.0))
    ap.add_argument("--in-process", type=int, default=300, help="requests per page for the in-process CPU measurement")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if not (args.workspace / "levier.toml").is_file():
        raise SystemExit(f"no workspace in {args.workspace}: run `make demo` first")
    results: dict[int, dict[str, Run]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ws = _prepare(args.workspace, Path(tmp))
        for workers in args.workers:
            port = _port()
            proc = _start(ws, port, workers)
            try:
                results[workers] = asyncio.run(_session(port, args.users, args.stress_seconds, args.think_seconds, args.think, proc.pid))
            finally:
                _stop(proc)
            for model, run in results[workers].items():
                for label, xs in run.times.items():
                    print(f"workers={workers} {model:6s} {label:16s} n={len(xs):5d} p50={_pct(xs, 50) * 1000:6.0f} ms "
                          f"p95={_pct(xs, 95) * 1000:6.0f} ms max={max(xs) * 1000:6.0f} ms", flush=True)
                print(f"workers={workers} {model:6s} {run.requests / run.wall:.0f} req/s, server CPU {run.cpu / max(run.requests, 1) * 1000:.1f} ms/request, "
                      f"per worker {run.workers}, errors {run.errors}, load {run.load_start} -> {run.load_end}", flush=True)
        load = _load()
        cpu = in_process(ws, args.in_process)
        print(f"in process (CPU ms per request, load {load}): {cpu}", flush=True)
        import duckdb

        con = duckdb.connect(str(ws / "facts.duckdb"), read_only=True)
        leads = f"{con.execute('select count(*) from leads').fetchone()[0]:,} leads"
        con.close()
    text = report(results, args, leads, cpu, load)
    print(text)
    if not args.no_write:
        write_section("web", text)


if __name__ == "__main__":
    main()
