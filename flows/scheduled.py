"""Scheduled flows besides the escalation sweep: daily follow-up reminders, the weekly backlog report."""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import flow
from sqlmodel import Session, col, select

from flows import tasks
from flows.enforcement import send_jc_reminders
from flows.reminders import remind_my_cases
from flows.tasks import step
from models.agreement import Agreement, AgreementTerm, by_due_date, term_numbers
from models.case import Case
from models.db import id_of, utcnow
from models.deadlines import china_date
from models.enums import Stage
from models.my_work import case_carriers

REMIND_DAYS_AHEAD = 3


def send_due_term_reminders(session: Session, now: datetime) -> int:
    """Agreement terms due within REMIND_DAYS_AHEAD days or overdue, in the caller's transaction: one
    reminder per case and due date (not one per term) a day, to whoever carries the case."""
    today = china_date(now)
    rows = session.exec(
        select(AgreementTerm, Case)
        .join(Agreement, col(Agreement.id) == AgreementTerm.agreement_id)
        .join(Case, col(Case.id) == Agreement.case_id)
        .where(
            Case.stage == Stage.follow_up,
            col(AgreementTerm.performed).is_(False),
            col(AgreementTerm.due_date) <= today + timedelta(days=REMIND_DAYS_AHEAD),
        )
    ).all()
    cases: dict[int, Case] = {}
    terms: dict[int, list[AgreementTerm]] = {}
    for term, case in rows:
        cases[id_of(case)] = case
        terms.setdefault(id_of(case), []).append(term)
    carriers = case_carriers(session, cases)
    sent = 0
    for case_id, case in cases.items():
        for due, group in by_due_date(terms[case_id]):
            assert due is not None  # the query compares it, so only terms with a due date
            state = "已逾期" if due < today else "即将到期"
            obligors = "、".join(dict.fromkeys(t.obligor for t in group))
            which = term_numbers([t.seq for t in group])
            sent += tasks.notify(
                session,
                key=f"remind:case:{case_id}:{due.isoformat()}:{today.isoformat()}",
                user_id=carriers.get(case_id),
                case_id=case_id,
                text=f"{case.case_no} {which}（{obligors}）{state}：{due}，请回访",
            )
    return sent


@step
def remind_due_terms(now_iso: str) -> int:
    with tasks.write_session() as session:
        return send_due_term_reminders(session, datetime.fromisoformat(now_iso))


@flow(name="tiaojie-follow-up-reminders")
async def follow_up_reminder_flow(now_iso: str | None = None) -> int:
    """The daily reminders: agreement terms due (one per case and date, to whoever carries the case),
    and each person's own cases' sessions within 24 hours and stage deadlines within 3 days
    (flows/reminders.py)."""
    now_iso = now_iso or utcnow().isoformat()
    return remind_due_terms(now_iso) + remind_my_cases(now_iso) + remind_jc_last_day(now_iso)


@step
def remind_jc_last_day(now_iso: str) -> int:
    """司法确认's last day a week ahead, to the presiding mediator (flows/enforcement.py)."""
    with tasks.write_session() as session:
        return send_jc_reminders(session, datetime.fromisoformat(now_iso))


@flow(name="tiaojie-backlog-report")
async def backlog_report_flow(now_iso: str | None = None) -> int:
    now = datetime.fromisoformat(now_iso) if now_iso else utcnow()
    year, week, _ = china_date(now).isocalendar()
    # The weekly figures are as of the scheduled moment, not of whenever the run happens.
    return tasks.issue_document(None, "backlog_report", f"backlog:{year}-W{week:02d}", as_of=now)
