"""The outbox: which flow runs after which human action, recorded in the action's own transaction.

A human action calls `enqueue_after(session, action, key=...)`; the row it adds (`ProcessRun`) is taken
by the relay (runtime/relay.py), which runs the flow and reports back here (`mark`, `flag_failed_run`).
Table access only: importable by the actions, the flows and the runtime alike, with no Prefect.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.audit import record
from models.case import Case
from models.db import insert_ignore, session_scope, table_of, utcnow
from models.process_run import ProcessRun

# Statuses of a run waiting for the relay.
RUNNABLE = ("pending", "retry")

# --- Which flow runs after which human action -------------------------------------------------
# The flows are registered by name in flows/registry.py; the relay (runtime/relay.py) runs them
# (in-process or on workers). Each action calls `enqueue_after(action, ...)`: this table is the only wiring.
FLOW_AFTER: dict[str, str] = {
    "intake": "intake",  # link related cases, 受理登记表, intake 督办单, police report
    "accept": "decision",  # 受理通知书
    "reject": "decision",  # 不予受理通知书
    "respondent_refuses": "decision",  # 终止调解告知书 (人民调解法 第17条)
    "form_panel": "panel",  # notify the panel; 调解员（专班）告知书 to each party
    "recusal": "panel",  # notify the replacement; the parties are told who mediates now
    "schedule_session": "session_notice",  # 调解通知书 to each party; the panel notified
    "reschedule_session": "session_notice",  # 调解通知书 (改期)
    "cancel_session": "session_notice",  # 调解通知书 (取消)
    "record_session": "session",  # 调解笔录; failed/withdrawn → 终止调解告知书 and close
    "issue_agreement": "agreement",  # 人民调解协议书
    "sign": "signed",  # follow-up reminders per term, judicial-confirmation window
    "follow_up": "follow_up",  # 回访记录; flag a term found not performed
    "close": "closing",  # 调解不成 / 撤回 decided directly: 终止调解告知书
    "record_delivery": "delivery_receipt",  # 送达回证 once delivered or refused
    "remote_signed": "remote_signed",  # 人民调解协议书 reissued with the remote signatures in place
    "sweep": "supervision",  # 督办单 for each new escalation
    "clock_pause": "decision",  # 调解期限中止告知书 (clock_notice)
    "clock_resume": "decision",  # 调解期限恢复计算告知书 (clock_notice)
    "judicial_confirmation": "judicial_confirmation",  # 司法确认申请书 + 调解组织主持调解的证明
    "payment_orders": "payment_orders",  # 支付令申请书, one per obligee
}


def enqueue_after(
    session: Session, action: str, *, key: str, case_id: int | None, params: dict[str, Any] | None = None
) -> None:
    """Record, in the action's transaction, that the flow declared for `action` must run for `key`."""
    enqueue(session, flow=FLOW_AFTER[action], key=key, case_id=case_id, params=params)


def enqueue(
    session: Session, *, flow: str, key: str, case_id: int | None, params: dict | None = None
) -> None:
    """Record that `flow` must run for `key` (in the caller's transaction). A known key is a no-op."""
    insert_ignore(
        session,
        table_of(ProcessRun),
        dict(
            key=key,
            flow=flow,
            case_id=case_id,
            params=params or {},
            status="pending",
            attempts=0,
            created_at=utcnow(),
        ),
    )


def mark(
    engine: Engine, key: str, *, status: str, error: str | None = None, prefect_id: str | None = None
) -> None:
    with session_scope(engine) as session:
        values: dict[str, Any] = {"status": status}
        if status in ("completed", "failed"):
            values["finished_at"] = utcnow()
            values["lease_until"] = None
        if error is not None:
            values["last_error"] = error[-4000:]
        if prefect_id is not None:
            values["prefect_flow_run_id"] = prefect_id
        session.exec(update(ProcessRun).where(col(ProcessRun.key) == key).values(**values))


def flag_failed_run(engine: Engine, key: str, error: str, *, attempts: int, api_down: bool = False) -> None:
    """The flow failed after its retries: keep every input, flag the case for a person to look at.
    `attempts`: how many times it was really tried (the flag says so); `api_down`: it never got past
    Prefect's API (a flow run not created or not reported), so none of the flow's steps failed."""
    with session_scope(engine, write=True) as session:
        run = session.exec(select(ProcessRun).where(ProcessRun.key == key)).one()
        if run.status == "failed":
            return  # the flow's own failure hook got here first
        run.status = "failed"
        run.finished_at = utcnow()
        run.lease_until = None
        run.last_error = error[-4000:]
        session.add(run)
        if run.case_id is not None:
            case = session.get(Case, run.case_id)
            if case is not None:
                why = "Prefect 接口不可用，" if api_down else ""
                reason = (
                    f"自动流程“{run.flow}”{why}共尝试 {attempts} 次仍失败，请人工处理（已保存全部录入内容）："
                    f"{error.splitlines()[-1][:200] if error else ''}"
                )
                # A system flag, not an edit: no version bump.
                session.execute(
                    update(table_of(Case))
                    .where(table_of(Case).c.id == case.id)
                    .values(flagged=True, flag_reason=reason)
                )
                record(
                    session,
                    actor_id=None,
                    actor_name="system",
                    action="case.flag",
                    entity="case",
                    entity_id=case.id,
                    case_id=case.id,
                    after={"flow": run.flow, "key": key, "attempts": attempts},
                )


def requeue_failed(engine: Engine, case_id: int, *, actor_name: str = "system") -> int:
    """Staff asked to run a case's failed flows again (after the cause was fixed): clear the flag;
    a new failure flags it again."""
    with session_scope(engine, write=True) as session:
        runs = session.exec(
            select(ProcessRun).where(ProcessRun.case_id == case_id, ProcessRun.status == "failed")
        ).all()
        for run in runs:
            run.status = "retry"
            run.attempts = 0
            session.add(run)
        case = session.get(Case, case_id)
        if runs and case is not None and case.flagged and (case.flag_reason or "").startswith("自动流程"):
            session.execute(
                update(table_of(Case))
                .where(table_of(Case).c.id == case_id)
                .values(flagged=False, flag_reason=None)
            )
        if runs:
            record(
                session,
                actor_id=None,
                actor_name=actor_name,
                action="case.flows_retry",
                entity="case",
                entity_id=case_id,
                case_id=case_id,
                after={"runs": [r.key for r in runs]},
            )
        return len(runs)


def run_status(engine: Engine, key: str) -> str | None:
    with Session(engine) as session:
        return session.exec(select(ProcessRun.status).where(ProcessRun.key == key)).first()
