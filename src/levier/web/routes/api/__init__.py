"""The REST API (``/api/v1``): one router per concept, role checks on every route."""

from __future__ import annotations

from fastapi import APIRouter

from levier.web.routes.api import (
    actions,
    admin,
    auth,
    cycles,
    experiments,
    experiments_public,
    learnings,
    playbook,
    retros,
    users,
)

__all__ = ["router"]

router = APIRouter()
for module in (experiments_public, auth, users, cycles, retros, experiments, actions, learnings, playbook, admin):
    router.include_router(module.router)
router.include_router(__import__("levier.web.routes.api.policy", fromlist=["router"]).router)  # contact policy

from levier.web.routes.api.kpi_registry import router as _kpi_router  # noqa: E402

router.include_router(_kpi_router)
