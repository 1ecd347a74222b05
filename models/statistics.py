"""The people's mediation statistics and the mediator's scorecard: the counting rules, in one place.

Counting rules (documented in README "The justice bureau's side"):
- the period is the registration day (China time) in [from, to]: 收案 = cases registered then;
- 受理调解 (mediated): of those, the cases accepted (`accepted_at` set);
- 调解成功 (succeeded): outcome `agreed` (a written or an oral agreement); 调解不成: outcome `failed` or
  `withdrawn`; 调解成功率 = succeeded / (succeeded + not succeeded), cases still in mediation left out;
- 协议金额 (amounts agreed): the sum of the money terms of the written agreement, else of the oral one;
- 群体性纠纷: `is_mass`; 防止民转刑: a succeeded case that was recorded as liable to turn into a public
  order or criminal case (risk 极高, or reported to the police under 人民调解法 第25条);
- 满意度: each case's latest 回访 that recorded one; 满意率 = (非常满意 + 满意 + 基本满意) / answered;
- average days to close: `days_to_close` of the closed cases among them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy import case as sql_case
from sqlalchemy import select as sa_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from models.agreement import Agreement, AgreementTerm, FollowUp, OralAgreement
from models.case import Case
from models.case_queries import registered_between
from models.enums import Category, Channel, PanelRole, RiskLevel, Satisfaction, Stage, SubsidyGrade
from models.expert import Expert, PanelMember
from models.portal import PortalRating
from models.subsidy import Subsidy

SUCCEEDED = frozenset({"agreed"})
NOT_SUCCEEDED = frozenset({"failed", "withdrawn"})
SATISFIED = frozenset({Satisfaction.very_satisfied, Satisfaction.satisfied, Satisfaction.basically_satisfied})


@dataclass
class Tally:
    received: int = 0
    mediated: int = 0
    succeeded: int = 0
    not_succeeded: int = 0
    amount_agreed: Decimal = Decimal(0)
    mass: int = 0
    criminal_prevented: int = 0
    closed: int = 0
    days_to_close: int = 0
    satisfaction: Counter[str] = field(default_factory=Counter)

    @property
    def success_rate(self) -> float | None:
        ended = self.succeeded + self.not_succeeded
        return self.succeeded / ended if ended else None

    @property
    def answered(self) -> int:
        return sum(self.satisfaction.values())

    @property
    def satisfaction_rate(self) -> float | None:
        answered = self.answered
        return sum(self.satisfaction[s.value] for s in SATISFIED) / answered if answered else None

    @property
    def average_days(self) -> float | None:
        return self.days_to_close / self.closed if self.closed else None

    def add(self, case: Case, amount: Decimal, satisfaction: str | None) -> None:
        self.received += 1
        self.mediated += case.accepted_at is not None
        won = case.outcome in SUCCEEDED
        self.succeeded += won
        self.not_succeeded += case.outcome in NOT_SUCCEEDED
        self.amount_agreed += amount if won else Decimal(0)
        self.mass += case.is_mass
        risky = case.risk_level == RiskLevel.critical or case.police_reported
        self.criminal_prevented += bool(won and risky)
        if case.stage == Stage.closed and case.days_to_close is not None:
            self.closed += 1
            self.days_to_close += case.days_to_close
        if satisfaction:
            self.satisfaction[satisfaction] += 1


@dataclass
class Statistics:
    date_from: date
    date_to: date
    scope: str
    total: Tally
    by_category: dict[str, Tally]
    by_channel: dict[str, Tally]


def _amounts(session: Session, case_ids: list[int]) -> dict[int, Decimal]:
    out: dict[int, Decimal] = {}
    for case_id, amount in session.exec(
        select(col(Agreement.case_id), col(AgreementTerm.amount))
        .join(AgreementTerm, col(AgreementTerm.agreement_id) == col(Agreement.id))
        .where(col(Agreement.case_id).in_(case_ids), col(AgreementTerm.amount).is_not(None))
    ).all():
        out[case_id] = out.get(case_id, Decimal(0)) + (amount or Decimal(0))
    for oral in session.exec(select(OralAgreement).where(col(OralAgreement.case_id).in_(case_ids))).all():
        if oral.case_id in out:
            continue  # a written agreement made from the oral one: its terms count once
        out[oral.case_id] = sum((Decimal(t["amount"]) for t in oral.terms if t.get("amount")), Decimal(0))
    return out


def latest_answers(case_ids: ColumnElement[bool] | Any) -> Any:
    """The ids of each case's latest recorded 回访 that has a satisfaction answer (the one rule for
    "the case's satisfaction": a later visit's answer replaces an earlier one)."""
    return (
        select(func.max(col(FollowUp.id)))
        .where(col(FollowUp.case_id).in_(case_ids), col(FollowUp.satisfaction).is_not(None))
        .group_by(col(FollowUp.case_id))
    )


def page_answers(case_ids: ColumnElement[bool] | Any) -> Any:
    """(case_id, rating) of the cases no 回访 asked: the parties' own ratings on their pages (一案一码),
    the least satisfied of them, so that one party's praise does not hide another's complaint."""
    asked = select(col(FollowUp.case_id)).where(col(FollowUp.satisfaction).is_not(None))
    return (
        select(col(PortalRating.case_id).label("case_id"), func.min(col(PortalRating.rating)).label("rating"))
        .where(col(PortalRating.case_id).in_(case_ids), col(PortalRating.case_id).not_in(asked))
        .group_by(col(PortalRating.case_id))
    )


def _latest_satisfaction(session: Session, case_ids: list[int]) -> dict[int, str]:
    """The case's satisfaction: its latest 回访's answer, else its parties' page ratings (page_answers)."""
    rows = session.exec(
        select(FollowUp.case_id, FollowUp.satisfaction).where(col(FollowUp.id).in_(latest_answers(case_ids)))
    ).all()
    found = {case_id: value or "" for case_id, value in rows}
    for case_id, rating in session.execute(page_answers(case_ids)).all():
        found.setdefault(case_id, rating)
    return found


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def mediation_statistics(
    session: Session, *, scope: ColumnElement[bool], scope_label: str, date_from: date, date_to: date
) -> Statistics:
    """The statistics of the cases registered in the period within `scope` (the caller's
    models.access.case_filter, and a town when asked)."""
    cases = list(session.exec(select(Case).where(*registered_between(date_from, date_to), scope)).all())
    amounts: dict[int, Decimal] = {}
    satisfaction: dict[int, str] = {}
    for chunk in _chunks([c.id for c in cases if c.id is not None]):
        amounts |= _amounts(session, chunk)
        satisfaction |= _latest_satisfaction(session, chunk)
    total = Tally()
    by_category = {c.value: Tally() for c in Category}
    by_channel = {c.value: Tally() for c in Channel}
    for case in cases:
        cid = case.id or 0
        for tally in (
            total,
            by_category.setdefault(case.category, Tally()),
            by_channel.setdefault(case.channel, Tally()),
        ):
            tally.add(case, amounts.get(cid, Decimal(0)), satisfaction.get(cid))
    return Statistics(date_from, date_to, scope_label, total, by_category, by_channel)


def mediator_scorecard(
    session: Session, *, scope: ColumnElement[bool], date_from: date, date_to: date
) -> list[dict[str, Any]]:
    """Per presiding mediator: the statistics of the cases they presided over (registered in the
    period), and their cases by 以案定补 grade."""
    rows = session.exec(
        select(Case, Expert.name)
        .join(PanelMember, col(PanelMember.case_id) == col(Case.id))
        .join(Expert, col(Expert.id) == col(PanelMember.expert_id))
        .where(
            *registered_between(date_from, date_to),
            scope,
            col(PanelMember.active),
            PanelMember.role == PanelRole.lead.value,
        )
    ).all()
    ids = [c.id for c, _ in rows if c.id is not None]
    satisfaction: dict[int, str] = {}
    grades: dict[int, str] = {}
    for chunk in _chunks(ids):
        satisfaction |= _latest_satisfaction(session, chunk)
        grades |= dict(
            session.exec(select(Subsidy.case_id, Subsidy.grade).where(col(Subsidy.case_id).in_(chunk))).all()
        )
    cards: dict[str, dict[str, Any]] = {}
    for case, name in rows:
        card = cards.setdefault(name, {"mediator": name, "tally": Tally(), "grades": Counter()})
        card["tally"].add(case, Decimal(0), satisfaction.get(case.id or 0))
        if (grade := grades.get(case.id or 0)) is not None:
            card["grades"][grade] += 1
    return sorted(cards.values(), key=lambda c: c["mediator"])


def quality_summary(
    session: Session, *, scope: ColumnElement[bool], date_from: date, date_to: date
) -> dict[str, Any]:
    """The dashboard's 调解质量 for the cases registered in the period, counted in SQL (the dashboard
    reads it at province scale) with the rules above: 调解成功率, 满意率, average days to close, by grade."""
    period = and_(*registered_between(date_from, date_to), scope)
    won = func.sum(sql_case((col(Case.outcome).in_(SUCCEEDED), 1), else_=0))
    lost = func.sum(sql_case((col(Case.outcome).in_(NOT_SUCCEEDED), 1), else_=0))
    closed = and_(col(Case.stage) == Stage.closed.value, col(Case.days_to_close).is_not(None))
    days = func.sum(sql_case((closed, col(Case.days_to_close)), else_=0))
    n_closed = func.sum(sql_case((closed, 1), else_=0))
    row = session.execute(sa_select(func.count(), won, lost, days, n_closed).where(period)).one()
    received, succeeded, not_succeeded, total_days, closed_count = (int(v or 0) for v in row)
    in_period = select(col(Case.id)).where(period)
    answers = Counter(
        dict(
            session.exec(
                select(FollowUp.satisfaction, func.count())
                .where(col(FollowUp.id).in_(latest_answers(in_period)))
                .group_by(col(FollowUp.satisfaction))
            ).all()
        )
    )
    on_pages = page_answers(in_period).subquery()
    answers.update(
        dict(session.execute(sa_select(on_pages.c.rating, func.count()).group_by(on_pages.c.rating)).all())
    )
    grades = dict(
        session.exec(
            select(Subsidy.grade, func.count())
            .where(col(Subsidy.case_id).in_(in_period))
            .group_by(col(Subsidy.grade))
        ).all()
    )
    answered = sum(answers.values())
    satisfied = sum(answers.get(s.value, 0) for s in SATISFIED)
    ended = succeeded + not_succeeded
    return {
        "received": received,
        "success_rate": succeeded / ended if ended else None,
        "satisfaction_rate": satisfied / answered if answered else None,
        "answered": answered,
        "average_days": total_days / closed_count if closed_count else None,
        "by_grade": {g.value: int(grades.get(g.value, 0)) for g in SubsidyGrade},
    }
