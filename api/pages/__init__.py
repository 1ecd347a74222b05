"""HTML pages for staff, lawyers, leaders and admin (简体中文), over the same flows as the JSON API."""

from __future__ import annotations

from fastapi import APIRouter

from api.pages import (
    admin,
    apidocs,
    applications,
    auth,
    bureau,
    cases,
    committees,
    deliveries,
    dossier,
    enforcement,
    jobs,
    leaders,
    parties,
    portal,
    sessions,
    towns,
)

router = APIRouter(include_in_schema=False)
PAGES = (
    auth,
    applications,
    cases,
    deliveries,
    dossier,
    enforcement,
    sessions,
    parties,
    leaders,
    admin,
    towns,
    committees,
    jobs,
    apidocs,
    bureau,
    portal,
)
for module in PAGES:
    router.include_router(module.router)

__all__ = ["router"]
