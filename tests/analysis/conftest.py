"""Fixtures for the analysis tests: small hand-built workspaces and the demo workspace."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from levier.data.schema import TABLES
from levier.workspace import Workspace, create_workspace


def insert(ws: Workspace, name: str, frame: pd.DataFrame) -> None:
    """Insert ``frame`` into the raw table ``name`` (missing canonical columns are null)."""
    t = TABLES[name]
    df = pd.DataFrame({c.name: frame[c.name] if c.name in frame else pd.Series([None] * len(frame), dtype="object") for c in t.columns})
    for c in t.columns:
        if c.dtype == "timestamp":
            df[c.name] = pd.to_datetime(df[c.name]).astype("datetime64[us]")
        elif c.dtype == "boolean":
            df[c.name] = df[c.name].astype("boolean")
        elif c.dtype == "float64":
            df[c.name] = df[c.name].astype("float64")
        else:
            df[c.name] = df[c.name].astype("object")
    offset = ws.facts.count(name)
    df["_row_id"] = range(offset, offset + len(df))
    df["_batch"] = 1
    df["_row_id"] = df["_row_id"].astype("int64")
    df["_batch"] = df["_batch"].astype("int64")
    ws.facts.con.insert(name, df)


def build_workspace(ws: Workspace, spec: list[dict], *, start: str = "2026-10-01", prefix: str = "L") -> Workspace:
    """Leads from ``spec``: each dict has x (touches), converted, and optional segment fields.

    Touch i of a lead happens at created_at + (ttf_h + i) hours; conversion 1 day after the last.
    """
    leads, touches, stages = [], [], []
    t0 = pd.Timestamp(start)
    for i, s in enumerate(spec):
        created = t0 + pd.Timedelta(hours=i % 500)
        lid = f"{prefix}{i}"
        leads.append({"lead_id": lid, "created_at": created, "channel": s.get("channel", "inbound"), "company_size": s.get("company_size", "smb"),
                      "account_id": s.get("account_id", f"A{i % 7}"), "owner": s.get("owner", f"rep{i % 3}"), "vip": s.get("vip", False)})
        ttf = s.get("ttf_h", 1.0)
        last = created
        for j in range(s["x"]):
            last = created + pd.Timedelta(hours=ttf + j)
            touches.append({"touch_id": f"T{prefix}{i}_{j}", "lead_id": lid, "at": last, "channel": "email", "direction": "out", "owner": "rep", "outcome": s.get("outcome", "delivered")})
        if s["converted"]:
            stages.append({"lead_id": lid, "stage": "opportunity", "at": last + pd.Timedelta(days=1)})
    insert(ws, "leads", pd.DataFrame(leads))
    if touches:
        insert(ws, "touches", pd.DataFrame(touches))
    if stages:
        insert(ws, "stage_events", pd.DataFrame(stages))
    return ws


@pytest.fixture
def make_ws(tmp_path: Path):
    made: list[Workspace] = []

    def _make(spec: list[dict], name: str = "ws", **kw) -> Workspace:
        ws = create_workspace(tmp_path / name, timezone="UTC")
        made.append(ws)
        return build_workspace(ws, spec, **kw)

    yield _make
    for ws in made:
        ws.close()


def load_demo_parquet(ws: Workspace, data_dir: Path, tables: tuple[str, ...] = ("leads", "touches", "stage_events")) -> None:
    """Insert the demo Parquet files into the raw tables (DuckDB), with _row_id and _batch."""
    for name in tables:
        cols = ", ".join(f'"{c}"' for c in TABLES[name].column_names)
        path = (data_dir / f"{name}.parquet").as_posix().replace("'", "''")
        ws.facts.con.raw_sql(f"INSERT INTO {name} SELECT {cols}, CAST(row_number() OVER () AS BIGINT) AS _row_id, CAST(1 AS BIGINT) AS _batch FROM read_parquet('{path}')")


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo data set (20,000 leads, seed 7), generated once per session."""
    demo = pytest.importorskip("levier.data.demo")
    out = tmp_path_factory.mktemp("demo") / "data"
    demo.generate(out, leads=20_000, seed=7)
    return out


@pytest.fixture(scope="session")
def demo_ws(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = create_workspace(tmp_path_factory.mktemp("demo_ws") / "ws", timezone="UTC")
    load_demo_parquet(ws, demo_dir)
    yield ws
    ws.close()
