"""The living playbook: versioned entries, evidence links, standardisation, full-text search."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from levier.loop.services import playbook
from levier.web.deps import Db, Editor, Viewer
from levier.web.schemas import EntryIn, EntryPatch, LinksIn, VersionIn

router = APIRouter(tags=["playbook"])


@router.get("/playbook")
def list_entries(_user: Viewer, s: Db, status: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
    return [e.to_dict() for e in playbook.list_entries(s, status=status, kind=kind)]


@router.post("/playbook", status_code=201)
def create_entry(body: EntryIn, _user: Editor, s: Db) -> dict[str, Any]:
    return playbook.entry_detail(s, playbook.create_entry(s, **body.model_dump()).id)


@router.get("/playbook/{entry_id}")
def get_entry(entry_id: int, _user: Viewer, s: Db) -> dict[str, Any]:
    return playbook.entry_detail(s, entry_id)


@router.patch("/playbook/{entry_id}")
def update_draft(entry_id: int, body: EntryPatch, _user: Editor, s: Db) -> dict[str, Any]:
    return playbook.entry_detail(s, playbook.update_draft(s, entry_id, **body.model_dump(exclude_unset=True)).id)


@router.post("/playbook/keys/{key}/versions", status_code=201)
def new_version(key: str, body: VersionIn, _user: Editor, s: Db) -> dict[str, Any]:
    return playbook.entry_detail(s, playbook.new_version(s, key, **body.model_dump(exclude_unset=True)).id)


@router.post("/playbook/{entry_id}/links")
def link(entry_id: int, body: LinksIn, _user: Editor, s: Db) -> dict[str, Any]:
    playbook.link(s, entry_id, learning_ids=body.learning_ids, experiment_ids=body.experiment_ids)
    return playbook.entry_detail(s, entry_id)


@router.post("/playbook/{entry_id}/standardise")
def standardise(entry_id: int, _user: Editor, s: Db) -> dict[str, Any]:
    """Draft → standard (needs linked evidence); retires the previous standard; emits the webhook."""
    return playbook.entry_detail(s, playbook.standardise(s, entry_id).id)


@router.post("/playbook/{entry_id}/retire")
def retire(entry_id: int, _user: Editor, s: Db) -> dict[str, Any]:
    return playbook.entry_detail(s, playbook.retire(s, entry_id).id)


@router.get("/search")
def search(
    _user: Viewer, s: Db, q: str = "", channel: str | None = None, segment: str | None = None, outcome: str | None = None,
    kpi: str | None = None, quarter: str | None = None, include_retired: bool = False, limit: int = 50,
) -> list[dict[str, Any]]:
    """Full-text search across learnings and playbook entries, with filters."""
    return playbook.search(s, q, channel=channel, segment=segment, outcome=outcome, kpi=kpi, quarter=quarter, include_retired=include_retired, limit=limit)
