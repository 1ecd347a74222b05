"""Small tasks shared by the flows: sessions, documents, notifications."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ParamSpec, TypedDict, TypeVar

from prefect import Flow, flow
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger
from prefect.states import State
from sqlmodel import Session, col, select

from models.db import get_engine, id_of, session_scope
from models.document import Document
from models.escalation import Escalation, assignee_for
from models.notification import Notification
from models.outbox import flag_failed_run, mark
from models.process_run import ProcessRun
from models.settings import get_settings
from models.user import User


def _retry_delays() -> list[float]:
    """Seconds between task retries; tests shorten them (TIAOJIE_TASK_RETRY_DELAYS=0,0,0)."""
    raw = os.environ.get("TIAOJIE_TASK_RETRY_DELAYS", "1,5,20")
    return [float(x) for x in raw.split(",") if x.strip()]


# Typed so that `@flow(**FLOW_RETRIES)` is checked against Prefect's keywords.
class FlowRetries(TypedDict):
    retries: int
    retry_delay_seconds: float


log = logging.getLogger("tiaojie.flows")
P = ParamSpec("P")
R = TypeVar("R")


def _step_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    # Inside a flow run the warning goes to the run's log in Prefect's UI; elsewhere to ours.
    try:
        return get_run_logger()
    except MissingContextError:
        return log


def step(fn: Callable[P, R]) -> Callable[P, R]:
    """A step of a flow (database, disk, rendering): retried after the pauses of _retry_delays(), then
    failed, which fails its flow run. A plain call, not a Prefect task: a task run costs the flow several
    API round trips and a state record, and shows nothing the flow run's state, retries and log do not —
    every step is idempotent by its subject key, so a flow run again from the top does nothing twice."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        delays = _retry_delays()
        for attempt, delay in enumerate(delays, start=1):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                _step_logger().warning(
                    "%s failed (attempt %d of %d): %r; again in %.1f s",
                    fn.__name__,
                    attempt,
                    len(delays) + 1,
                    exc,
                    delay,
                )
                time.sleep(delay)
        return fn(*args, **kwargs)

    return run


# A flow whose task gave up is run once more from the top (its steps are idempotent), then flagged.
FLOW_RETRIES: FlowRetries = {
    "retries": 1,
    "retry_delay_seconds": _retry_delays()[-1] if _retry_delays() else 0,
}


# Prefect passes hooks (flow, flow_run, state); the names must match its FlowStateHook protocol.
def _mark_completed(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    mark(get_engine(), flow_run.parameters["key"], status="completed")


def _flag_failed(flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
    flag_failed_run(
        get_engine(),
        flow_run.parameters["key"],
        str(state.message or state.name),
        attempts=flow_run.run_count,  # the flow's runs, its retries included
    )


def process_flow(name: str):
    """A flow of the process, run for one outbox key. Wherever it runs (in-process or on a worker),
    it reports back to our outbox row: completed, or failed and the case flagged."""
    return flow(name=name, **FLOW_RETRIES, on_completion=[_mark_completed], on_failure=[_flag_failed])


@contextmanager
def write_session() -> Iterator[Session]:
    with session_scope(get_engine(), write=True) as session:
        yield session


def case_id_of(key: str) -> int:
    with Session(get_engine()) as session:
        run = session.exec(select(ProcessRun).where(ProcessRun.key == key)).one()
        assert run.case_id is not None, key  # the flows that ask are the ones of a case
        return run.case_id


def params_of(key: str) -> Mapping[str, Any]:
    with Session(get_engine()) as session:
        return session.exec(select(ProcessRun.params).where(ProcessRun.key == key)).one()


@step
def issue_document(
    case_id: int | None,
    kind: str,
    subject_key: str,
    new_version: bool = False,
    as_of: datetime | None = None,
) -> int:
    """Render, archive and record a document once per subject (a rerun returns the same row)."""
    # Loaded at first use: the document stack (WeasyPrint) costs seconds the CLI does not pay.
    from documents.issue import issue_document as issue

    settings = get_settings()
    with write_session() as session:
        doc = issue(
            session,
            case_id=case_id,
            kind=kind,
            subject_key=subject_key,
            data_dir=settings.data_dir,
            base_url=settings.public_base_url,
            new_version=new_version,
            as_of=as_of,
        )
        return id_of(doc)


def notify(
    session: Session,
    *,
    key: str,
    text: str,
    case_id: int | None = None,
    user_id: int | None = None,
    expert_id: int | None = None,
    role_level: int | None = None,
    town: str | None = None,
) -> bool:
    """Send an in-app notification once per key (to a user, an expert, or the leader of a level)."""
    if session.exec(select(Notification.id).where(Notification.key == key)).first() is not None:
        return False
    if role_level is not None and user_id is None:
        leader = assignee_for(session, level=role_level, town=town)
        user_id = leader.id if leader else None
    if expert_id is not None and user_id is None:
        user = session.exec(select(User).where(User.expert_id == expert_id, User.active)).first()
        user_id = user.id if user else None
    session.add(Notification(key=key, text=text, case_id=case_id, user_id=user_id, expert_id=expert_id))
    return True


@step
def issue_supervision_orders(case_id: int | None = None, escalation_ids: list[int] | None = None) -> int:
    """A 督办单 for each escalation that has none yet, and a notice to its assignee."""
    # Loaded at first use: the document stack (WeasyPrint) costs seconds the CLI does not pay.
    from documents.issue import issue_document as issue

    settings = get_settings()
    with write_session() as session:
        query = select(Escalation).where(col(Escalation.document_id).is_(None))
        if case_id is not None:
            query = query.where(Escalation.case_id == case_id)
        if escalation_ids is not None:
            query = query.where(col(Escalation.id).in_(escalation_ids))
        count = 0
        for esc in session.exec(query.order_by(col(Escalation.id))).all():
            doc: Document = issue(
                session,
                case_id=esc.case_id,
                kind="supervision_order",
                subject_key=f"escalation:{esc.id}",
                data_dir=settings.data_dir,
                base_url=settings.public_base_url,
            )
            esc.document_id = doc.id
            session.add(esc)
            if esc.assignee_id:
                notify(
                    session,
                    key=f"escalation:{esc.id}",
                    user_id=esc.assignee_id,
                    case_id=esc.case_id,
                    text=f"督办：{esc.reason}",
                )
            count += 1
        return count
