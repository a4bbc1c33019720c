"""The web layer: FastAPI app (``create_app``), REST API under ``/api/v1``; pages come later."""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(workspace_path: object = None, **kwargs: object) -> object:
    """See :func:`levier.web.app.create_app` (imported lazily: FastAPI is the ``web`` extra)."""
    from levier.web.app import create_app as _create

    return _create(workspace_path, **kwargs)  # type: ignore[arg-type]
