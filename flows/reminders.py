"""In-app reminders of “my” cases: a session within 24 hours, a stage deadline within 3 days.

Daily, with the follow-up reminders (flows/scheduled.py, "follow-up-reminders" in flows/registry.py
SCHEDULED: 08:00 China time). Each reminder is keyed by what it is about, the person and the China
day, so a rerun on the same day sends nothing twice, and a deadline still coming tomorrow is reminded
again tomorrow."""

from __future__ import annotations

from datetime import datetime

from flows import tasks
from flows.tasks import step
from models.db import id_of
from models.deadlines import china_date, last_day
from models.my_work import case_people, deadlines_coming, sessions_coming
from models.tz import CHINA


def send_reminders(session, now: datetime) -> int:
    """The reminders due as of `now`, in the caller's transaction; returns how many were new."""
    today = china_date(now).isoformat()
    coming = sessions_coming(session, now)
    due = deadlines_coming(session, now)
    people = case_people(session, {id_of(c) for _, c in coming} | {id_of(c) for c in due})
    sent = 0
    for meeting, case in coming:
        at = meeting.scheduled_at.astimezone(CHINA)
        for user_id in sorted(people.get(id_of(case), ())):
            sent += tasks.notify(
                session,
                key=f"my-work:session:{meeting.id}:{user_id}:{today}",
                user_id=user_id,
                case_id=case.id,
                text=f"{case.case_no} 第{meeting.seq}次调解将于 {at:%m月%d日 %H:%M} 在{meeting.location}举行",
            )
    for case in due:
        day = last_day(case.stage_due_at)
        left = (day - china_date(now)).days if day else 0
        when = "今天" if left <= 0 else f"还剩{left}天"
        for user_id in sorted(people.get(id_of(case), ())):
            sent += tasks.notify(
                session,
                key=f"my-work:due:{case.id}:{day}:{user_id}:{today}",
                user_id=user_id,
                case_id=case.id,
                text=f"{case.case_no} 本阶段期限至 {day}（{when}），请及时办理",
            )
    return sent


@step
def remind_my_cases(now_iso: str) -> int:
    with tasks.write_session() as session:
        return send_reminders(session, datetime.fromisoformat(now_iso))
