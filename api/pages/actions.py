"""The pages' way to the case they show: the API's access rule (api/actions.load_case), a 404 page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from api.actions import CaseNotFound, keyword_action, load_case, perform_page
from api.html import not_found
from models.case import Case
from models.schemas import CaseAction
from models.user import User


def load_visible_case(session: Session, user: User, case_id: int) -> Case:
    try:
        return load_case(session, user, case_id)
    except CaseNotFound:
        raise not_found() from None


def run_action(
    request: Request,
    user: User,
    case_id: int,
    action: Callable[..., Any],
    *,
    done: str,
    back: str | None = None,
    version: int | None = None,
    **kwargs: Any,
) -> Response:
    """A page's action on a case that takes keyword arguments rather than a command (escalations,
    deliveries, the 卷宗), through the same adapter as every other."""
    back = back or f"/cases/{case_id}"
    cmd = CaseAction(version=version)
    return perform_page(request, user, case_id, cmd, keyword_action(action, kwargs), done=done, back=back)
