"""Outgoing webhooks: subscriptions, a durable delivery queue in the database, retries with backoff.

:func:`emit` writes one ``webhook_deliveries`` row per matching subscription inside the
caller's transaction (an outbox: the event is delivered if and only if the change commits).
:func:`deliver_pending` claims due rows with a lease (``locked_by`` / ``locked_until``, an atomic
conditional UPDATE) so several workers or processes can run it at once without sending twice,
POSTs them and records every attempt in the row's ``log``. Failures are retried after
``base_delay * 2**(attempts-1)`` seconds (capped) until ``max_attempts``, then marked ``failed``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.errors import OptionError
from levier.i18n import gettext as _
from levier.loop.models import Webhook, WebhookDelivery, utcnow
from levier.loop.services._common import get, require_text

__all__ = [
    "EVENTS", "RetryPolicy", "create_webhook", "list_webhooks", "update_webhook", "delete_webhook", "emit",
    "deliver_pending", "list_deliveries", "slack_text", "sign",
]

EVENTS = ("action.created", "action.due_soon", "action.overdue", "experiment.decided", "playbook.standardised", "kpi.alert")
FORMATS = ("json", "slack")


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff: attempt k (1-based) failed → next try after ``min(base * 2**(k-1), cap)`` seconds."""

    max_attempts: int = 6
    base_delay: float = 30.0
    max_delay: float = 3600.0
    timeout: float = 10.0
    lease_seconds: float = 60.0

    def delay(self, attempts: int) -> float:
        return float(min(self.base_delay * 2 ** (attempts - 1), self.max_delay))


def _check(url: str, events: list[str], fmt: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise OptionError(_("url: '{url}' must start with http:// or https://.", url=url))
    bad = [e for e in events if e not in EVENTS and e != "*"]
    if bad or not events:
        raise OptionError(_("events: use one or more of {events} (or *).", events=", ".join(EVENTS)))
    if fmt not in FORMATS:
        raise OptionError(_("format: '{value}' is not one of json, slack.", value=fmt))


def create_webhook(s: Session, name: str, url: str, events: list[str], *, format: str = "json", secret: str | None = None) -> Webhook:
    """Subscribe ``url`` to ``events`` (``*`` for all); ``format='slack'`` posts ``{"text": …}``."""
    _check(url, list(events), format)
    row = Webhook(name=require_text(name, "name"), url=url, events=list(events), format=format, secret=secret, active=True)
    s.add(row)
    s.flush()
    return row


def list_webhooks(s: Session) -> list[Webhook]:
    return list(s.scalars(sa.select(Webhook).order_by(Webhook.id)))


def update_webhook(s: Session, webhook_id: int, **fields: Any) -> Webhook:
    row = get(s, Webhook, webhook_id, _("webhook"))
    merged = {"url": row.url, "events": row.events, "format": row.format, **fields}
    _check(merged["url"], list(merged["events"]), merged["format"])
    for key in ("name", "url", "events", "format", "secret", "active"):
        if key in fields:
            setattr(row, key, fields[key])
    s.flush()
    return row


def delete_webhook(s: Session, webhook_id: int) -> None:
    s.delete(get(s, Webhook, webhook_id, _("webhook")))
    s.flush()


def slack_text(event: str, data: dict[str, Any]) -> str:
    """A one-line human summary of an event (Slack-compatible ``text``)."""
    title = data.get("title") or data.get("name") or data.get("key") or ""
    extra = {
        "action.created": f"owner {data.get('owner', '')}, due {data.get('due_date', '')}, KPI {data.get('kpi_key', '')} → {data.get('target', '')}",
        "action.due_soon": f"due {data.get('due_date', '')} ({data.get('owner', '')})",
        "action.overdue": f"was due {data.get('due_date', '')} ({data.get('owner', '')})",
        "experiment.decided": f"decision: {data.get('decision', '')}",
        "playbook.standardised": f"version {data.get('version', '')} is now the standard",
        "kpi.alert": f"{data.get('message', '')} (owner {data.get('owner', '')})",
    }.get(event, "")
    return f"[Levier] {event}: {title} — {extra}".strip()


def emit(s: Session, event: str, data: dict[str, Any]) -> list[WebhookDelivery]:
    """Queue ``event`` for every active subscription (in the caller's transaction)."""
    assert event in EVENTS, event
    out = []
    for hook in s.scalars(sa.select(Webhook).where(Webhook.active.is_(True)).order_by(Webhook.id)):
        if event not in hook.events and "*" not in hook.events:
            continue
        body: dict[str, Any] = {"event": event, "id": secrets.token_hex(8), "sent_at": None, "data": data}
        if hook.format == "slack":
            body = {"text": slack_text(event, data), "event": event, "data": data}
        row = WebhookDelivery(webhook_id=hook.id, event=event, payload=body, status="pending", attempts=0, next_attempt_at=utcnow(), log=[])
        s.add(row)
        out.append(row)
    s.flush()
    return out


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` HMAC of the request body (header ``X-Levier-Signature``)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _claim(s: Session, now: datetime, worker: str, policy: RetryPolicy, limit: int) -> list[int]:
    ids = list(
        s.scalars(
            sa.select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .where(sa.or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    )
    claimed = []
    lease = now + timedelta(seconds=policy.lease_seconds)
    for ident in ids:
        res = s.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.id == ident, WebhookDelivery.status == "pending")
            .where(sa.or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now))
            .values(locked_by=worker, locked_until=lease)
        )
        if res.rowcount == 1:
            claimed.append(ident)
    s.commit()
    return claimed


def _post(client: Any, hook: Webhook, payload: dict[str, Any], policy: RetryPolicy) -> tuple[int | None, str | None]:
    body = json.dumps(payload, ensure_ascii=False, default=str).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "levier-webhooks/1"}
    if hook.secret:
        headers["X-Levier-Signature"] = sign(hook.secret, body)
    try:
        resp = client.post(hook.url, content=body, headers=headers, timeout=policy.timeout)
    except Exception as exc:  # network errors of any kind are retried
        return None, f"{type(exc).__name__}: {exc}"
    return resp.status_code, None if 200 <= resp.status_code < 300 else f"HTTP {resp.status_code}"


def _attempt(s: Session, client: Any, ident: int, worker: str, policy: RetryPolicy, now: datetime) -> str:
    row = s.get(WebhookDelivery, ident)
    if row is None or row.locked_by != worker:
        return "skipped"
    hook = s.get(Webhook, row.webhook_id)
    assert hook is not None
    payload = dict(row.payload)
    if "sent_at" in payload:
        payload["sent_at"] = now.isoformat() + "Z"
    code, error = _post(client, hook, payload, policy)
    row.attempts += 1
    row.last_status_code, row.last_error = code, error
    row.log = [*row.log, {"attempt": row.attempts, "at": now.isoformat(), "status_code": code, "error": error, "worker": worker}]
    if error is None:
        row.status, row.delivered_at = "delivered", now
    elif row.attempts >= policy.max_attempts:
        row.status = "failed"
    else:
        row.next_attempt_at = now + timedelta(seconds=policy.delay(row.attempts))
    row.locked_by, row.locked_until = None, None
    s.commit()
    return row.status


def deliver_pending(
    s: Session, *, client: Any = None, policy: RetryPolicy | None = None, now: datetime | None = None, worker: str | None = None, limit: int = 100
) -> dict[str, int]:
    """Send the deliveries that are due; returns counts by outcome. Commits as it goes."""
    import httpx

    policy = policy or RetryPolicy()
    now = now or utcnow()
    worker = worker or secrets.token_hex(6)
    own = client is None
    client = client or httpx.Client()
    counts = {"delivered": 0, "pending": 0, "failed": 0, "skipped": 0}
    try:
        for ident in _claim(s, now, worker, policy, limit):
            counts[_attempt(s, client, ident, worker, policy, now)] += 1
    finally:
        if own:
            client.close()
    return counts


def list_deliveries(s: Session, *, status: str | None = None, webhook_id: int | None = None, limit: int = 200) -> list[WebhookDelivery]:
    stmt = sa.select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    if webhook_id:
        stmt = stmt.where(WebhookDelivery.webhook_id == webhook_id)
    return list(s.scalars(stmt))
