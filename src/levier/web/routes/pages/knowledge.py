"""Experiments, learnings and the failure board, the playbook (search and history)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from levier.loop.models import OUTCOMES
from levier.loop.services import hypotheses, learnings, playbook
from levier.loop.services import search as search_svc
from levier.web.pages_core import PageDb, PageRoute, PageViewer, render

__all__ = ["router"]

router = APIRouter(route_class=PageRoute)


@router.get("/experiments")
def experiment_list(request: Request, _user: PageViewer, s: PageDb) -> Response:
    return render(request, "experiments.html", experiments=hypotheses.list_experiments(s), hypotheses=hypotheses.list_hypotheses(s))


@router.get("/experiments/{ref}")
def experiment_page(request: Request, ref: str, _user: PageViewer, s: PageDb) -> Response:
    exp = hypotheses.get_experiment(s, int(ref) if ref.isdigit() else ref)
    hyp = next((h for h in hypotheses.list_hypotheses(s) if h.id == exp.hypothesis_id), None)
    return render(request, "experiment.html", exp=exp, hypothesis=hyp)


@router.get("/learnings")
def learning_list(request: Request, _user: PageViewer, s: PageDb, outcome: str | None = None) -> Response:
    chosen = outcome if outcome in OUTCOMES else None
    return render(request, "learnings.html", learnings=learnings.list_learnings(s, outcome=chosen), outcome=chosen or "",
                  failures=learnings.failure_board(s))


def _search(s: Any, q: str, filters: dict[str, str]) -> list[dict[str, Any]]:
    clean = {k: v for k, v in filters.items() if v and k in search_svc.FILTERS}
    return playbook.search(s, q, include_retired=False, limit=50, **clean)


@router.get("/playbook")
def playbook_page(request: Request, _user: PageViewer, s: PageDb, q: str = "", channel: str = "", segment: str = "", outcome: str = "") -> Response:
    filters = {"channel": channel, "segment": segment, "outcome": outcome}
    hits = _search(s, q, filters)
    if request.headers.get("hx-request") and request.headers.get("hx-target") == "hits":
        return render(request, "_hits.html", hits=hits, q=q)
    entries = playbook.list_entries(s)
    latest: dict[str, Any] = {}
    for e in entries:
        latest[e.key] = e
    return render(request, "playbook.html", hits=hits, q=q, filters=filters, entries=sorted(latest.values(), key=lambda e: e.key),
                  segments=sorted({e.segment for e in entries if e.segment}), channels=sorted({e.channel for e in entries if e.channel}))


@router.get("/playbook/{key}")
def playbook_entry(request: Request, key: str, _user: PageViewer, s: PageDb) -> Response:
    rows = playbook.versions(s, key)
    if not rows:
        from levier.errors import NotFoundError
        from levier.i18n import gettext as _

        raise NotFoundError(_("The playbook has no entry '{key}'.", key=key))
    details = [playbook.entry_detail(s, r.id) for r in rows]
    return render(request, "playbook_entry.html", key=key, versions=list(reversed(details)))
