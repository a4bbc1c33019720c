"""Scorecard, KPI catalogue, webhooks and their delivery log, access journal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter

from levier.loop.services import audit_log, kpi, scorecard, webhooks
from levier.web.deps import Admin, Db, Viewer
from levier.web.schemas import WebhookIn, WebhookPatch

router = APIRouter(tags=["admin"])


@router.get("/scorecard")
def retro_of_retros(_user: Viewer, s: Db) -> dict[str, Any]:
    """The Retro ROI scorecard over time (the retro of retros)."""
    return scorecard.retro_of_retros(s)


@router.get("/kpis")
def kpis(_user: Viewer) -> dict[str, str]:
    """KPI keys an action may target (from the one KPI catalogue)."""
    return kpi.known_kpis()


@router.get("/webhooks")
def list_webhooks(_admin: Admin, s: Db) -> list[dict[str, Any]]:
    return [w.to_dict() for w in webhooks.list_webhooks(s)]


@router.post("/webhooks", status_code=201)
def create_webhook(body: WebhookIn, _admin: Admin, s: Db) -> dict[str, Any]:
    return webhooks.create_webhook(s, body.name, body.url, body.events, format=body.format, secret=body.secret).to_dict()


@router.patch("/webhooks/{webhook_id}")
def update_webhook(webhook_id: int, body: WebhookPatch, _admin: Admin, s: Db) -> dict[str, Any]:
    return webhooks.update_webhook(s, webhook_id, **body.model_dump(exclude_unset=True)).to_dict()


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: int, _admin: Admin, s: Db) -> None:
    webhooks.delete_webhook(s, webhook_id)


@router.get("/webhooks/deliveries")
def deliveries(_admin: Admin, s: Db, status: str | None = None, webhook_id: int | None = None) -> list[dict[str, Any]]:
    """The delivery log (newest first)."""
    return [d.to_dict() for d in webhooks.list_deliveries(s, status=status, webhook_id=webhook_id)]


@router.get("/access-log")
def access_log(_admin: Admin, s: Db, username: str | None = None, action: str | None = None, since: datetime | None = None) -> list[dict[str, Any]]:
    """Who viewed, exported or ran what, and when."""
    return [e.to_dict() for e in audit_log.entries(s, username=username, action=action, since=since)]
