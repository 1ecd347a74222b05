"""结案: a decision with its kind, not a side effect of a follow-up.

Kinds (models.enums.CloseKind) and the stages each may close from: models.lifecycle.CLOSE_KIND_SOURCES.
Where the center requires it (setting `close_requires_approval`), the decision waits for the director's
结案审批 (a level-1 leader or an admin): the case keeps its stage, `close_kind` shows what was decided.
A 调解不成 or 撤回 decided directly (not after a session that ended so) gets its 终止调解告知书 from the
closing flow (人民调解法 第26条: the parties are told their other routes).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from flows import tasks
from flows.court_loop import return_materials_to_court
from flows.notices import open_deliveries_of
from flows.process import apply_transition
from flows.tasks import process_flow
from models.action_context import ActionContext
from models.agreement import Agreement, OralAgreement, unperformed_terms
from models.audit import record, without_personal_data
from models.case import Case
from models.center_settings import current_values
from models.closing import AFTER_DEFAULT, CaseClosing, close_refusal
from models.db import id_of
from models.dossier import checklist, incomplete_refusal, missing_required
from models.enums import CloseKind, Role, Stage
from models.lifecycle import Forbidden, InvalidInput, TransitionNotAllowed, check_close_kind
from models.outbox import enqueue_after
from models.roles import STAFF, is_director
from models.schemas import CloseApproval, CloseCase
from models.user import User

# What the case's outcome says after each kind (the dashboard's closing rates read it).
OUTCOME_OF: dict[CloseKind, str] = {
    CloseKind.performed: "agreed",
    CloseKind.oral_performed: "agreed",
    CloseKind.failed: "failed",
    CloseKind.withdrawn: "withdrawn",
    # Agreed but not (fully) performed: the mediation reached its agreement; what remains goes to a court
    # or an arbitration commission, so the dashboard still counts it as agreed.
    **dict.fromkeys(AFTER_DEFAULT, "agreed"),
}
FOLLOW_UP_FLAG = "回访发现"  # flag reasons set by follow-ups (flows/agreement.py), cleared by 履行完毕
DOSSIER_FLAG = "卷宗不全"  # set when the system's 结案 after termination is refused, cleared by the 结案


def pending_closing(session: Session, case_id: int) -> CaseClosing | None:
    return session.exec(
        select(CaseClosing)
        .where(
            CaseClosing.case_id == case_id,
            col(CaseClosing.needs_approval),
            col(CaseClosing.approved_at).is_(None),
        )
        .order_by(col(CaseClosing.id).desc())
    ).first()


def may_approve(user: User) -> bool:
    return user.role == Role.admin or is_director(user)


def _check_kind(session: Session, case: Case, kind: CloseKind, note: str | None) -> None:
    check_close_kind(case.stage, kind)
    if kind == CloseKind.performed or kind in AFTER_DEFAULT:
        agreement = session.exec(select(Agreement).where(Agreement.case_id == case.id)).first()
        refusal = close_refusal(kind, unperformed_terms(session, agreement), note=note)
        if refusal is not None:
            raise refusal
    elif kind == CloseKind.oral_performed:
        # 人民调解法 第28条: the oral agreement's content, recorded in the 人民调解记录 of the session where
        # it was reached, with each party's consent; the case closes on it once it is performed.
        oral = session.exec(select(OralAgreement).where(OralAgreement.case_id == case.id)).first()
        if oral is None:
            raise TransitionNotAllowed(
                "本案未记录口头协议：口头协议须在达成协议的那次调解中记入人民调解记录"
                "（内容、各方当事人同意及履行情况），再以“口头协议履行”结案"
            )
        if oral.agreement_id is not None:
            raise TransitionNotAllowed(
                "当事人已要求制作书面调解协议书：请按协议书签署、履行回访后以“履行完毕”结案"
            )
        if not oral.performed:
            raise TransitionNotAllowed("口头协议约定日后履行，尚未登记履行：请先登记履行情况，再结案")
    elif kind == CloseKind.transferred and not note:
        raise InvalidInput("转其他途径须在说明中写明去向（如：已引导当事人向人民法院起诉）", field="note")


def close_case(cmd: CloseCase, ctx: ActionContext) -> Case:
    """结案 by a person (staff, or the director over a missing 卷宗 item)."""
    return file_close(cmd, session=ctx.session, case=ctx.case, actor=ctx.actor, now=ctx.now)


def file_close(cmd: CloseCase, *, session: Session, case: Case, actor: User | None, now: datetime) -> Case:
    """The 结案 decision (actor None: the system, after a 终止调解告知书).

    The 卷宗 must hold every 必须 item for this ending (models/dossier.py; 人民调解法 第27条); only the
    center's director (a level-1 leader) may close over a missing one, with `override_reason`, which the
    卷宗情况说明 prints. The director deciding needs no approval of the director."""
    kind, note, override_reason = cmd.kind, cmd.note, cmd.override_reason
    try:
        close_kind = CloseKind(kind)
    except ValueError as exc:
        kinds = "、".join(k.label for k in CloseKind)
        raise InvalidInput(f"结案方式应为：{kinds}", field="kind") from exc
    if case.stage == Stage.closed:
        raise TransitionNotAllowed("案件已结案")
    reason = (override_reason or "").strip() or None
    director = actor is not None and is_director(actor)
    if actor is not None and actor.role not in STAFF and not (director and reason):
        raise Forbidden("仅中心工作人员可以作出结案决定（中心主任可在卷宗缺件时说明理由批准结案）")
    _check_kind(session, case, close_kind, note)
    missing = missing_required(checklist(session, case, close_kind=close_kind))
    if missing and not (director and reason):
        raise incomplete_refusal(missing)
    overridden = bool(missing) and director and reason is not None
    needs_approval = bool(current_values(session)["close_requires_approval"]) and not overridden
    earlier = pending_closing(session, id_of(case))
    if earlier is not None:
        # A new decision replaces the one still waiting (its row stays, marked as superseded).
        earlier.needs_approval = False
        earlier.approval_note = "已由新的结案决定替代"
        session.add(earlier)
    closing = CaseClosing(
        case_id=id_of(case),
        kind=close_kind.value,
        note=note,
        requested_by=actor.id if actor else None,
        requested_at=now,
        needs_approval=needs_approval,
        override_reason=reason if overridden else None,
    )
    session.add(closing)
    case.close_kind = close_kind.value
    session.add(case)
    session.flush()
    record(
        session,
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "system",
        action="case.close_request" if needs_approval else "case.close_decision",
        entity="case",
        entity_id=case.id,
        case_id=case.id,
        at=now,
        after=without_personal_data(
            {"kind": close_kind.value, "note": note, "needs_approval": needs_approval}
            # Which items were overridden, by label only: the reason and the names stay in the 卷宗.
            | ({"dossier_override": [m.split("：", 1)[0] for m in missing]} if overridden else {})
        ),
    )
    if not needs_approval:
        _close(session, case, closing, actor=actor, now=now)
    else:
        case.updated_at = now
    return case


def approve_close(cmd: CloseApproval, ctx: ActionContext) -> Case:
    """结案审批 by the center's director (a level-1 leader) or an admin."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    note = cmd.note
    if not may_approve(actor):
        raise Forbidden("仅中心主任或管理员可以审批结案")
    closing = pending_closing(session, id_of(case))
    if closing is None or case.stage == Stage.closed:
        raise TransitionNotAllowed("该案件没有待审批的结案决定")
    kind = CloseKind(closing.kind)
    # The case may have moved since the decision (a session held, a 回访 recorded): the kind must still fit.
    _check_kind(session, case, kind, closing.note)
    closing.approved_by = actor.id
    closing.approved_at = now
    closing.approval_note = note
    session.add(closing)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="case.close_approve",
        entity="case",
        entity_id=case.id,
        case_id=case.id,
        at=now,
        after=without_personal_data({"kind": kind.value, "note": note}),
    )
    _close(session, case, closing, actor=actor, now=now)
    return case


def _close(session: Session, case: Case, closing: CaseClosing, *, actor: User | None, now: datetime) -> None:
    kind = CloseKind(closing.kind)
    source = Stage(case.stage)
    if closing.approved_at is None:
        closing.approved_at = now  # no approval required: decided and effective at once
        session.add(closing)
    note = f"结案（{kind.label}）" + (f"：{closing.note}" if closing.note else "")
    # The role check of "close" allows leaders (the director approving); the decision itself is staff's,
    # checked in close_case.
    apply_transition(session, case, "close", actor=actor, now=now, note=note)
    case.close_kind = kind.value
    case.outcome = OUTCOME_OF.get(kind) or case.outcome or "transferred"
    if kind in (CloseKind.performed, CloseKind.oral_performed) and (case.flag_reason or "").startswith(
        FOLLOW_UP_FLAG
    ):
        case.flagged = False
    if (case.flag_reason or "").startswith(DOSSIER_FLAG):
        case.flagged = False
        case.flag_reason = None
    session.add(case)
    if kind in (CloseKind.failed, CloseKind.withdrawn) and source not in (Stage.failed, Stage.withdrawn):
        enqueue_after(
            session, "close", key=f"closing:{case.id}", case_id=case.id, params={"kind": kind.value}
        )


@process_flow("tiaojie-closing")
async def closing_flow(key: str) -> None:
    """终止调解告知书 for a 调解不成 / 撤回 decided without a session that ended so (same subject key as
    the session flow's, so it is issued once either way)."""
    case_id = tasks.case_id_of(key)
    doc_id = tasks.issue_document(case_id, "termination_notice", f"termination:{case_id}")
    open_deliveries_of(case_id, doc_id)  # a delivery record per party (the date the mediation ended)
    return_materials_to_court(case_id)  # 委派/委托: the court's materials go back (特邀调解规定 第21条)
