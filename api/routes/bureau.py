"""The justice bureau's side (CONTRACT v1.2): 评查 samples and scores, findings answered on the case,
以案定补 grading, approval and ledger, the people's mediation statistics. HTTP only: the rules are in
models/review.py, models/subsidy.py, models/statistics.py; the actions in flows/reviews.py and
flows/subsidies.py."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from api.actions import load_case
from api.bureau_views import (
    XLSX,
    findings_public,
    ledger_rows,
    period_problem,
    reviews_public,
    sample_public,
    statistics_scope,
    subsidy_public,
    visible_reviews,
    xlsx_response,
)
from api.deps import CurrentUser, IdPath, SessionDep, TownQuery, require_roles
from api.errors import ERROR_RESPONSES
from api.idempotency import IDEMPOTENT, IdempotentRoute
from documents.bureau_workbooks import statistics_workbook, subsidy_ledger_workbook
from flows import reviews as review_flow
from flows import subsidies as subsidy_flow
from models.bureau_schemas import (
    FindingAnswer,
    FindingPublic,
    GradeSet,
    ReviewPublic,
    ReviewsPublic,
    RulesText,
    SampleCreate,
    SamplePublic,
    ScoreCreate,
    SubsidiesPublic,
    SubsidyPublic,
)
from models.center_settings import TEXTS, current_text, set_text
from models.db import session_scope, utcnow
from models.enums import ReviewStatus, Role
from models.roles import BUREAU_READERS, STAFF
from models.schemas import IsoDate
from models.settings import get_settings
from models.statistics import mediation_statistics
from models.user import User
from runtime.relay import after_commit

router = APIRouter(tags=["bureau"], responses=ERROR_RESPONSES, route_class=IdempotentRoute)


ReviewerUser = Annotated[User, Depends(require_roles(Role.reviewer))]
# Who reads reviews and subsidies (each within their case scope): the center, its leaders, the bureau.
BureauReader = Annotated[User, Depends(require_roles(*BUREAU_READERS))]
StaffOnly = Annotated[User, Depends(require_roles(*STAFF))]
MonthQuery = Annotated[str, Query(min_length=7, max_length=7, description="结案月份 YYYY-MM")]


def _binary(description: str) -> dict:
    return {
        200: {
            "description": description,
            "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
        }
    }


# --- 评查 -------------------------------------------------------------------------------------------


@router.post(
    "/reviews/samples",
    status_code=201,
    response_model=SamplePublic,
    summary="抽取评查样本（评查员）",
    dependencies=[IDEMPOTENT],
)
def draw_sample(request: Request, body: SampleCreate, user: ReviewerUser) -> dict:
    with session_scope(request.app.state.engine, write=True) as session:
        sample = review_flow.draw_sample(session=session, actor=user, now=utcnow(), **body.action_kwargs())
        return sample_public(session, user, sample)


@router.post(
    "/reviews/{review_id}/scores", response_model=ReviewPublic, summary="评查评分与发现的问题（评查员）"
)
def score(request: Request, review_id: IdPath, body: ScoreCreate, user: ReviewerUser) -> dict:
    with session_scope(request.app.state.engine, write=True) as session:
        review = review_flow.score_review(
            session=session, review_id=review_id, actor=user, now=utcnow(), **body.action_kwargs()
        )
        return reviews_public(session, [review])[0]


@router.get("/reviews", response_model=ReviewsPublic, summary="评查记录（本人可见范围内的案件）")
def list_reviews(
    session: SessionDep,
    user: BureauReader,
    sample_id: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="样本编号")] = None,
    status: ReviewStatus | None = None,
) -> dict:
    items = reviews_public(
        session, visible_reviews(session, user, sample_id=sample_id, status=status.value if status else None)
    )
    return {"items": items, "total": len(items)}


@router.post(
    "/cases/{case_id}/review-findings/{finding_id}/answer",
    response_model=FindingPublic,
    summary="答复评查发现的问题（整改情况，调解中心工作人员）",
)
def answer_finding(
    request: Request, case_id: IdPath, finding_id: IdPath, body: FindingAnswer, user: StaffOnly
) -> dict:
    with session_scope(request.app.state.engine, write=True) as session:
        case = load_case(session, user, case_id)
        finding = review_flow.answer_finding(
            session=session, case=case, finding_id=finding_id, answer=body.answer, actor=user, now=utcnow()
        )
        return findings_public(session, [finding])[0]


# --- 以案定补 -----------------------------------------------------------------------------------------


def _subsidy_answer(session, user: User, subsidy) -> dict:
    rows = [
        r for r in subsidy_flow.subsidy_rows(session, user, subsidy.month) if r["subsidy"].id == subsidy.id
    ]
    return subsidy_public(rows[0])


@router.put("/cases/{case_id}/subsidy", response_model=SubsidyPublic, summary="以案定补定档（调解中心）")
def grade(request: Request, case_id: IdPath, body: GradeSet, user: StaffOnly) -> dict:
    with session_scope(request.app.state.engine, write=True) as session:
        case = load_case(session, user, case_id)
        subsidy = subsidy_flow.grade_case(
            session=session,
            case=case,
            grade=body.grade.value if body.grade else None,
            actor=user,
            now=utcnow(),
        )
        return _subsidy_answer(session, user, subsidy)


@router.post("/subsidies/{subsidy_id}/approve", response_model=SubsidyPublic, summary="以案定补逐级审核")
def approve(request: Request, subsidy_id: IdPath, user: BureauReader) -> dict:
    with session_scope(request.app.state.engine, write=True) as session:
        subsidy = subsidy_flow.approve_subsidy(
            session=session, subsidy_id=subsidy_id, actor=user, now=utcnow()
        )
        answer = _subsidy_answer(session, user, subsidy)
    after_commit()
    return answer


def _month(month: str) -> str:
    try:
        return subsidy_flow.check_month(month)
    except Exception as exc:  # InvalidInput: the query's own 422
        raise HTTPException(
            422,
            detail=[
                {"loc": ["query", "month"], "msg": getattr(exc, "message", str(exc)), "type": "value_error"}
            ],
        ) from None


@router.get("/subsidies", response_model=SubsidiesPublic, summary="以案定补月度明细（按调解员）")
def list_subsidies(session: SessionDep, user: BureauReader, month: MonthQuery) -> dict:
    rows = subsidy_flow.subsidy_rows(session, user, _month(month))
    mediators = [{**m, "amount": f"{m['amount']:.2f}"} for m in subsidy_flow.by_mediator(rows)]
    items = [subsidy_public(r) for r in rows]
    return {"month": month, "items": items, "total": len(items), "mediators": mediators}


@router.get(
    "/subsidies.xlsx",
    summary="以案定补月度台账 XLSX（按调解员小计）",
    response_class=Response,
    responses=_binary("以案定补月度台账（Excel）"),
)
def subsidies_xlsx(session: SessionDep, user: BureauReader, month: MonthQuery) -> Response:
    rows = subsidy_flow.subsidy_rows(session, user, _month(month))
    content = subsidy_ledger_workbook(ledger_rows(rows), month=month, center_name=get_settings().center_name)
    return xlsx_response(content, f"以案定补台账-{month}.xlsx")


@router.get("/subsidies/rules", response_model=RulesText, summary="本县以案定补规定原文")
def rules(session: SessionDep, user: BureauReader) -> dict:
    return {"text": current_text(session, "subsidy_rules")}


@router.put("/subsidies/rules", response_model=RulesText, summary="修改以案定补规定原文（管理员）")
def set_rules(
    request: Request, body: RulesText, user: Annotated[User, Depends(require_roles(Role.admin))]
) -> dict:
    assert "subsidy_rules" in TEXTS
    with session_scope(request.app.state.engine, write=True) as session:
        return {"text": set_text(session, key="subsidy_rules", text=body.text, actor=user)}


# --- 统计 ---------------------------------------------------------------------------------------------


@router.get(
    "/reports/statistics",
    summary="人民调解工作统计表 XLSX（本中心、某镇街或评查员的范围）",
    response_class=Response,
    responses=_binary("人民调解工作统计表（Excel）"),
)
def statistics(
    session: SessionDep,
    user: CurrentUser,
    date_from: Annotated[IsoDate, Query(alias="from", description="登记日期起（含），YYYY-MM-DD")],
    date_to: Annotated[IsoDate, Query(alias="to", description="登记日期止（含），YYYY-MM-DD")],
    town: TownQuery = None,
) -> Response:
    problem = period_problem(date_from, date_to)
    if problem:
        raise HTTPException(422, detail=[{"loc": ["query", "from"], "msg": problem, "type": "value_error"}])
    scope, label = statistics_scope(user, town)
    stats = mediation_statistics(
        session, scope=scope, scope_label=label, date_from=date_from, date_to=date_to
    )
    content = statistics_workbook(stats, center_name=get_settings().center_name)
    return xlsx_response(content, f"人民调解统计-{date_from}至{date_to}.xlsx")
