"""Fixtures of the KPI tests: a workspace with two users, small fact tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from levier.loop.services import users
from levier.workspace import Workspace


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    """Messages are asserted in English whatever ran before (the default language is French)."""
    from levier.i18n import use_language

    with use_language("en"):
        yield


@pytest.fixture
def s(workspace: Workspace) -> Iterator[Session]:
    with workspace.session() as session:
        users.create_user(session, "ana", role="editor")
        users.create_user(session, "bo", role="viewer")
        session.commit()
        yield session


def rows(**cols: Any) -> list[dict[str, Any]]:
    keys = list(cols)
    return [dict(zip(keys, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A small demo data set (8,000 leads, seed 7), generated once per session (~2 s)."""
    from levier.data.demo import generate

    out = tmp_path_factory.mktemp("kpi_demo") / "data"
    generate(out, leads=8_000, seed=7)
    return out


@pytest.fixture(scope="session")
def demo_ws(demo_dir: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    from tests.analysis.conftest import load_demo_parquet

    from levier.workspace import create_workspace

    ws = create_workspace(tmp_path_factory.mktemp("kpi_demo_ws") / "ws", timezone="UTC")
    load_demo_parquet(ws, demo_dir, ("leads", "touches", "stage_events", "deals", "web_events", "spend", "orders"))
    yield ws
    ws.close()
