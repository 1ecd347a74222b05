"""Pages of the justice bureau's side: 评查 (draw, score, findings), 以案定补 (month, approve), the
statistics; the center answers findings and grades a case from the case page. Same actions as the JSON
routes (flows/reviews.py, flows/subsidies.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.bureau_views import (
    ledger_rows,
    period_problem,
    reviews_public,
    statistics_scope,
    subsidy_public,
    visible_reviews,
    xlsx_response,
)
from api.deps import IdPath
from api.errors import describe_validation
from api.html import PageError, engine_of, not_found, redirect, render
from api.pages.actions import load_visible_case
from api.pages.common import PageRoute, form_of, require
from documents.bureau_workbooks import statistics_workbook, subsidy_ledger_workbook
from flows import reviews as review_flow
from flows import subsidies as subsidy_flow
from models.bureau_schemas import FindingAnswer, GradeSet, RulesText, SampleCreate, ScoreCreate
from models.center_settings import current_text, current_values, set_text
from models.db import session_scope, utcnow
from models.deadlines import china_date
from models.enums import Category, ReviewDimension, Role, Satisfaction, SubsidyGrade
from models.lifecycle import DomainError
from models.review import ReviewSample
from models.roles import BUREAU_READERS, STAFF
from models.settings import get_settings
from models.statistics import mediation_statistics, mediator_scorecard
from models.user import User

router = APIRouter(route_class=PageRoute)

READERS = BUREAU_READERS


def _act(request: Request, back: str, done: str, action, **kwargs) -> Response:
    """One action in one transaction; a rule it breaks comes back as the flash message."""
    try:
        with session_scope(engine_of(request), write=True) as session:
            action(session=session, now=utcnow(), **kwargs)
    except DomainError as exc:
        return redirect(back, flash=exc.message, kind="error")
    return redirect(back, flash=done)


# --- 评查 -------------------------------------------------------------------------------------------


@router.get("/reviews")
def reviews_page(request: Request, sample: int | None = None) -> Response:
    user = require(request, *READERS)
    with Session(engine_of(request)) as session:
        if sample is not None and not 1 <= sample <= 2**31 - 1:
            raise not_found("评查样本不存在")
        reviews = reviews_public(session, visible_reviews(session, user, sample_id=sample))
        # Only the samples whose cases the reader sees: another town's draw is not theirs to know of.
        wanted = {r["sample_id"] for r in reviews}
        samples = {
            s.id: s for s in session.exec(select(ReviewSample).where(col(ReviewSample.id).in_(wanted))).all()
        }
    open_findings = [f for r in reviews for f in r["findings"] if f["answered_at"] is None]
    today = china_date(utcnow())
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return render(
        request,
        "reviews.html",
        {
            "title": "案件评查",
            "reviews": reviews,
            "samples": samples,
            "sample": samples.get(sample) if sample else None,
            "open_findings": open_findings,
            "may_draw": user.role == Role.reviewer,
            "default_from": quarter_start.isoformat(),
            "default_to": today.isoformat(),
            "dimensions": list(ReviewDimension),
        },
    )


@router.post("/reviews/samples")
async def draw_sample(request: Request) -> Response:
    user = require(request, Role.reviewer)
    form = await form_of(request)
    try:
        percent = Decimal(str(form.get("percent") or "10"))
        body = SampleCreate.model_validate(
            {
                "from": form.get("from"),
                "to": form.get("to"),
                "ratio": float(percent / 100),
                "seed": form.get("seed") or None,
            }
        )
    except (ValidationError, ArithmeticError, ValueError) as exc:
        message = (
            describe_validation(exc, SampleCreate)
            if isinstance(exc, ValidationError)
            else "抽查比例应为 1–100 的数"
        )
        return redirect("/reviews", flash=message, kind="error")
    try:
        with session_scope(engine_of(request), write=True) as session:
            sample = review_flow.draw_sample(
                session=session, actor=user, now=utcnow(), **body.action_kwargs()
            )
            sample_id, drawn = sample.id, len(visible_reviews(session, user, sample_id=sample.id))
            population = sample.population
    except DomainError as exc:
        return redirect("/reviews", flash=exc.message, kind="error")
    return redirect(f"/reviews?sample={sample_id}", flash=f"已从 {population} 件结案案件中抽取 {drawn} 件")


@router.get("/reviews/{review_id}")
def review_page(request: Request, review_id: IdPath) -> Response:
    user = require(request, *READERS)
    with Session(engine_of(request)) as session:
        try:
            review = review_flow.visible_review(session, user, review_id)
        except DomainError as exc:
            raise not_found(exc.message) from None
        item = reviews_public(session, [review])[0]
        pass_mark = current_values(session)["review_pass_total"]
    return render(
        request,
        "review.html",
        {
            "title": f"案件评查 · {item['case_no']}",
            "r": item,
            "dimensions": list(ReviewDimension),
            "may_score": user.role == Role.reviewer,
            "pass_mark": pass_mark,
        },
    )


@router.post("/reviews/{review_id}/scores")
async def score(request: Request, review_id: IdPath) -> Response:
    user = require(request, Role.reviewer)
    form = await form_of(request)
    back = f"/reviews/{review_id}"
    findings = [line.strip() for line in str(form.get("findings") or "").splitlines() if line.strip()]
    try:
        body = ScoreCreate.model_validate(
            {
                "scores": {d.value: form.get(f"score-{d.value}") for d in ReviewDimension},
                "note": form.get("note") or None,
                "findings": findings,
            }
        )
    except ValidationError as exc:
        return redirect(back, flash=describe_validation(exc, ScoreCreate), kind="error")
    return _act(
        request,
        back,
        "评分已保存",
        lambda **kw: review_flow.score_review(review_id=review_id, actor=user, **kw, **body.action_kwargs()),
    )


@router.post("/cases/{case_id}/review-findings/{finding_id}/answer")
async def answer_finding(request: Request, case_id: IdPath, finding_id: IdPath) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    back = f"/cases/{case_id}#review-findings"
    with Session(engine_of(request)) as session:
        load_visible_case(session, user, case_id)
    try:
        body = FindingAnswer(answer=str(form.get("answer") or ""))
    except ValidationError as exc:
        return redirect(back, flash=describe_validation(exc, FindingAnswer), kind="error")

    def answer(*, session: Session, now) -> None:
        case = load_visible_case(session, user, case_id)
        review_flow.answer_finding(
            session=session, case=case, finding_id=finding_id, answer=body.answer, actor=user, now=now
        )

    return _act(request, back, "已答复整改情况", answer)


# --- 以案定补 -----------------------------------------------------------------------------------------


def _month_of(value: str | None) -> str:
    if value:
        return value
    today = china_date(utcnow())
    return f"{today.year:04d}-{today.month:02d}"


def _month_rows(session: Session, user: User, month: str) -> list[dict]:
    try:
        return subsidy_flow.subsidy_rows(session, user, month)
    except DomainError as exc:
        raise PageError(400, exc.message) from None


@router.get("/subsidies")
def subsidies_page(request: Request, month: str | None = None) -> Response:
    user = require(request, *READERS)
    month = _month_of(month)
    with Session(engine_of(request)) as session:
        rows = _month_rows(session, user, month)
        items = [subsidy_public(r) for r in rows]
        mediators = subsidy_flow.by_mediator(rows)
        rules = current_text(session, "subsidy_rules")
        amounts = current_values(session)
        mine = {r["subsidy"].id: subsidy_flow.level_of(user, r["case"].town) for r in rows}
    return render(
        request,
        "subsidies.html",
        {
            "title": "以案定补",
            "month": month,
            "items": items,
            "mediators": mediators,
            "rules": rules,
            "grades": [(g.label, amounts[f"subsidy_{g.value}"]) for g in SubsidyGrade],
            "may_approve": {sid: level for sid, level in mine.items() if level},
            "may_edit_rules": user.role == Role.admin,
        },
    )


@router.get("/subsidies.xlsx")
def subsidies_xlsx(request: Request, month: str | None = None) -> Response:
    user = require(request, *READERS)
    month = _month_of(month)
    with Session(engine_of(request)) as session:
        rows = _month_rows(session, user, month)
        content = subsidy_ledger_workbook(
            ledger_rows(rows), month=month, center_name=get_settings().center_name
        )
    return xlsx_response(content, f"以案定补台账-{month}.xlsx")


@router.post("/subsidies/rules")
async def set_rules(request: Request) -> Response:
    user = require(request, Role.admin)
    form = await form_of(request)
    try:
        body = RulesText(text=str(form.get("text") or ""))
    except ValidationError as exc:
        return redirect("/subsidies#grades", flash=describe_validation(exc, RulesText), kind="error")
    return _act(
        request,
        "/subsidies#grades",
        "已保存以案定补规定",
        lambda *, session, now: set_text(session, key="subsidy_rules", text=body.text, actor=user),
    )


@router.post("/subsidies/{subsidy_id}/approve")
async def approve(request: Request, subsidy_id: IdPath) -> Response:
    user = require(request, *READERS)
    form = await form_of(request)
    month = str(form.get("month") or "")
    back = f"/subsidies?month={quote(month)}" if month else "/subsidies"
    return _act(
        request,
        back,
        "已审核",
        lambda **kw: subsidy_flow.approve_subsidy(subsidy_id=subsidy_id, actor=user, **kw),
    )


@router.post("/cases/{case_id}/subsidy")
async def grade(request: Request, case_id: IdPath) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    back = f"/cases/{case_id}#subsidy"
    try:
        body = GradeSet.model_validate({"grade": form.get("grade") or None})
    except ValidationError as exc:
        return redirect(back, flash=describe_validation(exc, GradeSet), kind="error")

    def set_grade(*, session: Session, now) -> None:
        case = load_visible_case(session, user, case_id)
        subsidy_flow.grade_case(
            session=session, case=case, grade=body.grade.value if body.grade else None, actor=user, now=now
        )

    return _act(request, back, "已定档", set_grade)


# --- 统计 ---------------------------------------------------------------------------------------------


def _period(request: Request) -> tuple[date, date, str | None]:
    today = china_date(utcnow())
    try:
        date_from = date.fromisoformat(request.query_params.get("from") or f"{today.year}-01-01")
        date_to = date.fromisoformat(request.query_params.get("to") or today.isoformat())
    except ValueError:
        raise PageError(400, "日期格式应为 YYYY-MM-DD") from None
    if problem := period_problem(date_from, date_to):
        raise PageError(400, problem)
    return date_from, date_to, (request.query_params.get("town") or None)


def _stats(session: Session, user: User, request: Request):
    date_from, date_to, town = _period(request)
    try:
        scope, label = statistics_scope(user, town)
    except DomainError as exc:
        raise PageError(403, exc.message) from None
    return mediation_statistics(
        session, scope=scope, scope_label=label, date_from=date_from, date_to=date_to
    ), scope


@router.get("/statistics")
def statistics_page(request: Request) -> Response:
    user = require(request, *READERS)
    with Session(engine_of(request)) as session:
        stats, scope = _stats(session, user, request)
        cards = mediator_scorecard(session, scope=scope, date_from=stats.date_from, date_to=stats.date_to)
    return render(
        request,
        "statistics.html",
        {
            "title": "人民调解统计",
            "s": stats,
            "cards": cards,
            "town": request.query_params.get("town") or "",
            "satisfactions": list(Satisfaction),
            "category_labels": {c.value: c.label for c in Category},
            "grades": list(SubsidyGrade),
            "query": str(request.query_params),
        },
    )


@router.get("/statistics.xlsx")
def statistics_xlsx(request: Request) -> Response:
    user = require(request, *READERS)
    with Session(engine_of(request)) as session:
        stats, _ = _stats(session, user, request)
    content = statistics_workbook(stats, center_name=get_settings().center_name)
    return xlsx_response(content, f"人民调解统计-{stats.date_from}至{stats.date_to}.xlsx")
