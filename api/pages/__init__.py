"""HTML pages for staff, lawyers, leaders and admin (简体中文), over the same flows as the JSON API."""

from __future__ import annotations

from fastapi import APIRouter

from api.pages import (
    admin,
    apidocs,
    auth,
    cases,
    committees,
    deliveries,
    jobs,
    leaders,
    parties,
    portal,
    sessions,
    towns,
)

router = APIRouter(include_in_schema=False)
for module in (
    auth,
    cases,
    deliveries,
    sessions,
    parties,
    leaders,
    admin,
    towns,
    committees,
    jobs,
    apidocs,
    portal,
):
    router.include_router(module.router)

__all__ = ["router"]
