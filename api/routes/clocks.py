"""The legal period calculator (期限计算器)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, HTTPException

from api.deps import CurrentUser, SessionDep
from api.errors import ERROR_RESPONSES
from models.clocks import UnknownClockError, due_date
from models.deadlines import work_calendar
from models.enums import ClockCode
from models.public import ClockDuePublic
from models.validation import ValidationError, check_date_range

router = APIRouter(prefix="/clocks", tags=["clocks"], responses=ERROR_RESPONSES)


def _invalid(field: str, message: str) -> HTTPException:
    return HTTPException(422, detail=[{"loc": ["query", field], "msg": message, "type": "value_error"}])


@router.get("/due", response_model=ClockDuePublic, summary="计算法定期限的最后一日")
def clock_due(session: SessionDep, user: CurrentUser, clock: str, start: str) -> dict:
    if clock not in {c.value for c in ClockCode}:
        raise _invalid("clock", f"未知的期限类型：{clock}")
    try:
        start_day = check_date_range(date.fromisoformat(start))
    except ValidationError as exc:
        raise _invalid("start", exc.message) from exc
    except ValueError as exc:
        raise _invalid("start", "日期格式应为 YYYY-MM-DD") from exc
    try:
        result = due_date(clock, start_day, work_calendar(session))
    except UnknownClockError as exc:
        raise _invalid("clock", exc.message) from exc
    return {
        "clock": clock,
        "label": ClockCode(clock).label,
        "start": start_day.isoformat(),
        "due": result.due.isoformat(),
        "basis": result.basis,
        "estimated": result.calendar_is_estimated,
        "note": result.note,
    }
