"""The DuckDB ↔ Spark parity harness.

- ``spark``: one local SparkSession for the whole test session (local[1], UTC, no UI, 2 shuffle
  partitions, its warehouse in a temporary directory).
- ``parity_pair(frames)``: builds the same facts in a fresh DuckDB workspace and a fresh Spark
  workspace (``pyspark://local[1]``, which reuses the session above; each Spark workspace lives
  in its own Spark database) and returns a :class:`ParityPair`.
- ``parity``: a pair loaded with :func:`parity_frames`, a small deterministic data set that
  holds every defect validate/clean look for. Build once per session.
- :func:`assert_parity` runs ``fn(ws)`` on both workspaces and compares the ``to_dict()``
  outputs recursively: counts and strings exactly, floats to 1e-9 relative.

Usage in a later analysis test (fixtures only, nothing to import)::

    @pytest.mark.spark
    @pytest.mark.xdist_group("spark")
    def test_my_analysis_parity(parity_check):
        duck, spark = parity_check(lambda ws: my_analysis(ws, period="2026-10"))

    # or with your own data: pair = parity_pair(frames); parity_check(fn, pair)

Never call ``close()`` on a Spark workspace: it would stop the shared session.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from levier.data._frames import insert_frames
from levier.workspace import Workspace, create_workspace

__all__ = ["ParityPair", "assert_parity", "compare", "parity_frames"]

#: Keys whose values legitimately differ between two runs (wall-clock times).
VOLATILE = frozenset({"checked_at", "ran_at"})
_counter = itertools.count(1)


@dataclass
class ParityPair:
    """The same facts in a DuckDB workspace and a Spark workspace."""

    duck: Workspace
    spark: Workspace
    database: str

    def activate(self) -> None:
        """Make this pair's Spark database the current one (the session is shared)."""
        self.spark.facts.con._session.catalog.setCurrentDatabase(self.database)

    def run(self, fn: Callable[[Workspace], Any]) -> tuple[Any, Any]:
        a = fn(self.duck)
        self.activate()
        return a, fn(self.spark)


def _plain(value: Any) -> Any:
    if hasattr(value, "to_dict") and not isinstance(value, dict):
        return value.to_dict()
    return value


def compare(a: Any, b: Any, path: str = "$", rel: float = 1e-9, ignore: frozenset[str] = VOLATILE) -> list[str]:
    """Differences between two JSON-like values (floats to ``rel`` relative tolerance)."""
    a, b = _plain(a), _plain(b)
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}: keys {sorted(set(a) ^ set(b))}"] if set(a) != set(b) else []
        for k in sorted(set(a) & set(b), key=str):
            if k not in ignore:
                out += compare(a[k], b[k], f"{path}.{k}", rel, ignore)
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in compare(x, y, f"{path}[{i}]", rel, ignore)]
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
            if (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=rel, abs_tol=0.0) or a == b:
                return []
        return [f"{path}: {a!r} != {b!r}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def assert_parity(pair: ParityPair, fn: Callable[[Workspace], Any], *, rel: float = 1e-9,
                  ignore: frozenset[str] = VOLATILE) -> tuple[Any, Any]:
    """Run ``fn`` on both workspaces; fail with the list of differences if the results differ."""
    a, b = pair.run(fn)
    diffs = compare(a, b, rel=rel, ignore=ignore)
    assert not diffs, "DuckDB and Spark disagree:\n" + "\n".join(diffs[:30])
    return a, b


# -- a small data set with every defect ------------------------------------------------------
def parity_frames(seed: int = 3) -> dict[str, list[dict[str, Any]]]:
    """~80 leads, ~1,000 touches, stages, deals, spend, web events: deterministic, with
    duplicates, near duplicates, a future touch, dates before 2000, negative amounts, an orphan,
    a score out of range, a 2-hour shifted owner-week, a bulk rep-day and over-touched leads."""
    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 8, 3)  # a Monday
    owners = ["ann", "bob", "chloé"]
    leads, touches, stages, deals = [], [], [], []
    for i in range(80):
        created = t0 + timedelta(days=int(i // 2), hours=int(rng.integers(7, 17)), minutes=int(rng.integers(0, 60)))
        leads.append(dict(lead_id=f"L{i:03d}", account_id=f"A{i % 30:02d}", created_at=created, source="web",
                          channel=["inbound", "outbound", "partner"][i % 3], company_size=["smb", "mid", "enterprise"][i % 3],
                          owner=owners[i % 3], vip=(i % 25 == 0), score=float(rng.integers(0, 101)),
                          opted_out_at=created + timedelta(days=12) if i % 17 == 0 else None))
        k = 4 + int(rng.integers(0, 8)) + (30 if i in (5, 6, 7) else 0)
        for j in range(k):
            day = 1 + (j * 15) // max(k, 1)
            at = created.replace(hour=0, minute=0) + timedelta(days=day, hours=int(rng.integers(7, 17)), seconds=int(rng.integers(0, 3600)))
            touches.append(dict(touch_id="", lead_id=f"L{i:03d}", at=at, channel=["email", "call", "social"][j % 3],
                                direction="out", owner=owners[i % 3],
                                outcome="complaint" if (i == 6 and j == 0) else ["delivered", "no_answer", "opened"][j % 3],
                                campaign_id="seq"))
        if i % 4 == 0:
            stages += [dict(lead_id=f"L{i:03d}", stage="lead", at=created), dict(lead_id=f"L{i:03d}", stage="opportunity", at=created + timedelta(days=20))]
            deals.append(dict(deal_id=f"D{i:03d}", lead_id=f"L{i:03d}", created_at=created + timedelta(days=20),
                              amount=float(1000 * (1 + i % 7)) * (-1 if i == 8 else 1), won=i % 8 == 0, currency="EUR"))
        elif i % 9 == 1:
            stages += [dict(lead_id=f"L{i:03d}", stage="lead", at=created), dict(lead_id=f"L{i:03d}", stage="sql", at=created + timedelta(days=3))]
    week = t0 + timedelta(weeks=3)  # bob's touches of this week were stored 2 h early
    for t in touches:
        if t["owner"] == "bob" and week <= t["at"] < week + timedelta(weeks=1):
            t["at"] -= timedelta(hours=2)
    bulk = t0 + timedelta(days=40)
    touches += [dict(touch_id="", lead_id=f"L{j % 10:03d}", at=bulk + timedelta(hours=8, seconds=71 * j), channel="call",
                     direction="out", owner="chloé", outcome="no_answer", campaign_id="seq") for j in range(260)]
    touches += [dict(touches[j * 37], touch_id="") for j in range(5)]  # exact copies
    touches += [dict(touches[j * 41 + 3], touch_id="", at=touches[j * 41 + 3]["at"] + timedelta(seconds=7 + j)) for j in range(4)]
    touches.append(dict(touch_id="", lead_id="L001", at=datetime(2026, 12, 25, 10), channel="call", direction="out", owner="ann"))
    touches.append(dict(touch_id="", lead_id="L999", at=t0 + timedelta(days=5), channel="email", direction="out", owner="ann"))
    for n, t in enumerate(touches):
        t["touch_id"] = f"T{n:05d}"
    leads[3]["created_at"] = datetime(1970, 1, 1)
    leads[4]["score"] = 250.0
    spend = [dict(date=date(2026, 8, 1) + timedelta(days=d), source=s, campaign_id="c", cost=float(10 + d % 5), currency="EUR")
             for d in range(60) for s in ("google_ads", "linkedin")]
    spend[7]["cost"] = -4.0
    web = [dict(event_id=f"E{n:04d}", anonymous_id=f"a{n % 40}", lead_id=f"L{n % 90:03d}" if n % 3 == 0 else None,
                at=t0 + timedelta(hours=7 * n), type=["page_view", "form_start", "form_submit"][n % 3], page="/")
           for n in range(200)]
    return {"leads": leads, "touches": touches, "stage_events": stages, "deals": deals, "spend": spend, "web_events": web}


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local SparkSession shared by every Spark test of the session."""
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[1]")
        .appName("levier-parity")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        # tiny data: compiling generated Java code and re-planning costs more than it saves
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def parity_pair(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Callable[[dict[str, Any]], ParityPair]:
    """Factory: ``parity_pair(frames)`` → a :class:`ParityPair` holding ``frames`` on both engines."""

    def build(frames: dict[str, Any]) -> ParityPair:
        n = next(_counter)
        base: Path = tmp_path_factory.mktemp(f"parity{n}")
        database = f"levier_parity_{n}"
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
        spark.catalog.setCurrentDatabase(database)
        sws = create_workspace(base / "spark", facts_url="pyspark://local[1]")
        insert_frames(sws.facts, frames)
        dws = create_workspace(base / "duck")
        insert_frames(dws.facts, frames)
        return ParityPair(dws, sws, database)

    return build


@pytest.fixture(scope="session")
def parity(parity_pair: Callable[[dict[str, Any]], ParityPair]) -> Iterator[ParityPair]:
    """The :func:`parity_frames` data set on DuckDB and Spark (read-only use, or idempotent writes)."""
    pair = parity_pair(parity_frames())
    yield pair
    pair.duck.close()  # the Spark workspace is not closed: it shares the session


@pytest.fixture
def parity_check(parity: ParityPair) -> Callable[..., tuple[Any, Any]]:
    """``parity_check(fn, pair=None, rel=1e-9)``: :func:`assert_parity` on ``pair`` (default: ``parity``)."""

    def check(fn: Callable[[Workspace], Any], pair: ParityPair | None = None, rel: float = 1e-9) -> tuple[Any, Any]:
        return assert_parity(pair or parity, fn, rel=rel)

    return check
