"""评查 actions: draw a sample (reviewer), score a sampled case with findings (reviewer), answer a finding
(the center's staff, on the case). The rules are in models/review.py; who sees what in models/access.py."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from models.access import can_see, case_filter
from models.audit import record
from models.case import Case
from models.center_settings import current_values
from models.db import id_of
from models.enums import ReviewDimension, Role, Stage
from models.lifecycle import Forbidden, InvalidInput, NotFound, TransitionNotAllowed
from models.review import (
    DIMENSIONS,
    MAX_SCORE,
    Review,
    ReviewFinding,
    ReviewSample,
    draw,
    review_status,
)
from models.roles import STAFF
from models.tz import CHINA
from models.user import User

REVIEWER_ONLY = "只有司法行政评查员可以抽取和评查案件"
MAX_FINDINGS = 20


def _china_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CHINA)


def closed_in(date_from: date, date_to: date):
    """Closed cases whose 结案 day (China time) lies in [from, to]."""
    start = _china_midnight(date_from)
    end = _china_midnight(date.fromordinal(date_to.toordinal() + 1))
    return and_(
        col(Case.stage) == Stage.closed.value,
        col(Case.closed_at) >= start,
        col(Case.closed_at) < end,
    )


def draw_sample(
    *,
    session: Session,
    date_from: date,
    date_to: date,
    ratio: Decimal,
    seed: str | None,
    actor: User,
    now: datetime,
) -> ReviewSample:
    """A random sample of the closed cases of the reviewer's scope (models/review.py `draw`)."""
    if actor.role != Role.reviewer:
        raise Forbidden(REVIEWER_ONLY)
    if date_from > date_to:
        raise InvalidInput(f"起始日期 {date_from} 晚于截止日期 {date_to}", field="from")
    seed = seed or secrets.token_hex(8)
    population = list(
        session.exec(select(Case.id).where(closed_in(date_from, date_to), case_filter(actor))).all()
    )
    sample = ReviewSample(
        date_from=date_from,
        date_to=date_to,
        ratio=str(ratio),
        seed=seed,
        population=len(population),
        scope_town=actor.town,
        created_by=actor.id,
        created_at=now,
    )
    session.add(sample)
    session.flush()
    picked = draw([i for i in population if i is not None], ratio, seed)
    for case_id in picked:
        session.add(Review(sample_id=id_of(sample), case_id=case_id))
    session.flush()
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="review.sample",
        entity="review_sample",
        entity_id=sample.id,
        at=now,
        after={
            "from": date_from.isoformat(),
            "to": date_to.isoformat(),
            "ratio": str(ratio),
            "seed": seed,
            "population": len(population),
            "drawn": len(picked),
        },
    )
    return sample


def visible_review(session: Session, user: User, review_id: int) -> Review:
    """The review if its case is of the user's scope; 404 otherwise (no existence leak)."""
    review = session.get(Review, review_id)
    if review is None or not can_see(session, user, review.case_id):
        raise NotFound("评查记录不存在或您无权查看")
    return review


def refresh_status(session: Session, review: Review) -> str:
    counts = session.exec(
        select(func.count(), func.count(col(ReviewFinding.answered_at))).where(
            ReviewFinding.review_id == review.id
        )
    ).one()
    findings, answered = int(counts[0]), int(counts[1])
    review.status = review_status(
        total=review.total, pass_mark=review.pass_mark, open_findings=findings - answered, findings=findings
    )
    session.add(review)
    return review.status


def score_review(
    *,
    session: Session,
    review_id: int,
    scores: dict[str, int],
    note: str | None,
    findings: list[str],
    actor: User,
    now: datetime,
) -> Review:
    """Score one sampled case on every dimension (0–10); findings are added to those already written."""
    if actor.role != Role.reviewer:
        raise Forbidden(REVIEWER_ONLY)
    review = visible_review(session, actor, review_id)
    missing = [ReviewDimension(d).label for d in DIMENSIONS if d not in scores]
    if missing:
        raise InvalidInput(f"请为以下各项评分（0–{MAX_SCORE}分）：{'、'.join(missing)}", field="scores")
    unknown = sorted(set(scores) - set(DIMENSIONS))
    if unknown:
        raise InvalidInput(f"未知的评查项目：{'、'.join(unknown)}", field="scores")
    for key, value in scores.items():
        if not 0 <= int(value) <= MAX_SCORE:
            raise InvalidInput(
                f"“{ReviewDimension(key).label}”的得分应在 0–{MAX_SCORE} 之间", field=f"scores.{key}"
            )
    if len(findings) > MAX_FINDINGS:
        raise InvalidInput(f"一次最多填写{MAX_FINDINGS}条问题", field="findings")
    total = sum(int(scores[d]) for d in DIMENSIONS)
    pass_mark = current_values(session)["review_pass_total"]
    earlier = session.exec(select(func.count()).where(ReviewFinding.review_id == review.id)).one()
    if total < pass_mark and not findings and not earlier:
        # A failure the center can put right: it answers findings (models/review.py).
        raise InvalidInput(
            f"总分 {total} 分低于合格分 {pass_mark} 分：请写明发现的问题，供调解中心整改答复",
            field="findings",
        )
    review.scores = {d: int(scores[d]) for d in DIMENSIONS}
    review.total, review.pass_mark, review.note = total, pass_mark, note
    review.scored_by, review.scored_at = actor.id, now
    for text in findings:
        session.add(ReviewFinding(review_id=id_of(review), case_id=review.case_id, text=text, created_at=now))
    session.flush()
    refresh_status(session, review)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="review.score",
        entity="review",
        entity_id=review.id,
        case_id=review.case_id,
        at=now,
        # Scores are figures; the findings' words may name people: only their number is kept.
        after={"scores": review.scores, "total": total, "findings": len(findings), "status": review.status},
    )
    return review


def answer_finding(
    *, session: Session, case: Case, finding_id: int, answer: str, actor: User, now: datetime
) -> ReviewFinding:
    """The center's answer (整改情况) to a finding on its case; the review's status follows."""
    if actor.role not in STAFF:
        raise Forbidden("评查问题由调解中心工作人员答复")
    finding = session.get(ReviewFinding, finding_id)
    if finding is None or finding.case_id != case.id:
        raise NotFound("评查问题不存在")
    if finding.answered_at is not None:
        raise TransitionNotAllowed("该问题已答复整改情况，不能重复答复")
    if not answer.strip():
        raise InvalidInput("请填写整改情况", field="answer")
    finding.answer, finding.answered_by, finding.answered_at = answer.strip(), actor.id, now
    session.add(finding)
    session.flush()
    review = session.get(Review, finding.review_id)
    assert review is not None
    status = refresh_status(session, review)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="review.answer",
        entity="review_finding",
        entity_id=finding.id,
        case_id=case.id,
        at=now,
        after={"review": review.id, "status": status},
    )
    return finding


def case_findings(session: Session, case_id: int) -> list[ReviewFinding]:
    return list(
        session.exec(
            select(ReviewFinding).where(ReviewFinding.case_id == case_id).order_by(col(ReviewFinding.id))
        ).all()
    )
