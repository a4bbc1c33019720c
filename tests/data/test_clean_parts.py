"""The exact-duplicate window of the cleaning by hash parts of the duplicate key (DuckDB above
``PART_ROWS`` touches): the same exclusions and journal as the single query, hand-made and on the demo."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import levier.data.parts
from levier.data._frames import insert_frames
from levier.data.clean import clean_workspace
from levier.data.parts import part_count
from levier.workspace import Workspace, create_workspace, open_workspace

T0 = datetime(2026, 9, 1, 9, 0)
AS_OF = datetime(2026, 11, 1)


def _touch(tid: str, lead: str, at: datetime, **kw: object) -> dict:
    return dict(touch_id=tid, lead_id=lead, at=at, channel="email", direction="out", owner="ann", outcome="delivered",
                campaign_id="c1") | kw


def _exclusions(ws: Workspace) -> list[tuple[str, str, int]]:
    df = ws.facts.con.table("_exclusions").execute()
    return sorted(zip(df["table_name"], df["rule"], df["row_id"].astype(int), strict=True))


def _entries(run: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.to_dict().items() if k not in ("run_id", "ran_at")} for e in run.entries]


def _clean_twice(ws: Workspace, monkeypatch: pytest.MonkeyPatch, part_rows: int, **kw: Any) -> tuple[Any, Any, int]:
    """(single query, by parts, how many parts) — exclusions and journal entries of each run."""
    single = clean_workspace(ws, **kw)
    whole = _exclusions(ws)
    monkeypatch.setattr(levier.data.parts, "PART_ROWS", part_rows)
    n = part_count(ws, ("touches",))
    parted = clean_workspace(ws, **kw)
    return (whole, _entries(single)), (_exclusions(ws), _entries(parted)), n


def test_hand_made_duplicates_found_the_same_by_parts(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    at = T0 + timedelta(hours=1)
    touches = [
        _touch("T1", "L1", T0), _touch("T2", "L1", T0),  # T2 an exact copy of T1 (row 2)
        _touch("T3", "L1", T0, outcome="opened"),  # differs by outcome
        _touch("T4", "L2", at, owner=None, campaign_id=None), _touch("T5", "L2", at, owner=None, campaign_id=None),  # with NULLs
        _touch("T6", "L3", at, channel="call"), _touch("T7", "L3", at, channel="call"), _touch("T8", "L3", at, channel="call"),
        _touch("T9", "L4", at + timedelta(days=1)), _touch("T10", "L2", at, owner=None, campaign_id=None),
        _touch("T11", "L5", at, direction=None), _touch("T12", "L5", at, direction=None),
    ]
    insert_frames(workspace.facts, {"leads": [dict(lead_id=f"L{i}", created_at=T0, channel="inbound") for i in range(1, 6)],
                                    "touches": touches})
    single, parted, n = _clean_twice(workspace, monkeypatch, 2, as_of=AS_OF, skip=("near_duplicates",))
    assert n == 6
    exact = [r for _t, rule, r in single[0] if rule == "exact_duplicates"]
    assert exact == [2, 5, 7, 8, 10, 12]  # every copy but the first of each group, NULLs equal to NULLs
    assert parted == single


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    from levier.data.demo import generate

    base = tmp_path_factory.mktemp("demo")
    summary = generate(base / "data", leads=600, seed=5)
    ws = create_workspace(base / "ws")
    insert_frames(ws.facts, {name: pq.read_table(path) for name, path in summary.files.items()})
    ws.truth = json.loads(Path(summary.ground_truth).read_text(encoding="utf-8"))["defects"]  # type: ignore[attr-defined]
    yield ws
    ws.close()


def test_the_demo_cleans_the_same_by_parts(demo: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    touches = demo.facts.count("touches")
    single, parted, n = _clean_twice(demo, monkeypatch, touches // 7)
    assert n == 8
    raw = demo.facts.raw("touches").select("_row_id", "touch_id").execute()
    ids = dict(zip(raw["_row_id"].astype(int), raw["touch_id"], strict=True))
    truth = set(demo.truth["exact_duplicates"]["ids"])  # type: ignore[attr-defined]
    assert len(truth) > 5 and {ids[r] for _t, rule, r in parted[0] if rule == "exact_duplicates"} == truth
    assert parted == single


def test_a_dry_run_by_parts_on_read_only_facts(demo: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parts' row ids go to a temporary table of the connection: allowed where the facts are read-only."""
    whole = _entries(clean_workspace(demo, dry_run=True))
    monkeypatch.setattr(levier.data.parts, "PART_ROWS", demo.facts.count("touches") // 3)
    with open_workspace(demo.path, read_only=True) as ro:
        assert not ro.facts_writable and part_count(ro, ("touches",)) == 3
        assert _entries(clean_workspace(ro, dry_run=True)) == whole
