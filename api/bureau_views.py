"""What the JSON routes and the pages of the justice bureau's side both show: reviews, findings and
subsidies as plain dicts, and the statistics' scope. No rule lives here (models/ and flows/ own them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from fastapi.responses import Response
from sqlalchemy import and_, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from models.access import case_filter, scope_town
from models.case import Case
from models.enums import Category, ReviewStatus, SubsidyGrade, SubsidyStatus
from models.lifecycle import Forbidden
from models.review import Review, ReviewFinding, ReviewSample
from models.subsidy import Subsidy, level_label
from models.user import User

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(content: bytes, filename: str) -> Response:
    """A spreadsheet download, named in Chinese (RFC 5987), never cached."""
    return Response(
        content,
        media_type=XLSX,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "private, no-store",
        },
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {
        u.id: u.display_name for u in session.exec(select(User).where(col(User.id).in_(wanted))).all() if u.id
    }


def findings_public(session: Session, findings: Sequence[ReviewFinding]) -> list[dict[str, Any]]:
    names = _names(session, {f.answered_by for f in findings})
    return [
        {
            "id": f.id,
            "review_id": f.review_id,
            "case_id": f.case_id,
            "text": f.text,
            "created_at": _iso(f.created_at),
            "answer": f.answer,
            "answered_at": _iso(f.answered_at),
            "answered_by": names.get(f.answered_by) if f.answered_by else None,
        }
        for f in findings
    ]


def reviews_public(session: Session, reviews: Sequence[Review]) -> list[dict[str, Any]]:
    ids = [r.id for r in reviews]
    cases = {
        c.id: c
        for c in session.exec(select(Case).where(col(Case.id).in_([r.case_id for r in reviews]))).all()
    }
    by_review: dict[int, list[ReviewFinding]] = {}
    for f in session.exec(
        select(ReviewFinding).where(col(ReviewFinding.review_id).in_(ids)).order_by(col(ReviewFinding.id))
    ).all():
        by_review.setdefault(f.review_id, []).append(f)
    out = []
    for r in reviews:
        case = cases[r.case_id]
        out.append(
            {
                "id": r.id,
                "sample_id": r.sample_id,
                "case_id": r.case_id,
                "case_no": case.case_no,
                "town": case.town,
                "category_label": Category(case.category).label,
                "scores": r.scores,
                "total": r.total,
                "pass_mark": r.pass_mark,
                "note": r.note,
                "status": r.status,
                "status_label": ReviewStatus(r.status).label,
                "scored_at": _iso(r.scored_at),
                "findings": findings_public(session, by_review.get(r.id or 0, [])),
            }
        )
    return out


def visible_reviews(
    session: Session, user: User, *, sample_id: int | None = None, status: str | None = None
) -> list[Review]:
    query = (
        select(Review)
        .join(Case, col(Case.id) == col(Review.case_id))
        .where(case_filter(user))
        .order_by(col(Review.sample_id).desc(), col(Review.case_id))
    )
    if sample_id is not None:
        query = query.where(Review.sample_id == sample_id)
    if status is not None:
        query = query.where(Review.status == status)
    return list(session.exec(query).all())


def sample_public(session: Session, user: User, sample: ReviewSample) -> dict[str, Any]:
    return {
        "id": sample.id,
        "date_from": sample.date_from.isoformat(),
        "date_to": sample.date_to.isoformat(),
        "ratio": sample.ratio,
        "seed": sample.seed,
        "population": sample.population,
        "scope_town": sample.scope_town,
        "reviews": reviews_public(session, visible_reviews(session, user, sample_id=sample.id)),
    }


def subsidy_public(row: dict[str, Any]) -> dict[str, Any]:
    s: Subsidy = row["subsidy"]
    case: Case = row["case"]
    return {
        "id": s.id,
        "case_id": s.case_id,
        "case_no": case.case_no,
        "town": case.town,
        "category": Category(case.category).label,
        "mediator": s.mediator,
        "month": s.month,
        "proposed_grade": s.proposed_grade,
        "grade": s.grade,
        "grade_label": SubsidyGrade(s.grade).label,
        "proposed_label": SubsidyGrade(s.proposed_grade).label,
        "amount": f"{s.amount:.2f}",
        "status": s.status,
        "status_label": SubsidyStatus(s.status).label,
        "approvals": [
            {"level": a["level"], "level_label": level_label(a["level"]), "name": a["name"], "at": a["at"]}
            for a in s.approvals
        ],
        "waiting_for": row["waiting_for"],
        "exclusions": row["exclusions"],
        "payable": row["payable"],
    }


def ledger_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The XLSX ledger's plain rows (documents/bureau_workbooks.py)."""
    out = []
    for row in rows:
        s: Subsidy = row["subsidy"]
        case: Case = row["case"]
        out.append(
            {
                "mediator": s.mediator,
                "case_no": case.case_no or "",
                "town": case.town,
                "category": Category(case.category).label,
                "proposed_grade": SubsidyGrade(s.proposed_grade).label,
                "grade": SubsidyGrade(s.grade).label,
                "amount": Decimal(s.amount),
                "status": SubsidyStatus(s.status).label,
                "exclusions": row["exclusions"],
                "payable": row["payable"],
            }
        )
    return out


STATS_ROLES = frozenset({"staff", "admin", "leader", "reviewer"})


def statistics_scope(user: User, town: str | None) -> tuple[ColumnElement[bool], str]:
    """The caller's scope, narrowed to `town` when asked: a town user may ask only for their own."""
    if user.role not in STATS_ROLES:
        raise Forbidden("当前角色无权查看人民调解统计")
    own = scope_town(user)
    if town and own is not None and town != own:
        raise Forbidden("只能查看本镇街的统计")
    chosen = town or own
    condition = and_(case_filter(user), col(Case.town) == town if town else true())
    if chosen:
        return condition, chosen
    return condition, "全县（市、区）" if user.role == "reviewer" else "本中心全部案件"


def period_problem(date_from: date, date_to: date) -> str | None:
    if date_from > date_to:
        return f"起始日期 {date_from} 晚于截止日期 {date_to}"
    if (date_to - date_from).days > 366 * 5:
        return "统计期间不超过五年"
    return None


def case_bureau_view(session: Session, case: Case) -> dict[str, Any]:
    """The case page's 评查 and 以案定补 sections: the findings to answer, the subsidy and its proposal."""
    from flows.reviews import case_findings
    from flows.subsidies import case_facts, exclusions
    from models.subsidy import propose_grade

    subsidy = session.exec(select(Subsidy).where(Subsidy.case_id == case.id)).first()
    gradable = case.stage == "closed" and case.outcome == "agreed"
    return {
        "review_findings": findings_public(session, case_findings(session, case.id or 0)),
        "subsidy": subsidy,
        "subsidy_labels": {g.value: g.label for g in SubsidyGrade},
        "subsidy_status_label": SubsidyStatus(subsidy.status).label if subsidy else None,
        "subsidy_exclusions": exclusions(session, case.id or 0) if gradable else [],
        "proposed_grade": propose_grade(case_facts(session, case)) if gradable else None,
        "subsidy_grades": list(SubsidyGrade),
    }
