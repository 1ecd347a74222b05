"""Admin settings: limits and thresholds (with their basis), holiday schedules for new years."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import Field
from sqlmodel import col, select

from api.deps import AdminUser, CurrentUser, SessionDep
from api.errors import ERROR_RESPONSES
from flows.process import load_holiday_schedule
from models.center_settings import TUNABLES, current_values, set_value
from models.clocks import CLOCK_RULES, ScheduleParseError
from models.db import session_scope
from models.deadlines import STAGE_LIMITS
from models.process_run import HolidaySchedule
from models.public import (
    HolidaySchedulePublic,
    HolidaysLoadedPublic,
    SettingPublic,
    SettingsPublic,
    TunablePublic,
)
from models.schemas import Int, StrictModel
from models.validation import MAX_DATE, MIN_DATE

router = APIRouter(tags=["admin"], responses=ERROR_RESPONSES)


# A year the calendar handles (models.validation's date range).
HolidayYear = Annotated[int, Path(ge=MIN_DATE.year, le=MAX_DATE.year, description="年份")]


class SettingIn(StrictModel):
    value: Int


class ScheduleIn(StrictModel):
    text: str = Field(
        min_length=1,
        max_length=20000,
        description="每行一个日期及类型，如 2027-01-01 holiday 元旦；2027-02-07 workday 调休上班",
    )


@router.get("/settings", response_model=SettingsPublic, summary="期限与阈值设置（含依据）")
def list_settings(session: SessionDep, user: CurrentUser) -> dict:
    values = current_values(session)
    return {
        "tunables": TunablePublic.all_of(values),
        "clocks": [
            {
                "clock": r.code,
                "label": r.label_zh,
                "amount": r.amount,
                "unit": "working_day" if r.counts_working_days_only else r.unit,
                "basis": r.basis_zh,
            }
            for r in CLOCK_RULES.values()
        ],
        "stage_limits": [
            {
                "stage": stage.value,
                "label": stage.label,
                "working_days": limit.working_days,
                "basis": limit.basis,
            }
            for stage, limit in STAGE_LIMITS.items()
        ],
    }


@router.put("/settings/{key}", response_model=SettingPublic, summary="修改设置（管理员）")
def update_setting(key: str, body: SettingIn, request: Request, user: AdminUser) -> dict:
    if key not in TUNABLES:
        raise HTTPException(404, detail="设置项不存在")
    with session_scope(request.app.state.engine, write=True) as session:
        value = set_value(session, key=key, value=body.value, actor=user)
    return {"key": key, "value": value}


@router.get("/holidays", response_model=list[HolidaySchedulePublic], summary="管理员载入的节假日安排")
def list_holidays(session: SessionDep, user: CurrentUser) -> list[dict]:
    rows = session.exec(select(HolidaySchedule).order_by(col(HolidaySchedule.year))).all()
    return [{"year": r.year, "loaded_at": r.loaded_at.isoformat(), "text": r.text} for r in rows]


@router.put(
    "/holidays/{year}", response_model=HolidaysLoadedPublic, summary="载入某年国务院节假日安排（管理员）"
)
def load_holidays(year: HolidayYear, body: ScheduleIn, request: Request, user: AdminUser) -> dict:
    try:
        with session_scope(request.app.state.engine, write=True) as session:
            schedule = load_holiday_schedule(session, year=year, text=body.text, actor=user)
    except ScheduleParseError as exc:
        raise HTTPException(
            422, detail=[{"loc": ["body", "text"], "msg": exc.message, "type": "value_error"}]
        ) from exc
    return {
        "year": year,
        "holidays": len(schedule.holidays),
        "workdays": len(schedule.workdays),
        "moved": schedule.moved,
        "message": schedule.message,
    }
