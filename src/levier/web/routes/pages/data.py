"""The data page: imports (``_imports``), the validation report and the cleaning journal."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from levier.web.deps import Ws
from levier.web.pages_core import PageRoute, PageViewer, cached, facts_key, render, request_lang

__all__ = ["router"]

router = APIRouter(route_class=PageRoute)


def _imports(ws: Any) -> list[dict[str, Any]]:
    t = ws.facts.imports()
    return [dict(r) for r in t.order_by(t.batch_id.desc()).limit(200).execute().to_dict("records")]


def _validation(ws: Any, lang: str) -> dict[str, Any]:
    from levier.data.validate import validate_workspace

    rep = validate_workspace(ws)
    issues = []
    for i in rep.issues:
        text = i.text(lang) if hasattr(i, "text") else i.message
        issues.append({"severity": i.severity, "table": i.table, "column": i.column, "count": i.count, "message": text, "code": i.code})
    return {"checked_at": rep.checked_at, "as_of": rep.as_of, "blocking": rep.blocking, "issues": issues, "rows": dict(rep.rows)}


def _journal(ws: Any, lang: str) -> dict[str, Any]:
    from levier.data.journal import journal_summary

    js = journal_summary(ws)
    return {"run_id": js.run_id, "ran_at": js.ran_at, "excluded": dict(js.excluded),
            "entries": [{"table": e.table_name, "rule": e.rule, "action": e.action, "category": e.category, "rows": e.rows_affected, "reason": e.text(lang)} for e in js.entries]}


@router.get("/data")
def data_page(request: Request, _user: PageViewer, ws: Ws) -> Response:
    lang = request_lang(request)
    key = facts_key(ws)  # imports and cleaning runs change the facts version: every worker recomputes at once
    return render(
        request, "data.html", imports=cached(("imports", *key), lambda: _imports(ws)),
        validation=cached(("validation", *key, lang), lambda: _validation(ws, lang)),
        journal=cached(("journal", *key, lang), lambda: _journal(ws, lang)),
    )
