"""One human action from a page: one transaction, then the relay; domain errors become a flash message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from api.errors import chinese_message
from api.pages.common import engine_of, not_found, redirect
from flows.dispatch import after_commit
from models.access import can_see
from models.case import Case
from models.db import session_scope, utcnow
from models.lifecycle import DomainError, StaleVersion
from models.user import User

FIELD_LABELS = {
    "days": "延长天数",
    "consent_note": "双方同意记录",
    "note": "说明",
    "reason": "理由",
    "scheduled_at": "调解时间",
    "location": "地点",
    "duration_minutes": "时长",
    "held_at": "召开时间",
    "attendees": "参加人员",
    "notes": "笔录",
    "outcome": "结果",
    "consent_to_continue": "双方同意继续调解",
    "signed_at": "签署时间",
    "performed": "履行情况",
    "term_id": "履行条款",
    "members": "专班成员",
    "expert_id": "专家",
    "body": "意见内容",
    "terms": "协议条款",
    "performance_method": "履行方式",
    "obligor": "义务人",
    "obligee": "权利人",
    "obligation": "义务内容",
    "amount": "金额",
    "due_date": "履行期限",
    "version": "版本",
    "kind": "结案方式",
    "visited_at": "回访时间",
    "method": "回访方式",
    "visited_person": "被回访人",
    "opinion": "当事人意见",
    "state": "履行情况",
}


def load_visible_case(session: Session, user: User, case_id: int) -> Case:
    """404 for a case that does not exist or that this user may not see (no existence leak)."""
    if not can_see(session, user, case_id):
        raise not_found()
    return session.get(Case, case_id)


def describe_validation(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if not isinstance(p, int)]
        label = FIELD_LABELS.get(loc[-1], loc[-1]) if loc else ""
        parts.append(f"{label}：{chinese_message(error)}" if label else chinese_message(error))
    return "；".join(parts)


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
    """Run `action` like the API's `act()`; answer with a redirect and a Chinese flash message."""
    back = back or f"/cases/{case_id}"
    try:
        with session_scope(engine_of(request), write=True) as session:
            case = load_visible_case(session, user, case_id)
            if version is not None and version != case.version:
                raise StaleVersion("案件已被他人修改，请刷新页面后重试")
            action(session=session, case=case, actor=user, now=utcnow(), **kwargs)
            session.flush()
    except DomainError as exc:
        return redirect(back, flash=exc.message, kind="error")
    except StaleDataError:
        return redirect(back, flash="记录已被他人修改，请刷新页面后重试", kind="error")
    after_commit()
    return redirect(back, flash=done)
