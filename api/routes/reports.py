"""The ledger (台账) as XLSX and the 积案报表 as PDF, limited to what the caller may see.

Both are answered in the request (the pages' long jobs go through the outbox, flows/jobs.py): the ledger
is the `GET /cases` query with the caller's scope written out, so it can never hold more, or other,
cases than the list; the 积案报表 is issued and archived like every document, for the caller's scope (a
town leader: their town)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse
from sqlalchemy import and_
from starlette.background import BackgroundTask

from api.deps import CaseFiltersDep, CurrentUser, LeaderUser
from api.errors import ERROR_RESPONSES
from api.routes.cases import parse_now
from documents.issue import issue_document
from documents.spreadsheets import export_ledger
from models.access import scope_town
from models.case_queries import case_conditions
from models.db import session_scope, utcnow
from models.schemas import IsoDate
from models.settings import get_settings
from models.tz import CHINA

router = APIRouter(tags=["reports"], responses=ERROR_RESPONSES)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _binary(media_type: str, description: str) -> dict:
    return {
        200: {
            "description": description,
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    }


@router.get(
    "/ledger",
    summary="案件台账 XLSX（与案件列表同一筛选，仅含调用者可见的案件）",
    response_class=FileResponse,
    responses=_binary(XLSX, "案件台账（Excel）"),
)
def ledger(
    request: Request,
    user: CurrentUser,
    filters: CaseFiltersDep,
    # IsoDate: YYYY-MM-DD text within the dates we handle (`to=0` is not 1970-01-01).
    date_from: Annotated[
        IsoDate | None, Query(alias="from", description="登记日期起（含），YYYY-MM-DD")
    ] = None,
    date_to: Annotated[IsoDate | None, Query(alias="to", description="登记日期止（含），YYYY-MM-DD")] = None,
    now: str | None = None,
) -> FileResponse:
    if date_from and date_to and date_from > date_to:
        raise HTTPException(
            422,
            detail=[
                {
                    "loc": ["query", "from"],
                    "msg": f"起始日期 {date_from} 晚于截止日期 {date_to}",
                    "type": "value_error",
                }
            ],
        )
    moment = parse_now(now)
    fd, name = tempfile.mkstemp(prefix="ledger-", suffix=".xlsx")
    os.close(fd)
    path = FilePath(name)
    try:
        export_ledger(
            request.app.state.engine,
            path,
            date_from=date_from,
            date_to=date_to,
            now=moment,
            actor_id=user.id,
            actor_name=user.username,
            scope=and_(*case_conditions(user, filters, moment)),
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    stamp = moment.astimezone(CHINA).strftime("%Y%m%d-%H%M")
    return FileResponse(
        path,
        media_type=XLSX,
        filename=f"案件台账-{stamp}.xlsx",
        headers={"Cache-Control": "private, no-store"},
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def backlog_subject(town: str | None, as_of_epoch: int) -> str:
    """The report's subject key names its scope (documents/context.py reads the town back): the same
    scope and moment is the same document. Compact, so a 64-character town name still fits the key."""
    key = f"backlog@{_base36(as_of_epoch)}"
    return f"{key}@{town}" if town else key


@router.get(
    "/reports/backlog",
    summary="积案报表 PDF（领导、管理员）：调用者范围内的积案，镇街领导为本镇街；按文书归档",
    response_class=FileResponse,
    responses=_binary("application/pdf", "积案报表（已归档，可凭二维码核验）"),
)
def backlog_report(request: Request, user: LeaderUser, now: str | None = None) -> FileResponse:
    as_of = parse_now(now) if now else utcnow()
    settings = get_settings()
    subject = backlog_subject(scope_town(user), int(as_of.timestamp()))
    with session_scope(request.app.state.engine, write=True) as session:
        doc = issue_document(
            session,
            case_id=None,
            kind="backlog_report",
            subject_key=subject,
            data_dir=settings.data_dir,
            base_url=settings.public_base_url,
            actor_id=user.id,
            as_of=as_of,
        )
        relative, doc_id = doc.path, doc.id
    return FileResponse(
        settings.data_dir / relative,
        media_type="application/pdf",
        filename=f"积案报表-{doc_id}.pdf",
        headers={"Cache-Control": "private, no-store"},
    )
