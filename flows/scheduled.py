"""Scheduled flows besides the escalation sweep: daily follow-up reminders, the weekly backlog report."""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import flow, task
from sqlmodel import col, select

from flows import tasks
from flows.tasks import RETRIES
from models.agreement import Agreement, AgreementTerm
from models.case import Case
from models.deadlines import china_date
from models.enums import Stage

REMIND_DAYS_AHEAD = 3


@task(**RETRIES)
def remind_due_terms(now_iso: str) -> int:
    now = datetime.fromisoformat(now_iso)
    today = china_date(now)
    with tasks.write_session() as session:
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
        sent = 0
        for term, case in rows:
            assert term.due_date is not None  # the query compares it, so only terms with a due date
            state = "已逾期" if term.due_date < today else "即将到期"
            sent += tasks.notify(
                session,
                key=f"remind:{term.id}:{today.isoformat()}",
                user_id=case.created_by,
                case_id=case.id,
                text=f"{case.case_no} 第{term.seq}项（{term.obligor}）{state}：{term.due_date}，请回访",
            )
        return sent


@flow(name="tiaojie-follow-up-reminders")
async def follow_up_reminder_flow(now_iso: str | None = None) -> int:
    """The daily reminders: agreement terms due (to the registrar), and each person's own cases'
    sessions within 24 hours and stage deadlines within 3 days (flows/reminders.py)."""
    from flows.reminders import remind_my_cases
    from models.db import utcnow

    now_iso = now_iso or utcnow().isoformat()
    return remind_due_terms(now_iso) + remind_my_cases(now_iso)


@flow(name="tiaojie-backlog-report")
async def backlog_report_flow(now_iso: str | None = None) -> int:
    from models.db import utcnow

    now = datetime.fromisoformat(now_iso) if now_iso else utcnow()
    year, week, _ = china_date(now).isocalendar()
    # The weekly figures are as of the scheduled moment, not of whenever the run happens.
    return tasks.issue_document(None, "backlog_report", f"backlog:{year}-W{week:02d}", as_of=now)
