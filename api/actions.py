"""The one adapter between HTTP and the human actions on a case, for the JSON API and the pages alike.

An action is `action(cmd, ctx)` (flows/): its command is a request model of models/schemas.py, the
JSON body as it is, or a page's form read into the same model (`command_from_form`). `perform` loads
the case under the access rule, checks the version the client saw, runs the action in one transaction
and relays what it queued after the commit. The JSON routes let domain errors reach api/errors; the
pages (`perform_form`) answer them with a redirect and a flash message. Adding a field to an action
therefore touches its command, the action and the template, never this module or the routes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar, get_args

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from api.errors import describe_validation
from api.html import engine_of, not_found, redirect
from models.access import can_see
from models.action_context import ActionContext
from models.case import Case
from models.db import session_scope, utcnow
from models.lifecycle import DomainError, NotFound, StaleVersion
from models.public import CasePublic
from models.schemas import CaseAction
from models.tz import CHINA
from models.user import User
from runtime.relay import after_commit

Cmd = TypeVar("Cmd", bound=BaseModel)
Action = Callable[[Any, ActionContext], Any]
Render = Callable[[Session, Case, Any], Any]


class CaseNotFound(NotFound):
    """The case does not exist or this user may not see it: the same answer (no existence leak)."""


def load_case(session: Session, user: User, case_id: int) -> Case:
    """The case, if this user may see it (models.access.can_see)."""
    case = session.get(Case, case_id) if can_see(session, user, case_id) else None
    if case is None:
        raise CaseNotFound("案件不存在")
    return case


def check_version(case: Case, version: int | None) -> None:
    if version is not None and version != case.version:
        raise StaleVersion(f"案件已被他人修改（当前版本 {case.version}），请刷新后重试")


def perform(
    request: Request,
    user: User,
    case_id: int,
    cmd: BaseModel,
    action: Action,
    *,
    render: Render | None = None,
) -> Any:
    """Run one human action: one transaction, then the relay. `render` builds the answer from the
    action's result inside the transaction (it may also refuse, rolling the action back)."""
    now = utcnow()
    with session_scope(engine_of(request), write=True) as session:
        case = load_case(session, user, case_id)
        check_version(case, getattr(cmd, "version", None))
        result = action(cmd, ActionContext(session=session, case=case, actor=user, now=now))
        session.flush()
        out = render(session, case, result) if render else result
    after_commit()
    return out


def keyword_action(action: Callable[..., Any], kwargs: Mapping[str, Any]) -> Action:
    """An action on a case that still takes keyword arguments (escalations, deliveries, the 卷宗, the
    portal) in the shape `perform` runs."""

    def call(_cmd: BaseModel, ctx: ActionContext) -> Any:
        return action(session=ctx.session, case=ctx.case, actor=ctx.actor, now=ctx.now, **kwargs)

    return call


def act(
    request: Request,
    user: User,
    case_id: int,
    action: Callable[..., Any],
    *,
    version: int | None = None,
    render: Render | None = None,
    **kwargs: Any,
) -> Any:
    """`perform` for a JSON route whose action takes keyword arguments; answers the case by default."""
    return perform(
        request,
        user,
        case_id,
        CaseAction(version=version),
        keyword_action(action, kwargs),
        render=render or (lambda _s, case, _r: CasePublic.from_row(case, utcnow())),
    )


# --- Pages -------------------------------------------------------------------------------------


def _holds(annotation: Any, kind: type) -> bool:
    """Whether a field's type is `kind` or holds it (`kind | None`, `Annotated[kind, ...]`)."""
    if isinstance(annotation, type):
        return issubclass(annotation, kind)
    return any(_holds(arg, kind) for arg in get_args(annotation))


def _is_list(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is list or any(_is_list(a) for a in get_args(annotation))


def _china_time(text: str) -> str | datetime:
    """A `datetime-local` input has no zone: it is China time. Anything else goes on to the model,
    which names what is wrong with it."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)


def command_from_form(model: type[Cmd], form: Any, given: Mapping[str, Any] | None = None) -> Cmd:
    """A posted form read into a command, field by field, as the JSON body would carry it: text
    trimmed; an empty optional field left out (its default applies), an empty required one sent as
    "" (the model says it is missing); an unticked check box is false; a repeated field is a list;
    a time without a zone is China time. `given` holds what a page builds itself (rows of a table)."""
    given = given or {}
    body: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in given:
            body[name] = given[name]
            continue
        if _is_list(field.annotation):
            values = [str(v).strip() for v in form.getlist(name)]
            if any(values) or field.is_required():
                body[name] = [v for v in values if v]
            continue
        text = str(form.get(name) or "").strip()
        if not text:
            if field.is_required():
                body[name] = False if _holds(field.annotation, bool) else ""
            continue
        body[name] = _china_time(text) if _holds(field.annotation, datetime) else text
    return model.model_validate(body)


def perform_form(
    request: Request,
    user: User,
    case_id: int,
    form: Any,
    model: type[Cmd],
    action: Action,
    *,
    done: str | Callable[[Cmd], str],
    back: str | None = None,
    given: Mapping[str, Any] | None = None,
    address: Callable[[Cmd], Cmd] | None = None,
) -> Response:
    """A page's action: the form read into the command, `perform`, then a redirect to `back` with
    `done` (or the Chinese reason it was refused) as the flash message."""
    back = back or f"/cases/{case_id}"
    try:
        cmd = command_from_form(model, form, given)
    except ValidationError as exc:
        return redirect(back, flash=describe_validation(exc, model), kind="error")
    if address is not None:
        cmd = address(cmd)
    return perform_page(
        request, user, case_id, cmd, action, done=done(cmd) if callable(done) else done, back=back
    )


def perform_page(
    request: Request,
    user: User,
    case_id: int,
    cmd: BaseModel,
    action: Action,
    *,
    done: str,
    back: str,
    render: Render | None = None,
) -> Response:
    """`perform` for a page: domain errors become a flash message on `back`."""
    try:
        perform(request, user, case_id, cmd, action, render=render)
    except CaseNotFound:
        raise not_found() from None
    except DomainError as exc:
        return redirect(back, flash=exc.message, kind="error")
    except StaleDataError:
        return redirect(back, flash="记录已被他人修改，请刷新页面后重试", kind="error")
    return redirect(back, flash=done)
