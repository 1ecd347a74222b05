"""The town dictionary (镇街/村社字典): read by everyone who registers or filters; kept by the admin."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import AdminUser, CurrentUser, SessionDep
from api.errors import ERROR_RESPONSES
from flows.towns import replace_towns
from models.db import session_scope, utcnow
from models.town import TownsIn, TownsPublic, dictionary_public

router = APIRouter(prefix="/towns", tags=["towns"], responses=ERROR_RESPONSES)


@router.get("", response_model=TownsPublic, summary="镇街及村（社区）字典")
def list_towns(session: SessionDep, user: CurrentUser) -> dict:
    return dictionary_public(session)


@router.put(
    "",
    response_model=TownsPublic,
    summary="替换镇街字典（管理员）：此后登记、专家、领导账号只接受字典中的镇街；已有记录能唯一对应的改为字典名称",
)
def replace(body: TownsIn, request: Request, user: AdminUser) -> dict:
    with session_scope(request.app.state.engine, write=True) as session:
        return replace_towns(session=session, data=body, actor=user, now=utcnow()).dictionary
