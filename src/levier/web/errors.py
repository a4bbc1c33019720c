"""One JSON error shape for every error of the API (pinned by tests/web/test_api_errors.py)::

    {"error": {"code": "not_found", "status": 404, "message": "No action with id 9.",
               "hint": "List them to see the existing ids.", "details": []}}

``code`` is stable and machine-readable; ``message`` and ``hint`` follow the request language
(``Accept-Language``, else LEVIER_LANG, else French); ``details`` lists field problems of
invalid requests as ``{"field": "body.due_date", "message": "…"}``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from levier import errors as e
from levier.i18n import gettext as _

__all__ = ["error_response", "install_error_handlers", "STATUS"]

log = logging.getLogger("levier.web")

#: LevierError subclass → (HTTP status, code); the first match in this order wins.
STATUS: tuple[tuple[type[e.LevierError], int, str], ...] = (
    (e.AuthError, 401, "unauthenticated"),
    (e.CsrfError, 403, "csrf_failed"),
    (e.PermissionDeniedError, 403, "forbidden"),
    (e.NotFoundError, 404, "not_found"),
    (e.WorkspaceNotFoundError, 404, "not_found"),
    (e.ConflictError, 409, "conflict"),
    (e.RuleError, 409, "rule_violation"),
    (e.OptionError, 422, "invalid_option"),
    (e.DataError, 422, "invalid_data"),
    (e.AnalysisError, 422, "analysis_error"),
    (e.ServiceUnavailableError, 503, "unavailable"),
    (e.EngineError, 503, "unavailable"),
    (e.LevierError, 400, "bad_request"),
)
_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed", 409: "conflict", 415: "unsupported_media_type", 422: "invalid_request", 429: "too_many_requests"}


def error_response(status: int, code: str, message: str, *, hint: str | None = None, details: list[dict[str, Any]] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "status": status, "message": message, "hint": hint, "details": details or []}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _levier(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.LevierError)
    for cls, status, code in STATUS:
        if isinstance(exc, cls):
            return error_response(status, code, exc.message, hint=exc.hint)
    raise AssertionError("unreachable")  # pragma: no cover


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else _("HTTP error {status}.", status=exc.status_code)
    if exc.status_code == 404 and message == "Not Found":
        message = _("No such endpoint; see /api/v1/docs.")
    return error_response(exc.status_code, _HTTP_CODES.get(exc.status_code, "http_error"), message)


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [{"field": ".".join(str(p) for p in err.get("loc", ())), "message": str(err.get("msg", ""))} for err in exc.errors()]
    return error_response(422, "invalid_request", _("The request is invalid: {n} problem(s).", n=len(details)), details=details)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return error_response(500, "internal_error", _("Internal error; the server log has the details."))


def install_error_handlers(app: FastAPI) -> None:
    """Every error, expected or not, leaves the API in the one shape above."""
    app.add_exception_handler(e.LevierError, _levier)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)
