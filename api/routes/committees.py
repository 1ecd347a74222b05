"""The committee dictionary (调解组织): read by every signed-in user; kept by the admin."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import AdminUser, CurrentUser, SessionDep
from api.errors import ERROR_RESPONSES
from flows.committees import replace_committees
from models.committee import CommitteesIn, CommitteesPublic, dictionary_public
from models.db import session_scope, utcnow

router = APIRouter(prefix="/committees", tags=["committees"], responses=ERROR_RESPONSES)


@router.get(
    "", response_model=CommitteesPublic, summary="调解组织字典（本中心人民调解委员会及专业调解委员会）"
)
def list_committees(session: SessionDep, user: CurrentUser) -> dict:
    return dictionary_public(session)


@router.put(
    "",
    response_model=CommitteesPublic,
    summary="保存调解组织字典（管理员）：带编号的修改，不带编号的新增，未列出的停用；本中心人民调解委员会始终保留",
)
def replace(body: CommitteesIn, request: Request, user: AdminUser) -> dict:
    with session_scope(request.app.state.engine, write=True) as session:
        return replace_committees(session=session, data=body, actor=user, now=utcnow())
