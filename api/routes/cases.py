"""Cases: intake, the list, the case file, and every human action of the process."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, TypeAdapter
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api.actions import Action, load_case, perform
from api.deps import CaseFiltersDep, CloserUser, CurrentUser, IdPath, Offset, SessionDep, StaffUser
from api.errors import ERROR_RESPONSES
from api.idempotency import IDEMPOTENT, IdempotentRoute
from flows import agreement as agreement_flow
from flows import closing, deadlines, enforcement, intake, opinions, panel_selection, parties, sessions
from models.access import sees_personal_data
from models.agreement import Agreement, AgreementTerm, FollowUp
from models.case import Case
from models.case_queries import find_cases
from models.db import id_of, session_scope, utcnow
from models.document import Document
from models.enums import Role
from models.expert import Expert
from models.law import ARTICLES
from models.lifecycle import Forbidden, InvalidInput
from models.mediation_session import MediationSession
from models.outbox import requeue_failed
from models.public import (
    AgreementWithCasePublic,
    CaseDetailPublic,
    CasePublic,
    CasesPublic,
    DocumentPublic,
    EnforcementActionPublic,
    EnforcementStepPublic,
    FlowRetryPublic,
    FollowUpWithCasePublic,
    OpinionPublic,
    PanelProposalPublic,
    PanelPublic,
    PartyPublic,
    SessionScheduledPublic,
    SessionWithCasePublic,
)
from models.schemas import (
    AgreementCreate,
    AgreementSigned,
    CaseAction,
    CaseCreate,
    ClockPause,
    CloseApproval,
    CloseCase,
    EnforcementStepCreate,
    ExtendClock,
    FollowUpCreate,
    JudicialConfirmationCreate,
    OpinionCreate,
    OralPerformed,
    PanelConfirm,
    PanelProposalRequest,
    PartyUpdate,
    PaymentOrdersCreate,
    RecusalCreate,
    RejectCase,
    RespondentAnswer,
    SessionCancel,
    SessionCreate,
    SessionRecord,
    SessionReschedule,
    WrittenAgreementRequest,
)
from models.tz import CHINA
from models.user import User
from models.validation import ValidationError, check_date_range
from runtime.relay import after_commit, wait_for

router = APIRouter(prefix="/cases", tags=["cases"], responses=ERROR_RESPONSES, route_class=IdempotentRoute)


def parse_now(value: str | None) -> datetime:
    """`now` for time-based views (tests and demos move the clock); a bare time means China time."""
    if not value:
        return utcnow()
    try:
        moment = datetime.fromisoformat(value)
        check_date_range(moment)
    except ValueError as exc:
        reason = exc.message if isinstance(exc, ValidationError) else "时间格式应为 ISO 8601"
        raise HTTPException(
            422, detail=[{"loc": ["query", "now"], "msg": reason, "type": "value_error", "field": "当前时间"}]
        ) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)


def _case(session: Session, case: Case, _result: Any) -> CasePublic:
    """Most actions answer with the case as it now stands."""
    return CasePublic.from_row(case, utcnow())


def _agreement_answer(
    request: Request, user: User, case_id: int, body: BaseModel, action: Action
) -> AgreementWithCasePublic:
    """The agreement recorded and its case. The clerk prints the agreement at once: in embedded mode
    wait for its flow (≈0.5 s); in server mode answer now and let the page poll (document_pending)."""
    result = perform(request, user, case_id, body, action, render=lambda s, c, a: (a.id, a.revision))
    agreement_id, revision = result
    wait_for(agreement_flow.agreement_flow_key(case_id, revision), timeout=20)
    with Session(request.app.state.engine) as session:
        agreement = session.get(Agreement, agreement_id)
        case = session.get(Case, case_id)
        # perform() has committed both: the case it acted on (seen by this user), the agreement it made.
        assert agreement is not None and case is not None, (case_id, agreement_id)
        return AgreementWithCasePublic.from_row(agreement, session, case=CasePublic.from_row(case, utcnow()))


def _session_with_case(session: Session, case: Case, ms: MediationSession) -> SessionWithCasePublic:
    """The answer of every session action: the session and its case as they now stand."""
    return SessionWithCasePublic.from_row(ms, case=CasePublic.from_row(case, utcnow()))


def _scheduled(session: Session, case: Case, ms: MediationSession) -> SessionScheduledPublic:
    """Scheduling's answer adds the warnings the page shows before saving (v1.2): saved anyway here,
    the calling system decides."""
    return SessionScheduledPublic.from_row(
        ms,
        case=CasePublic.from_row(case, utcnow()),
        warnings=sessions.schedule_warnings(session, case, ms.scheduled_at),
    )


@router.post(
    "",
    status_code=201,
    response_model=CasePublic,
    summary="登记纠纷（受理登记）",
    dependencies=[IDEMPOTENT],
)
async def create_case(request: Request, body: CaseCreate, user: StaffUser) -> Response:
    # One thread hop (intake is the hottest write path): the transaction and the JSON of the response
    # model in the same worker thread; a sync route would hop again to validate its dict.
    content = await run_in_threadpool(_register_case, request.app.state.engine, body, user)
    after_commit()
    return Response(content, status_code=201, media_type="application/json")


_CASE_JSON = TypeAdapter(CasePublic)


def _known_agents(session: Session, body: CaseCreate) -> None:
    """An agent named from the expert bank must be in it: a 422 naming the party, not a foreign-key
    error at the insert."""
    wanted = {p.agent_expert_id for p in body.parties if p.agent_expert_id is not None}
    if not wanted:
        return
    found = set(session.exec(select(Expert.id).where(col(Expert.id).in_(wanted))).all())
    for n, party in enumerate(body.parties):
        if party.agent_expert_id is not None and party.agent_expert_id not in found:
            raise InvalidInput("专家库中没有该代理人（专家编号不存在）", field=f"parties.{n}.agent_expert_id")


def _register_case(engine: Engine, body: CaseCreate, user: User) -> bytes:
    now = utcnow()
    with session_scope(engine, write=True) as session:
        _known_agents(session, body)
        case = intake.register_case(session=session, data=body, actor=user, now=now)
        session.flush()
        out = CasePublic.from_row(case, now)
    return _CASE_JSON.dump_json(out)


@router.get("", response_model=CasesPublic, summary="案件列表（个人信息已脱敏）")
def list_cases(
    session: SessionDep,
    user: CurrentUser,
    filters: CaseFiltersDep,
    now: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500, title="每页条数")] = 50,
    offset: Offset = 0,
) -> CasesPublic:
    moment = parse_now(now)
    page = find_cases(session, user, filters, now=moment, limit=limit, offset=offset)
    return CasesPublic.from_page(session, page, now=moment, limit=limit, offset=offset)


@router.get("/{case_id}", response_model=CaseDetailPublic, summary="案件详情（卷宗）")
def get_case(
    case_id: IdPath, session: SessionDep, user: CurrentUser, now: str | None = None
) -> CaseDetailPublic:
    case = load_case(session, user, case_id)
    return CaseDetailPublic.from_case(session, case, user, parse_now(now))


@router.post("/{case_id}/accept", response_model=CasePublic, summary="受理")
def accept(case_id: IdPath, request: Request, user: StaffUser, body: CaseAction | None = None) -> dict:
    return perform(request, user, case_id, body or CaseAction(), intake.accept_case, render=_case)


@router.post("/{case_id}/reject", response_model=CasePublic, summary="不予受理")
def reject(case_id: IdPath, request: Request, user: StaffUser, body: RejectCase) -> dict:
    return perform(request, user, case_id, body, intake.reject_case, render=_case)


@router.post("/{case_id}/respondent-answer", response_model=CasePublic, summary="记录被申请人是否同意调解")
def respondent_answer(case_id: IdPath, request: Request, user: StaffUser, body: RespondentAnswer) -> dict:
    """人民调解法 第17条: a refusal ends the case (终止调解告知书 to every party)."""
    return perform(request, user, case_id, body, intake.record_respondent_answer, render=_case)


@router.post(
    "/{case_id}/panel/proposal", response_model=PanelProposalPublic, summary="专班推荐（含理由与回避排除）"
)
def propose_panel(
    case_id: IdPath, session: SessionDep, user: StaffUser, body: PanelProposalRequest | None = None
) -> dict:
    case = load_case(session, user, case_id)
    return panel_selection.panel_proposal(session, case, size=body.size if body else None)


@router.put("/{case_id}/panel", response_model=CasePublic, summary="确认专班")
def confirm_panel(case_id: IdPath, request: Request, user: StaffUser, body: PanelConfirm) -> dict:
    return perform(request, user, case_id, body, panel_selection.confirm_panel, render=_case)


@router.post(
    "/{case_id}/recusals",
    response_model=PanelPublic,
    summary="申请回避并更换",
    dependencies=[IDEMPOTENT],
)
def recusal(case_id: IdPath, request: Request, user: StaffUser, body: RecusalCreate) -> dict:
    def render(session: Session, case: Case, _result: Any) -> PanelPublic:
        return PanelPublic.from_row(session, case)

    return perform(request, user, case_id, body, panel_selection.recuse, render=render)


@router.post(
    "/{case_id}/sessions",
    status_code=201,
    response_model=SessionScheduledPublic,
    summary="安排调解",
    dependencies=[IDEMPOTENT],
)
def schedule(case_id: IdPath, request: Request, user: StaffUser, body: SessionCreate) -> dict:
    return perform(request, user, case_id, body, sessions.schedule_session, render=_scheduled)


@router.patch(
    "/{case_id}/sessions/{sid}",
    response_model=SessionScheduledPublic,
    summary="调解改期（理由记入调解记录；不得早于登记时间，不得重复占用专家或调解室）",
)
def reschedule_session(
    case_id: IdPath, sid: IdPath, request: Request, user: StaffUser, body: SessionReschedule
) -> dict:
    return perform(request, user, case_id, body.about(sid), sessions.reschedule_session, render=_scheduled)


@router.post(
    "/{case_id}/sessions/{sid}/cancel",
    response_model=SessionWithCasePublic,
    summary="取消调解（保留记录及理由）",
)
def cancel_session(
    case_id: IdPath, sid: IdPath, request: Request, user: StaffUser, body: SessionCancel
) -> dict:
    return perform(
        request, user, case_id, body.about(sid), sessions.cancel_session, render=_session_with_case
    )


@router.post(
    "/{case_id}/sessions/{sid}/record",
    response_model=SessionWithCasePublic,
    summary="记录调解笔录及结果",
    dependencies=[IDEMPOTENT],
)
def record_session(
    case_id: IdPath, sid: IdPath, request: Request, user: StaffUser, body: SessionRecord
) -> dict:
    return perform(
        request, user, case_id, body.about(sid), sessions.record_session, render=_session_with_case
    )


@router.post(
    "/{case_id}/oral-agreement/performance",
    response_model=CasePublic,
    summary=f"登记口头协议履行（约定日后履行的口头协议，{ARTICLES['pml_28'].cite_short}）",
)
def oral_performed(case_id: IdPath, request: Request, user: StaffUser, body: OralPerformed) -> dict:
    return perform(request, user, case_id, body, agreement_flow.record_oral_performance, render=_case)


@router.post(
    "/{case_id}/oral-agreement/written",
    status_code=201,
    response_model=AgreementWithCasePublic,
    summary="当事人要求制作书面协议：按口头协议内容制作人民调解协议书",
    dependencies=[IDEMPOTENT],
)
def oral_to_written(
    case_id: IdPath, request: Request, user: StaffUser, body: WrittenAgreementRequest
) -> AgreementWithCasePublic:
    return _agreement_answer(request, user, case_id, body, agreement_flow.request_written_agreement)


@router.post(
    "/{case_id}/agreement",
    status_code=201,
    response_model=AgreementWithCasePublic,
    summary="制作人民调解协议书",
    dependencies=[IDEMPOTENT],
)
def create_agreement(
    case_id: IdPath, request: Request, user: StaffUser, body: AgreementCreate
) -> AgreementWithCasePublic:
    return _agreement_answer(request, user, case_id, body, agreement_flow.issue_agreement)


@router.patch(
    "/{case_id}/parties/{pid}",
    response_model=PartyPublic,
    summary="修改当事人信息（委托代理人及特别授权、法定代表人及职务、由谁代表）",
)
def update_party(case_id: IdPath, pid: IdPath, request: Request, user: StaffUser, body: PartyUpdate) -> dict:
    return perform(
        request,
        user,
        case_id,
        body.about(pid),
        parties.update_party,
        render=lambda s, c, p: PartyPublic.from_row(p, full=sees_personal_data(user)),
    )


@router.post("/{case_id}/agreement/signed", response_model=CasePublic, summary="登记协议签署")
def agreement_signed(case_id: IdPath, request: Request, user: StaffUser, body: AgreementSigned) -> dict:
    return perform(request, user, case_id, body, agreement_flow.sign_agreement, render=_case)


@router.post(
    "/{case_id}/follow-ups",
    status_code=201,
    response_model=FollowUpWithCasePublic,
    summary="登记回访",
    dependencies=[IDEMPOTENT],
)
def follow_up(case_id: IdPath, request: Request, user: StaffUser, body: FollowUpCreate) -> dict:
    def render(session: Session, case: Case, visit: FollowUp) -> FollowUpWithCasePublic:
        terms = {
            id_of(t): t
            for t in session.exec(
                select(AgreementTerm).where(
                    col(AgreementTerm.id).in_([item["term_id"] for item in visit.term_states])
                )
            ).all()
        }
        return FollowUpWithCasePublic.from_row(visit, terms, user, case=CasePublic.from_row(case, utcnow()))

    return perform(request, user, case_id, body, agreement_flow.record_follow_up, render=render)


def _enforcement_answer(
    request: Request, case_id: int, steps: list[EnforcementStepPublic], flow_key: str
) -> EnforcementActionPublic:
    """The steps recorded, the documents they issued (embedded: waited for, like the agreement's), and
    the case."""
    wait_for(flow_key, timeout=30)
    with Session(request.app.state.engine) as session:
        keys = [
            f"{prefix}:{s.id}"
            for s in steps
            for prefix in ("judicial_confirmation", "mediation_certificate", "payment_order")
        ]
        docs = session.exec(
            select(Document).where(col(Document.subject_key).in_(keys)).order_by(col(Document.id))
        ).all()
        case = session.get(Case, case_id)
        assert case is not None, case_id  # the steps were just recorded on it, after the access check
        return EnforcementActionPublic(
            steps=steps,
            documents=[DocumentPublic.from_row(d) for d in docs],
            case=CasePublic.from_row(case, utcnow()),
        )


@router.post(
    "/{case_id}/judicial-confirmation",
    status_code=201,
    response_model=EnforcementActionPublic,
    summary="制作司法确认申请书及调解组织主持调解的证明（各方当事人共同申请）",
    dependencies=[IDEMPOTENT],
)
def judicial_confirmation(
    case_id: IdPath, request: Request, user: StaffUser, body: JudicialConfirmationCreate | None = None
) -> EnforcementActionPublic:
    steps = perform(
        request,
        user,
        case_id,
        body or JudicialConfirmationCreate(),
        enforcement.apply_judicial_confirmation,
        render=lambda s, c, step: [EnforcementStepPublic.from_row(step)],
    )
    return _enforcement_answer(request, case_id, steps, f"jc:{steps[0].id}")


@router.post(
    "/{case_id}/payment-orders",
    status_code=201,
    response_model=EnforcementActionPublic,
    summary="制作支付令申请书（每名权利人一份）",
    dependencies=[IDEMPOTENT],
)
def payment_orders(
    case_id: IdPath, request: Request, user: StaffUser, body: PaymentOrdersCreate
) -> EnforcementActionPublic:
    steps = perform(
        request,
        user,
        case_id,
        body,
        enforcement.apply_payment_orders,
        render=lambda s, c, rows: [EnforcementStepPublic.from_row(r) for r in rows],
    )
    return _enforcement_answer(request, case_id, steps, f"payment_orders:{steps[0].id}")


@router.post(
    "/{case_id}/enforcement-steps",
    status_code=201,
    response_model=EnforcementStepPublic,
    summary="登记履行保障步骤（已司法确认、申请仲裁、提起诉讼等）",
    dependencies=[IDEMPOTENT],
)
def enforcement_step(case_id: IdPath, request: Request, user: StaffUser, body: EnforcementStepCreate) -> dict:
    return perform(
        request,
        user,
        case_id,
        body,
        enforcement.record_enforcement_step,
        render=lambda s, c, row: EnforcementStepPublic.from_row(row),
    )


@router.post(
    "/{case_id}/close",
    response_model=CasePublic,
    summary="结案（履行完毕、调解不成、撤回、口头协议履行、转其他途径、部分履行、转司法确认、申请支付令、"
    "转诉讼、转仲裁；中心要求时待主任审批；卷宗缺少必备材料时 409，中心主任可填写理由批准）",
)
def close(case_id: IdPath, request: Request, user: CloserUser, body: CloseCase) -> dict:
    return perform(request, user, case_id, body, closing.close_case, render=_case)


@router.post(
    "/{case_id}/close/approve",
    response_model=CasePublic,
    summary="结案审批（中心主任或管理员；v1.1 之外的补充路由）",
)
def approve_close(
    case_id: IdPath, request: Request, user: CurrentUser, body: CloseApproval | None = None
) -> dict:
    return perform(request, user, case_id, body or CloseApproval(), closing.approve_close, render=_case)


@router.post("/{case_id}/clock/extend", response_model=CasePublic, summary="经双方同意延长调解期限")
def extend(case_id: IdPath, request: Request, user: StaffUser, body: ExtendClock) -> dict:
    return perform(request, user, case_id, body, deadlines.extend_clock, render=_case)


@router.post("/{case_id}/clock/pause", response_model=CasePublic, summary="暂停计算调解期限（如等待鉴定）")
def pause(case_id: IdPath, request: Request, user: StaffUser, body: ClockPause) -> dict:
    return perform(request, user, case_id, body, deadlines.pause_clock, render=_case)


@router.post("/{case_id}/clock/resume", response_model=CasePublic, summary="恢复计算调解期限")
def resume(case_id: IdPath, request: Request, user: StaffUser, body: ClockPause) -> dict:
    return perform(request, user, case_id, body, deadlines.resume_clock, render=_case)


@router.get("/{case_id}/documents", response_model=list[DocumentPublic], summary="案件文书")
def case_documents(case_id: IdPath, session: SessionDep, user: CurrentUser) -> list[DocumentPublic]:
    load_case(session, user, case_id)
    docs = session.exec(select(Document).where(Document.case_id == case_id).order_by(col(Document.id))).all()
    return [DocumentPublic.from_row(d) for d in docs]


@router.post(
    "/{case_id}/flows/retry", response_model=FlowRetryPublic, summary="重新运行失败的自动流程（排除故障后）"
)
def retry_flows(case_id: IdPath, request: Request, session: SessionDep, user: StaffUser) -> dict:
    load_case(session, user, case_id)
    count = requeue_failed(request.app.state.engine, case_id, actor_name=user.username)
    after_commit()
    return {"requeued": count}


@router.post(
    "/{case_id}/opinions",
    status_code=201,
    response_model=OpinionPublic,
    summary="律师法律意见 / 协议条款审查",
    dependencies=[IDEMPOTENT],
)
def add_opinion(case_id: IdPath, request: Request, user: CurrentUser, body: OpinionCreate) -> dict:
    if user.role not in (Role.lawyer, Role.admin):
        raise Forbidden("仅律师可以提交法律意见")

    return perform(
        request,
        user,
        case_id,
        body,
        opinions.add_opinion,
        render=lambda s, c, o: {
            "id": o.id,
            "kind": o.kind,
            "approved": o.approved,
            "body": o.body,
            "created_at": o.created_at.isoformat(),
        },
    )
