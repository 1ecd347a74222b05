"""In-app notifications (待办提醒) of the current user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import func
from sqlmodel import col, select

from api.deps import CurrentUser, IdPath, Offset, SessionDep
from api.errors import ERROR_RESPONSES
from models.access import notification_filter
from models.db import session_scope, utcnow
from models.notification import Notification
from models.public import NotificationReadPublic, NotificationsPublic

router = APIRouter(prefix="/notifications", tags=["notifications"], responses=ERROR_RESPONSES)


@router.get("", response_model=NotificationsPublic, summary="我的待办提醒")
def list_notifications(
    session: SessionDep,
    user: CurrentUser,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> dict:
    conditions = [notification_filter(user)]
    if unread:
        conditions.append(col(Notification.read_at).is_(None))
    total = session.exec(select(func.count()).select_from(Notification).where(*conditions)).one()
    rows = session.exec(
        select(Notification)
        .where(*conditions)
        .order_by(col(Notification.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return {
        "items": [
            {
                "id": n.id,
                "text": n.text,
                "case_id": n.case_id,
                "created_at": n.created_at.isoformat(),
                "read": n.read_at is not None,
            }
            for n in rows
        ],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.post("/{notification_id}/read", response_model=NotificationReadPublic, summary="标记为已读")
def mark_read(notification_id: IdPath, request: Request, user: CurrentUser) -> dict:
    with session_scope(request.app.state.engine, write=True) as session:
        note = session.exec(
            select(Notification).where(Notification.id == notification_id, notification_filter(user))
        ).first()
        if note is None:
            raise HTTPException(404, detail="提醒不存在")
        if note.read_at is None:
            note.read_at = utcnow()
            session.add(note)
        return {"id": note.id, "read": True}
