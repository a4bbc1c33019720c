"""Fixtures of the KPI tests: a workspace with two users, small fact tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from levier.loop.services import users
from levier.workspace import Workspace


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
