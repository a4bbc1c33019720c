"""The home dashboard, by role: CMO (funnel, CPLQ, channel value), sales (TTF, cadence, Q3 accounts), CEO (KPIs with targets)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from levier.report.fmt import Formatter
from levier.web import figures
from levier.web.deps import Ws
from levier.web.figures import Warmer
from levier.web.pages_cache import NOT_CACHED, peek
from levier.web.pages_core import (
    PageDb,
    PageRoute,
    PageViewer,
    cached,
    facts_key,
    render,
    render_fragment,
    request_lang,
)
from levier.web.pages_data import (
    action_targets_key,
    audit_payload,
    ceo_kpis,
    channel_value,
    funnel_steps,
    kpi_value,
    latest_audit,
    period_of,
    rep_owners,
    rep_q3_accounts,
)

__all__ = ["router", "VIEWS", "dashboard_context", "dashboard_body", "stored_context", "warm_runner", "WARM_JOBS"]

router = APIRouter(route_class=PageRoute)
VIEWS = ("ceo", "cmo", "sales")
VIEW_COOKIE = "levier_view"
#: what the app's warmer computes at start and after every facts change: the three views, default rep
WARM_JOBS = (("ceo", None), ("cmo", None), ("sales", None))


def dashboard_context(s: Any, ws: Any, view: str, lang: str, rep: str | None = None, *, audit: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """Everything the dashboard of ``view`` shows (also used by read-only share links)."""
    f = Formatter(lang)
    cycle, result = audit if audit is not None else latest_audit(s)
    payload = audit_payload(ws, result)
    start, end = period_of(payload, cycle)
    ctx: dict[str, Any] = {"view": view, "views": VIEWS, "cycle": cycle, "result": result, "start": start, "end": end, "payload": payload}
    if view == "ceo":
        ctx["kpis"] = ceo_kpis(s, ws, payload, cycle, f)
    elif view == "cmo":
        steps = funnel_steps(ws, start, end)
        top = max((st["reached"] for st in steps), default=0) or 1
        ctx.update(funnel=steps, funnel_top=top, channels=channel_value(ws, start, end),
                   cplq=kpi_value(ws, "cplq", start, end), cpl=kpi_value(ws, "cpl", start, end), spend=kpi_value(ws, "spend", start, end))
    else:
        owners = rep_owners(ws, start, end)
        chosen = rep if rep in owners else (owners[0] if owners else None)
        overall = payload.get("overall") or {}
        ctx.update(owners=owners, rep=chosen, overall=overall, dash=payload.get("dashboard") or {},
                   thresholds=payload.get("thresholds") or [], framing=payload.get("framing") or {},
                   q3=rep_q3_accounts(ws, payload, chosen, start, end) if chosen else [],
                   rep_ttf=kpi_value(ws, "ttf_hours", start, end))
    return ctx


def dashboard_body(s: Any, ws: Any, view: str, lang: str, rep: str | None = None, warmer: Warmer | None = None, *,
                   wait: float | None = None) -> Any:
    """The dashboard of ``view`` as HTML, cached under the version of everything it shows.

    The key holds the facts version (latest import batch and cleaning run), the latest audit
    result and its cycle, and for the CEO view the open actions' targets, all read by this
    request from the stores every worker shares: a new audit, a changed target or an import made
    through any worker gives every worker a new key at once.

    With a ``warmer`` (the app's), the request never computes a facts figure: it reads the
    figures stored for this facts version (decision 0230); if some are not there yet it asks the
    warmer for them, waits up to :data:`levier.web.figures.WAIT_SECONDS`, then shows the last
    figures with their date and "being computed" (that page is not cached and refreshes itself).
    ``wait`` overrides that delay (the page's own refresh polls pass 0: they never hold a thread).
    """
    cycle, result = latest_audit(s)
    cycle_key = (cycle.id, cycle.name, cycle.period_start, cycle.period_end) if cycle is not None else None
    targets = action_targets_key(s) if view == "ceo" else ()
    key = ("dashboard", *facts_key(ws), view, lang, rep, result.id if result else None, cycle_key, targets)

    def build() -> Any:
        return render_fragment("_dashboard_body.html", lang, **dashboard_context(s, ws, view, lang, rep, audit=(cycle, result)))

    if warmer is None:
        return cached(key, build, facts=False)  # its facts figures take the facts lock themselves
    hit = peek(key)
    if hit is not NOT_CACHED:
        return hit
    ctx, seen = stored_context(s, ws, view, lang, rep, warmer, audit=(cycle, result), wait=wait)
    if seen.pending:
        return render_fragment("_dashboard_body.html", lang, **ctx, pending=seen, rep_param=rep)
    return cached(key, lambda: render_fragment("_dashboard_body.html", lang, **ctx), facts=False)


def stored_context(s: Any, ws: Any, view: str, lang: str, rep: str | None, warmer: Warmer,
                   audit: tuple[Any, Any] | None = None, wait: float | None = None) -> tuple[dict[str, Any], figures.Peek]:
    """:func:`dashboard_context` from the stored figures only: what is missing is asked of ``warmer``, awaited
    at most ``wait`` seconds (:data:`levier.web.figures.WAIT_SECONDS`), else shown from an earlier version (``Peek.pending``)."""

    def context() -> tuple[dict[str, Any], figures.Peek]:
        with figures.peeking() as seen:
            ctx = dashboard_context(s, ws, view, lang, rep, audit=audit)
        return ctx, seen

    ctx, seen = context()
    if seen.pending:
        warmer.kick((view, rep))
        if warmer.wait((view, rep), figures.WAIT_SECONDS if wait is None else wait):
            ctx, seen = context()
    return ctx, seen


def warm_runner(sessionmaker: Any, ws: Any) -> Callable[[Hashable], None]:
    """What the app's :class:`~levier.web.figures.Warmer` runs for a job ``(view, rep)``: that dashboard's figures."""

    def run(job: Hashable) -> None:
        view, rep = job  # type: ignore[misc]
        with sessionmaker() as s:
            dashboard_context(s, ws, view, "en", rep)

    return run


@router.get("/")
def home(request: Request, user: PageViewer, s: PageDb, ws: Ws, view: str | None = None, rep: str | None = None) -> Response:
    chosen = view if view in VIEWS else request.cookies.get(VIEW_COOKIE)
    chosen = chosen if chosen in VIEWS else ("ceo" if user.role == "admin" else "sales" if user.role == "editor" else "cmo")
    poll = 0.0 if request.headers.get("hx-request") else None  # the "being computed" page's refresh: answer at once
    body = dashboard_body(s, ws, chosen, request_lang(request), rep, getattr(request.app.state, "warmer", None), wait=poll)
    out = render(request, "dashboard.html", body=body)
    if view in VIEWS:
        out.set_cookie(VIEW_COOKIE, view, max_age=365 * 86400, samesite="lax", path="/")
    return out
