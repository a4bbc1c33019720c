"""The living playbook: versioned entries draft → standard → retired, linked to their evidence.

An entry is identified by its ``key``; each change of a standard entry is a new version (a
draft). Standardising a version retires the previous standard version of the same key and
requires at least one linked learning or experiment (the evidence that justifies it).
Kinds: ``cadence_sequence`` (day-by-day steps per segment), ``message_template``,
``threshold_sla`` and ``automation_rule``.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.errors import OptionError, RuleError
from levier.i18n import gettext as _
from levier.loop.models import (
    PLAYBOOK_KINDS,
    Experiment,
    Learning,
    PlaybookEntry,
    PlaybookLink,
    utcnow,
)
from levier.loop.services import search as search_svc
from levier.loop.services import webhooks
from levier.loop.services._common import check_choice, clean_fields, get, require_text
from levier.loop.services.kpi import check_kpi

__all__ = [
    "create_entry", "new_version", "get_entry", "list_entries", "versions", "link", "links", "standardise", "retire",
    "update_draft", "search", "entry_detail",
]

search = search_svc.search
_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,119}$")


def _check_content(kind: str, content: dict[str, Any]) -> dict[str, Any]:
    """Light structural checks per kind (a cadence sequence lists day-by-day steps)."""
    if not isinstance(content, dict):
        raise OptionError(_("content must be a JSON object."))
    if kind == "cadence_sequence":
        steps = content.get("steps")
        if not isinstance(steps, list) or not steps or not all(isinstance(x, dict) and isinstance(x.get("day"), int) and x.get("channel") for x in steps):
            raise OptionError(_("A cadence sequence needs content.steps: a list of steps, each with a day number and a channel."))
    if kind == "threshold_sla" and "value" not in content:
        raise OptionError(_("A threshold / SLA needs content.value (and usually content.metric and content.unit)."))
    return content


def create_entry(
    s: Session, key: str, kind: str, title: str, *, body: str = "", content: dict[str, Any] | None = None, segment: str | None = None,
    channel: str | None = None, kpi_key: str | None = None, learning_ids: list[int] | None = None, experiment_ids: list[int] | None = None,
) -> PlaybookEntry:
    """Version 1 of a new playbook entry, as a draft."""
    key = require_text(key, "key").lower()
    if not _KEY.match(key):
        raise OptionError(_("key: '{key}' must be lower-case letters, digits, '-', '_' or '.'.", key=key))
    if s.scalar(sa.select(PlaybookEntry.id).where(PlaybookEntry.key == key)) is not None:
        raise OptionError(_("The playbook already has an entry '{key}'.", key=key), hint=_("Create a new version of it instead."))
    check_choice(kind, PLAYBOOK_KINDS, "kind")
    row = PlaybookEntry(
        key=key, version=1, kind=kind, title=require_text(title, "title"), body=body, content=_check_content(kind, dict(content or {})),
        segment=segment, channel=channel, kpi_key=check_kpi(kpi_key) if kpi_key else None, status="draft",
    )
    s.add(row)
    s.flush()
    link(s, row.id, learning_ids=learning_ids, experiment_ids=experiment_ids)
    search_svc.index_entry(s, row)
    return row


def versions(s: Session, key: str) -> list[PlaybookEntry]:
    return list(s.scalars(sa.select(PlaybookEntry).where(PlaybookEntry.key == key).order_by(PlaybookEntry.version)))


def new_version(s: Session, key: str, **changes: Any) -> PlaybookEntry:
    """A new draft version of ``key``, copied from its latest version with ``changes`` applied."""
    clean_fields(changes, {"title", "body", "content", "segment", "channel", "kpi_key", "learning_ids", "experiment_ids"})
    rows = versions(s, key)
    if not rows:
        raise OptionError(_("The playbook has no entry '{key}'.", key=key))
    last = rows[-1]
    if last.status == "draft":
        raise RuleError(_("Entry '{key}' already has a draft (version {v}); edit it instead.", key=key, v=last.version))
    fields = {k: getattr(last, k) for k in ("kind", "title", "body", "content", "segment", "channel", "kpi_key")}
    fields.update({k: v for k, v in changes.items() if k not in ("learning_ids", "experiment_ids")})
    row = PlaybookEntry(key=key, version=last.version + 1, status="draft", **fields)
    _check_content(row.kind, row.content)
    s.add(row)
    s.flush()
    for old in links(s, last.id):
        s.add(PlaybookLink(entry_id=row.id, learning_id=old.learning_id, experiment_id=old.experiment_id))
    link(s, row.id, learning_ids=changes.get("learning_ids"), experiment_ids=changes.get("experiment_ids"))
    search_svc.index_entry(s, row)
    return row


def update_draft(s: Session, entry_id: int, **changes: Any) -> PlaybookEntry:
    clean_fields(changes, {"title", "body", "content", "segment", "channel", "kpi_key"})
    row = get_entry(s, entry_id)
    if row.status != "draft":
        raise RuleError(_("Only a draft can be edited; create a new version of '{key}'.", key=row.key))
    for key, value in changes.items():
        setattr(row, key, value)
    _check_content(row.kind, row.content)
    s.flush()
    search_svc.index_entry(s, row)
    return row


def get_entry(s: Session, entry_id: int) -> PlaybookEntry:
    return get(s, PlaybookEntry, entry_id, _("playbook entry"))


def list_entries(s: Session, *, status: str | None = None, kind: str | None = None) -> list[PlaybookEntry]:
    stmt = sa.select(PlaybookEntry).order_by(PlaybookEntry.key, PlaybookEntry.version)
    if status:
        stmt = stmt.where(PlaybookEntry.status == status)
    if kind:
        stmt = stmt.where(PlaybookEntry.kind == kind)
    return list(s.scalars(stmt))


def links(s: Session, entry_id: int) -> list[PlaybookLink]:
    return list(s.scalars(sa.select(PlaybookLink).where(PlaybookLink.entry_id == entry_id).order_by(PlaybookLink.id)))


def link(s: Session, entry_id: int, *, learning_ids: list[int] | None = None, experiment_ids: list[int] | None = None) -> list[PlaybookLink]:
    """Link learnings and experiments (the evidence) to an entry; existing links are kept once."""
    get_entry(s, entry_id)
    have = {(ln.learning_id, ln.experiment_id) for ln in links(s, entry_id)}
    for lid in learning_ids or []:
        get(s, Learning, lid, _("learning"))
        if (lid, None) not in have:
            s.add(PlaybookLink(entry_id=entry_id, learning_id=lid))
    for eid in experiment_ids or []:
        get(s, Experiment, eid, _("experiment"))
        if (None, eid) not in have:
            s.add(PlaybookLink(entry_id=entry_id, experiment_id=eid))
    s.flush()
    return links(s, entry_id)


def standardise(s: Session, entry_id: int) -> PlaybookEntry:
    """Make a draft the standard; the previous standard version of the key is retired."""
    row = get_entry(s, entry_id)
    if row.status != "draft":
        raise RuleError(_("Only a draft can become the standard (entry '{key}' v{v} is {status}).", key=row.key, v=row.version, status=row.status))
    if not links(s, entry_id):
        raise RuleError(
            _("A standard playbook entry must be justified: link at least one learning or experiment to '{key}'.", key=row.key)
        )
    now = utcnow()
    for old in versions(s, row.key):
        if old.status == "standard":
            old.status, old.retired_at = "retired", now
    row.status, row.standardised_at = "standard", now
    s.flush()
    webhooks.emit(s, "playbook.standardised", entry_detail(s, row.id))
    return row


def retire(s: Session, entry_id: int) -> PlaybookEntry:
    row = get_entry(s, entry_id)
    if row.status == "retired":
        raise RuleError(_("Entry '{key}' v{v} is already retired.", key=row.key, v=row.version))
    row.status, row.retired_at = "retired", utcnow()
    s.flush()
    return row


def entry_detail(s: Session, entry_id: int) -> dict[str, Any]:
    row = get_entry(s, entry_id)
    found = links(s, entry_id)
    return {
        **row.to_dict(),
        "learning_ids": [ln.learning_id for ln in found if ln.learning_id is not None],
        "experiment_ids": [ln.experiment_id for ln in found if ln.experiment_id is not None],
    }
