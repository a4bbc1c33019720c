"""Lead and account pages: the customer-context timeline and the playbook rules that apply now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from levier.errors import NotFoundError
from levier.i18n import gettext as _
from levier.loop import share
from levier.loop.models import PlaybookEntry, User
from levier.web.deps import Ws
from levier.web.pages_core import (
    PageDb,
    PageEditor,
    PageRoute,
    PageViewer,
    cached,
    facts_key,
    form_data,
    redirect,
    render,
)
from levier.web.pages_data import account_leads, lead_profile, timeline

__all__ = ["router", "rules_for", "policy_decision"]

router = APIRouter(route_class=PageRoute)


def rules_for(s: Any, lead: dict[str, Any]) -> list[PlaybookEntry]:
    """Standard playbook entries whose segment matches the lead (no segment: applies to all)."""
    import sqlalchemy as sa

    channel, size = str(lead.get("channel") or ""), str(lead.get("company_size") or "")
    keys = {None, "", channel, size, f"{channel}/{size}", "all"}
    rows = s.scalars(sa.select(PlaybookEntry).where(PlaybookEntry.status == "standard").order_by(PlaybookEntry.key))
    return [r for r in rows if (r.segment or None) in keys or (r.segment or "").lower() in keys]


def policy_decision(ws: Any, lead_id: str) -> dict[str, Any] | None:
    """The contact-policy decision for the lead, when the policy engine is installed (else None)."""
    try:
        import levier.policy as policy
    except ImportError:
        return None
    for name in ("decide_for_lead", "check_lead", "decide"):
        fn = getattr(policy, name, None)
        if callable(fn):
            try:
                res = fn(ws, lead_id)
            except Exception as exc:  # the page still shows the timeline
                return {"error": f"{type(exc).__name__}: {exc}"}
            return res.to_dict() if hasattr(res, "to_dict") else dict(res) if isinstance(res, dict) else {"decision": str(res)}
    return None


def _authors(s: Any, notes: list[Any]) -> dict[int, str]:
    ids = {n.author_id for n in notes if n.author_id}
    return {u.id: u.name or u.username for u in (s.get(User, i) for i in ids) if u}


@router.get("/customers")
def customers(request: Request, _user: PageViewer, ws: Ws, q: str = "") -> Response:
    q = q.strip()
    found: list[dict[str, Any]] = []
    if q:
        t = ws.table("leads")
        expr = t.filter((t.lead_id == q) | (t.account_id == q) | t.owner.contains(q)).select("lead_id", "account_id", "owner", "channel", "company_size", "created_at").limit(30)
        found = cached(("customers", *facts_key(ws), q), lambda: [dict(r) for r in expr.execute().to_dict("records")], ttl=60)
    return render(request, "customers.html", q=q, found=found)


@router.get("/leads/{lead_id}")
def lead_page(request: Request, lead_id: str, _user: PageViewer, s: PageDb, ws: Ws) -> Response:
    lead = lead_profile(ws, lead_id)
    if lead is None:
        raise NotFoundError(_("No lead '{id}' in the facts.", id=lead_id), hint=_("Search by lead id, account id or owner on the Customers page."))
    notes = share.notes_for(s, lead_ids=[lead_id])
    return render(request, "customer.html", kind="lead", ident=lead_id, lead=lead, leads=[lead], events=timeline(ws, [lead_id]),
                  notes=notes, authors=_authors(s, notes), rules=rules_for(s, lead), policy=policy_decision(ws, lead_id))


@router.get("/accounts/{account_id}")
def account_page(request: Request, account_id: str, _user: PageViewer, s: PageDb, ws: Ws) -> Response:
    leads = account_leads(ws, account_id)
    if not leads:
        raise NotFoundError(_("No account '{id}' in the facts.", id=account_id), hint=_("Search by lead id, account id or owner on the Customers page."))
    ids = [str(r["lead_id"]) for r in leads]
    notes = share.notes_for(s, lead_ids=ids, account_id=account_id)
    rules: dict[int, PlaybookEntry] = {}
    for lead in leads[:20]:
        rules.update({r.id: r for r in rules_for(s, lead)})
    return render(request, "customer.html", kind="account", ident=account_id, lead=None, leads=leads, events=timeline(ws, ids),
                  notes=notes, authors=_authors(s, notes), rules=list(rules.values()), policy=None)


@router.post("/notes")
async def add_note(request: Request, user: PageEditor, s: PageDb) -> Response:
    form = await form_data(request)
    lead_id, account_id = form.get("lead_id") or None, form.get("account_id") or None
    share.add_note(s, form.get("text", ""), lead_id=lead_id, account_id=account_id, author_id=user.id)
    back = f"/leads/{lead_id}" if lead_id else f"/accounts/{account_id}"
    return redirect(back + "#notes", _("Note added."))
