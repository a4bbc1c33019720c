"""Deployment benchmark: the cost of a request's facts write, direct vs queued in the facts inbox.

A posted touch (``POST /api/v1/touches``) appends one facts row. One process writes it to the
DuckDB file at once; a worker of ``levier serve --workers N`` (facts read-only) queues it in the
loop DB (SQLite or PostgreSQL). Side by side in one run, interleaved in rounds: single-row
appends on a facts table that already holds ``--rows`` touches, then the flush of ``--queued``
rows as import batches. Writes the ``deployment`` section of benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/deployment.py [--rows 200000] [--calls 300] [--queued 10000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).parent))
from _results import machine_line, write_section  # noqa: E402

from levier.data._frames import insert_frames  # noqa: E402
from levier.data.inbox import append_facts, flush_inbox  # noqa: E402
from levier.workspace import create_workspace, open_workspace  # noqa: E402

PG_ADMIN = os.environ.get("LEVIER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:54329/postgres")


def _touches(n: int) -> pa.Table:
    rng = np.random.default_rng(7)
    start = np.datetime64("2026-01-01T00:00:00")
    return pa.table({
        "touch_id": [f"t{i}" for i in range(n)], "lead_id": [f"L{i % 20000}" for i in range(n)],
        "at": (start + rng.integers(0, 300 * 86400, n).astype("timedelta64[s]")).astype("datetime64[us]"),
        "channel": rng.choice(["email", "call", "sms"], n).tolist(),
    })


def _row(i: int) -> dict[str, object]:
    return {"touch_id": f"api-{uuid.uuid4().hex[:16]}", "lead_id": f"L{i % 20000}", "at": datetime(2026, 11, 2, 10) + timedelta(seconds=i),
            "channel": "email", "direction": "out", "outcome": "delivered"}


def _pg_database() -> tuple[str | None, sa.Engine | None, str]:
    name = f"levier_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception:  # noqa: BLE001 - PostgreSQL is optional here
        return None, None, name
    return sa.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False), admin, name


def _timed(ws: object, n: int, offset: int) -> tuple[list[float], float]:
    lat, cpu = [], time.process_time()
    for i in range(n):
        t0 = time.perf_counter()
        append_facts(ws, "touches", [_row(offset + i)], source="(levier api: posted touches)", reuse_batch=True)
        lat.append(time.perf_counter() - t0)
    return lat, time.process_time() - cpu


def _ms(values: list[float], q: float) -> float:
    return float(np.quantile(values, q)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--queued", type=int, default=10_000)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="levier-bench-deploy-"))
    pg_url, admin, pg_name = _pg_database()
    dirs = {"sqlite": tmp / "ws"}
    with create_workspace(dirs["sqlite"]) as ws:
        insert_frames(ws.facts, {"touches": _touches(args.rows)})
    if pg_url:
        dirs["postgresql"] = tmp / "ws-pg"
        create_workspace(dirs["postgresql"], db_url=pg_url).close()
        (dirs["postgresql"] / "facts.duckdb").unlink()
        os.link(dirs["sqlite"] / "facts.duckdb", dirs["postgresql"] / "facts.duckdb")  # same facts file
    kinds = ["direct (DuckDB, one process)", "queued (SQLite loop DB)"] + (["queued (PostgreSQL loop DB)"] if pg_url else [])
    lat: dict[str, list[float]] = {k: [] for k in kinds}
    cpu: dict[str, float] = dict.fromkeys(kinds, 0.0)
    rounds, offset = 3, 0
    for r in range(rounds):
        for kind in (kinds if r % 2 == 0 else kinds[::-1]):
            path = dirs["postgresql"] if "PostgreSQL" in kind else dirs["sqlite"]
            with open_workspace(path, read_only=not kind.startswith("direct")) as ws:
                got, used = _timed(ws, args.calls // rounds, offset)
            lat[kind] += got
            cpu[kind] += used
            offset += args.calls // rounds
    # flush: queue --queued rows (100 per call), then apply them as one batch
    with open_workspace(dirs["sqlite"], read_only=True) as ws:
        for i in range(0, args.queued, 100):
            append_facts(ws, "touches", [_row(offset + i + j) for j in range(100)], source="bench queue")
    with open_workspace(dirs["sqlite"]) as ws:
        flush_inbox(ws)  # earlier single rows (posted touches) first
    with open_workspace(dirs["sqlite"], read_only=True) as ws:
        for i in range(0, args.queued, 100):
            append_facts(ws, "touches", [_row(offset + args.queued + i + j) for j in range(100)], source="bench queue")
    with open_workspace(dirs["sqlite"]) as ws:
        t0, c0 = time.perf_counter(), time.process_time()
        done = flush_inbox(ws)
        flush_wall, flush_cpu = time.perf_counter() - t0, time.process_time() - c0
        total = ws.facts.count("touches")
    if admin is not None:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
    base = statistics.median(lat[kinds[0]])
    lines = [
        "## Deployment: facts writes of requests (direct vs facts inbox)",
        "",
        f"{machine_line()}; {date.today().isoformat()}; load average {load:.1f} at the start (2 cores shared with other contributors: "
        "compare the rows of one run, and the CPU column, rather than absolute times).",
        f"Single-row appends (a posted touch, `append_facts(..., reuse_batch=True)`) on a touches table of {args.rows:,} rows; "
        f"{args.calls} calls per variant, interleaved in {rounds} rounds.",
        "",
        "| variant | median ms | p95 ms | CPU ms / call | median vs direct |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in kinds:
        med = statistics.median(lat[kind])
        lines.append(f"| {kind} | {med * 1000:.2f} | {_ms(lat[kind], 0.95):.2f} | {cpu[kind] / len(lat[kind]) * 1000:.2f} | {med / base:.2f}× |")
    lines += [
        "",
        f"Flush: {done.rows.get('touches', 0):,} queued rows applied as {len(done.batches)} import batch(es) in {flush_wall:.2f} s "
        f"({flush_cpu:.2f} s CPU; {done.rows.get('touches', 0) / flush_wall:,.0f} rows/s); touches now {total:,} rows.",
        "",
        "Reading: a worker with read-only facts pays a loop-DB insert instead of a DuckDB append (the policy state is "
        "updated at once either way); the queued rows reach the facts in one batch when the server stops or at "
        "`levier facts flush` (docs/deployment.md).",
    ]
    text = "\n".join(lines) + "\n"
    write_section("deployment", text)
    print(text)


if __name__ == "__main__":
    main()
