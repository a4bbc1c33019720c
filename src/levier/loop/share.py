"""Read-only share links (dashboard or cycle report) and customer notes, for the web app.

A share link carries a random secret shown once (``/share/<secret>``); only its SHA-256 is
stored, with an expiry and a revocation time. Opening it needs no login and shows a read-only
page; expired or revoked links are refused.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from levier.errors import AuthError, OptionError
from levier.i18n import gettext as _
from levier.loop.models import SHARE_KINDS, CustomerNote, Cycle, ShareLink, utcnow
from levier.loop.services._common import check_choice, get, require_text

__all__ = [
    "MAX_DAYS", "create_link", "list_links", "revoke_link", "open_link",
    "add_note", "notes_for",
]

MAX_DAYS = 90


def _sha(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_link(
    s: Session, kind: str, *, target_id: int | None = None, days: int = 7, lang: str = "fr",
    label: str = "", user_id: int | None = None,
) -> tuple[ShareLink, str]:
    """A new read-only link valid ``days`` days (1–90); returns the row and the secret (shown once)."""
    check_choice(kind, SHARE_KINDS, "kind")
    if not 1 <= int(days) <= MAX_DAYS:
        raise OptionError(_("days: a share link lasts 1 to {max} days.", max=MAX_DAYS))
    if kind == "cycle":
        if target_id is None:
            raise OptionError(_("A cycle share link needs the cycle id."))
        get(s, Cycle, target_id, _("cycle"))
    secret = secrets.token_urlsafe(24)
    row = ShareLink(
        token_hash=_sha(secret), prefix=secret[:6], kind=kind, target_id=target_id, lang=lang if lang in ("fr", "en") else "fr",
        label=label.strip()[:200], created_by_id=user_id, expires_at=utcnow() + timedelta(days=int(days)),
    )
    s.add(row)
    s.flush()
    return row, secret


def list_links(s: Session) -> list[ShareLink]:
    return list(s.scalars(sa.select(ShareLink).order_by(ShareLink.id.desc())))


def revoke_link(s: Session, link_id: int) -> ShareLink:
    row = get(s, ShareLink, link_id, _("share link"))
    row.revoked_at = row.revoked_at or utcnow()
    s.flush()
    return row


def open_link(s: Session, secret: str, now: datetime | None = None) -> ShareLink:
    """The live link of ``secret``; :class:`AuthError` when unknown, expired or revoked."""
    row = s.scalar(sa.select(ShareLink).where(ShareLink.token_hash == _sha(secret or "")))
    now = now or utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise AuthError(_("This share link is unknown, expired or revoked."), hint=_("Ask its author for a new link."))
    row.last_viewed_at = now
    s.flush()
    return row


def add_note(s: Session, text: str, *, lead_id: str | None = None, account_id: str | None = None, author_id: int | None = None) -> CustomerNote:
    """A note on a lead or an account (exactly one of them)."""
    if (lead_id is None) == (account_id is None):
        raise OptionError(_("A note is about exactly one lead or one account."))
    row = CustomerNote(text=require_text(text, "text"), lead_id=lead_id, account_id=account_id, author_id=author_id)
    s.add(row)
    s.flush()
    return row


def notes_for(s: Session, *, lead_ids: list[str] | None = None, account_id: str | None = None) -> list[CustomerNote]:
    """Notes on these leads or on this account, newest first."""
    conds = []
    if lead_ids:
        conds.append(CustomerNote.lead_id.in_(lead_ids))
    if account_id:
        conds.append(CustomerNote.account_id == account_id)
    if not conds:
        return []
    return list(s.scalars(sa.select(CustomerNote).where(sa.or_(*conds)).order_by(CustomerNote.created_at.desc(), CustomerNote.id.desc())))
