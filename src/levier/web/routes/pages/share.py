"""Read-only share links: create (editor), list and revoke (editor), open without logging in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from levier.errors import AuthError
from levier.i18n import gettext as _
from levier.i18n import use_language
from levier.loop import share
from levier.loop.services import cycles
from levier.web.deps import Ws
from levier.web.pages_core import (
    SECURITY_HEADERS,
    PageDb,
    PageEditor,
    PageRoute,
    PageViewer,
    form_data,
    redirect,
    render,
    request_lang,
)
from levier.web.pages_data import audit_charts, audit_payload, latest_audit
from levier.web.routes.pages.home import VIEWS, stored_context

__all__ = ["router"]

router = APIRouter(route_class=PageRoute)


@router.get("/shares")
def share_list(request: Request, _user: PageViewer, s: PageDb) -> Response:
    return render(request, "shares.html", links=share.list_links(s), cycles=cycles.list_cycles(s), new_url=request.query_params.get("new"))


@router.post("/shares")
async def share_create(request: Request, user: PageEditor, s: PageDb) -> Response:
    form = await form_data(request)
    target = form.get("target", "dashboard")
    kind, target_id = ("cycle", int(target.split(":")[1])) if target.startswith("cycle:") and target.split(":")[1].isdigit() else ("dashboard", None)
    days = int(form["days"]) if form.get("days", "").isdigit() else 7
    row, secret = share.create_link(s, kind, target_id=target_id, days=days, lang=form.get("lang") or request_lang(request),
                                    label=form.get("label", ""), user_id=user.id)
    url = str(request.base_url).rstrip("/") + f"/share/{secret}"
    del row
    return redirect("/shares?new=" + url, _("Share link created; copy it now, it is shown once."))


@router.post("/shares/{link_id}/revoke")
def share_revoke(link_id: int, _user: PageEditor, s: PageDb) -> Response:
    share.revoke_link(s, link_id)
    return redirect("/shares", _("Share link revoked."))


@router.get("/share/{secret}")
def share_view(request: Request, secret: str, s: PageDb, ws: Ws) -> Response:
    """The shared page, read-only, for anyone holding the link (no login; embeddable in a frame)."""
    try:
        link = share.open_link(s, secret)
    except AuthError as exc:
        return render(request, "error.html", status=404, message=exc.message, hint=exc.hint, public=True)
    lang = request.cookies.get("levier_lang") or link.lang
    lang = lang if lang in ("fr", "en") else "fr"
    if link.kind == "cycle" and link.target_id is not None:
        cycle, result = latest_audit(s, link.target_id)
        doc, charts = audit_charts(ws, result, audit_payload(ws, result), lang) if result else (None, {})
        out = render(request, "share_cycle.html", lang_override=lang, link=link, cycle=cycle, result=result, doc=doc, charts=charts, public=True)
    else:
        with use_language(lang):
            ctx, seen = stored_context(s, ws, "ceo", lang, None, request.app.state.warmer)  # never computes facts figures (decision 0230)
        out = render(request, "share_dashboard.html", lang_override=lang, link=link, public=True, pending=seen if seen.pending else None,
                     **{k: v for k, v in ctx.items() if k != "views"}, views=VIEWS)
    out.headers["Content-Security-Policy"] = SECURITY_HEADERS["Content-Security-Policy"].replace("frame-ancestors 'none'", "frame-ancestors *")
    out.headers["Cache-Control"] = "no-store"
    out.headers["X-Robots-Tag"] = "noindex"
    return out
