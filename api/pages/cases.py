"""Staff pages: the work queue, intake, the case ledger and the case file with every action on it."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.actions import CaseNotFound, command_from_form, perform, perform_form, perform_page
from api.bureau_views import case_bureau_view
from api.deps import IdPath
from api.errors import chinese_message, describe_validation
from api.html import PageError, denied, engine_of, not_found, redirect, render
from api.pages.actions import load_visible_case
from api.pages.common import EVERYONE, STAFF, PageRoute, form_of, require
from api.pages.dossier import dossier_section
from api.pages.leaders import escalation_actions
from flows import agreement as agreement_flow
from flows import closing, deadlines, enforcement, intake, opinions, panel_selection, sessions
from flows import portal as portal_flow
from models import schemas
from models.access import document_refusal, notification_filter, visible_towns
from models.agreement import Agreement, performance_by_obligee, unperformed_terms
from models.case_queries import CaseFilters, find_cases
from models.closing import CLOSE_KIND_BASIS, close_kinds_that_fit
from models.db import session_scope, utcnow
from models.deadlines import china_date
from models.delivery import delivery_rows
from models.document import Document
from models.enums import (
    Category,
    Channel,
    CloseKind,
    DeliveryMethod,
    DeliverySigner,
    DocumentKind,
    EnforcementStep,
    ExpertKind,
    FollowUpMethod,
    OralPerformance,
    PanelRole,
    PartyKind,
    PartyRole,
    ReferralKind,
    RejectionReason,
    Role,
    Satisfaction,
    SessionOutcome,
    Stage,
    TermState,
)
from models.law import citation as law_citation
from models.lifecycle import DomainError, InvalidInput
from models.my_work import next_sessions
from models.notification import Notification
from models.party import Party
from models.party_access import format_code, party_code
from models.public import CaseDetailPublic, CasePublic, CasesPublic
from models.settings import get_settings
from models.town import town_dictionary
from models.tz import CHINA
from models.user import User
from models.validation import MAX_DB_ID, MAX_QUERY_TEXT
from runtime.relay import after_commit

router = APIRouter(route_class=PageRoute)

PAGE_SIZE = 20
# The case list counts up to this many matches and then says "more than" (a full count of a
# province's million cases costs more than the page; the dashboard has the exact figures).
LIST_COUNT_CAP = 10_000
SEARCH_COUNT_CAP = 1_000  # a search is for finding a case: a thousand hits say "be more specific"
DUE_SOON_DAYS = 3
PARTY_FIELDS = (
    "role",
    "kind",
    "name",
    "id_number",
    "phone",
    "org_code",
    "address",
    "legal_representative",
    "legal_representative_title",
    "agent_name",
    "agent_phone",
    "agent_id_number",
    "represented_by",
)
PARTY_FLAGS = ("is_representative", "agent_special_authority")
TERM_FIELDS = ("obligor", "obligee", "obligation", "amount", "due_date")


def enums() -> dict[str, Any]:
    return {
        "stages": list(Stage),
        "categories": list(Category),
        "channels": list(Channel),
        "party_roles": list(PartyRole),
        "party_kinds": list(PartyKind),
        "referral_kinds": list(ReferralKind),
        "outcomes": list(SessionOutcome),
        "panel_roles": list(PanelRole),
        "expert_kinds": list(ExpertKind),
    }


def local_datetime(value: str | None) -> datetime | None:
    """A `datetime-local` input (China time, no zone) → an aware datetime."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=CHINA)


def now_local_input() -> str:
    return utcnow().astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")


def _text(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()


def _case_list(
    session: Session,
    user: User,
    filters: CaseFilters,
    *,
    now: datetime,
    limit: int,
    offset: int = 0,
    order: str = "newest",
    count_cap: int | None = None,
) -> dict[str, Any]:
    """One page of the case list in the JSON list's shape, with `more` where the count was capped."""
    page = find_cases(
        session, user, filters, now=now, limit=limit, offset=offset, order=order, count_cap=count_cap
    )
    out = CasesPublic.from_page(session, page, now=now, limit=limit, offset=offset).model_dump(mode="json")
    if page.more:
        out["more"] = True
    return out


# --- Work queue --------------------------------------------------------------------------------


@router.get("/workbench", include_in_schema=False)
def workbench(request: Request) -> Response:
    user = require(request, *STAFF)
    now = utcnow()
    with Session(engine_of(request)) as session:

        def cases(filters: CaseFilters, order: str = "newest") -> dict:
            return _case_list(session, user, filters, now=now, limit=10, order=order)

        mine = cases(CaseFilters(mine=True, open_only=True), order="due")
        # Each of my cases with its next session; my unread reminders (flows/reminders.py).
        upcoming = next_sessions(session, [c["id"] for c in mine["items"]], now)
        for item in mine["items"]:
            meeting = upcoming.get(item["id"])
            item["next_session"] = (
                {"at": meeting.scheduled_at, "location": meeting.location} if meeting else None
            )
        reminders = unread_reminders(session, user)
        overdue = cases(CaseFilters(overdue=True))
        flagged = cases(CaseFilters(flagged=True))
        soon_page = cases(CaseFilters(due_within_days=DUE_SOON_DAYS), order="due")
        grid_page = cases(CaseFilters(channel=Channel.grid_report, stage=Stage.registered))
    soon, soon_total = soon_page["items"], soon_page["total"]
    grid, grid_total = grid_page["items"], grid_page["total"]
    return render(
        request,
        "workbench.html",
        {
            "mine": mine,
            "overdue": overdue,
            "flagged": flagged,
            "soon": soon,
            "soon_total": soon_total,
            "grid": grid,
            "grid_total": grid_total,
            "reminders": reminders,
            "now": now,
        },
    )


def unread_reminders(session: Session, user: User, limit: int = 20) -> list[Notification]:
    """The user's unread in-app reminders, newest first (models.access.notification_filter)."""
    return list(
        session.exec(
            select(Notification)
            .where(notification_filter(user), col(Notification.read_at).is_(None))
            .order_by(col(Notification.id).desc())
            .limit(limit)
        ).all()
    )


@router.post("/workbench/reminders/read", include_in_schema=False)
async def reminders_read(request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    ids = [int(v) for v in form.getlist("id") if isinstance(v, str) and v.isdigit() and len(v) < 10]
    with session_scope(engine_of(request), write=True) as session:
        for note in unread_reminders(session, user, limit=500):
            if note.id in ids:
                note.read_at = utcnow()
                session.add(note)
    return redirect("/workbench", flash="提醒已标为已读")


# --- Ledger (台账) -----------------------------------------------------------------------------


@router.get("/cases", include_in_schema=False)
def ledger(request: Request) -> Response:
    user = require(request, *EVERYONE)
    params = request.query_params
    stage = params.get("stage") or None
    category = params.get("category") or None
    town = (params.get("town") or "").strip() or None
    q = (params.get("q") or "").strip()[:MAX_QUERY_TEXT] or None  # a search box, not a document
    overdue = {"1": True, "0": False}.get(params.get("overdue") or "")
    if stage and stage not in {s.value for s in Stage}:
        stage = None
    if category and category not in {c.value for c in Category}:
        category = None
    try:
        page = max(1, int(params.get("page") or 1))
    except ValueError:
        page = 1
    page = min(page, MAX_DB_ID // PAGE_SIZE)  # an offset the database can take
    now = utcnow()
    with Session(engine_of(request)) as session:
        filters = CaseFilters(stage=stage, category=category, town=town, overdue=overdue, q=q)
        result = _case_list(
            session,
            user,
            filters,
            now=now,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
            count_cap=max(SEARCH_COUNT_CAP if q else LIST_COUNT_CAP, page * PAGE_SIZE),
        )
        towns = visible_towns(session, user)
    pages = max(1, (result["total"] + PAGE_SIZE - 1) // PAGE_SIZE) + (1 if result.get("more") else 0)
    chosen = {
        "stage": stage or "",
        "category": category or "",
        "town": town or "",
        "q": q or "",
        "overdue": params.get("overdue") or "",
    }
    query = urlencode({k: v for k, v in chosen.items() if v})
    return render(
        request,
        "ledger.html",
        {
            "result": result,
            "page": page,
            "pages": pages,
            "filters": chosen,
            "towns": towns,
            "query": query,
            **enums(),
            "title": "我的案件" if user.role == Role.lawyer else "案件台账",
        },
    )


# --- Intake (登记) -----------------------------------------------------------------------------


def _party_rows(form: Any) -> list[tuple[int, dict[str, str]]]:
    indices = sorted({int(m.group(1)) for key in form if (m := re.fullmatch(r"parties-(\d+)-\w+", key))})
    rows = []
    for i in indices:
        row = {f: _text(form, f"parties-{i}-{f}") for f in PARTY_FIELDS}
        for flag in PARTY_FLAGS:
            row[flag] = "1" if form.get(f"parties-{i}-{flag}") else ""
        rows.append((i, row))
    return rows


def _blank_party(role: str, kind: str = "person") -> dict[str, str]:
    return {**dict.fromkeys((*PARTY_FIELDS, *PARTY_FLAGS), ""), "role": role, "kind": kind}


def _intake_page(
    request: Request, values: dict, parties: list[dict], errors: dict[str, str], *, status: int = 200
) -> Response:
    with Session(engine_of(request)) as session:
        towns = town_dictionary(session)  # the type-ahead lists of 所属镇街 and 村（社区）
    context = {"v": values, "parties": parties, "errors": errors, "town_choices": towns, **enums()}
    return render(request, "intake.html", context, status=status)


@router.get("/cases/new", include_in_schema=False)
def intake_form(request: Request) -> Response:
    require(request, *STAFF)
    return _intake_page(
        request,
        {"channel": "walk_in", "category": "", "referral_kind": ""},
        [_blank_party("applicant"), _blank_party("respondent", "organization")],
        {},
    )


def intake_body(values: dict, rows: list[tuple[int, dict[str, str]]]) -> tuple[dict, list[int]]:
    """The form as the intake schema's input; empty party rows are left out (row index kept for errors)."""
    parties, kept = [], []
    for index, row in rows:
        if not any(row.get(f) for f in ("name", "id_number", "phone", "org_code", "address")):
            continue
        party: dict[str, Any] = {k: v for k, v in row.items() if v and k not in PARTY_FLAGS}
        for flag in PARTY_FLAGS:
            party[flag] = bool(row.get(flag))
        parties.append(party)
        kept.append(index)
    body: dict[str, Any] = {
        k: values[k]
        for k in (
            "channel",
            "category",
            "town",
            "village",
            "summary",
            "claims",
            "facts",
            "amount_involved",
            "headcount",
        )
        if values.get(k)
    }
    body["parties"] = parties
    if values.get("referral_kind"):
        body["referral"] = {
            "kind": values["referral_kind"],
            "reference": values.get("referral_reference", ""),
            "summary_procedure": bool(values.get("summary_procedure")),
        }
    return body, kept


def intake_errors(exc: ValidationError, kept: list[int]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in exc.errors():
        loc = list(error.get("loc", ()))
        message = chinese_message(error)
        if loc[:1] == ["parties"] and len(loc) >= 2 and isinstance(loc[1], int):
            row = kept[loc[1]]
            key = f"parties-{row}-{loc[2]}" if len(loc) >= 3 else f"parties-{row}"
        elif loc[:1] == ["referral"]:
            key = "referral_reference" if loc[-1] == "reference" else "referral_kind"
        else:
            key = str(loc[0]) if loc else "_form"
        errors.setdefault(key, message)
    return errors


@router.post("/cases/new", include_in_schema=False)
async def intake_submit(request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    values = {
        k: _text(form, k)
        for k in (
            "channel",
            "category",
            "town",
            "village",
            "summary",
            "claims",
            "facts",
            "amount_involved",
            "headcount",
            "referral_kind",
            "referral_reference",
        )
    }
    values["summary_procedure"] = "1" if form.get("summary_procedure") else ""
    rows = _party_rows(form)
    body, kept = intake_body(values, rows)
    parties = [row for _, row in rows] or [_blank_party("applicant"), _blank_party("respondent")]
    # Re-rendered rows are renumbered 0..n-1, so errors are keyed by position, not by the posted index.
    position = {index: n for n, (index, _) in enumerate(rows)}
    try:
        data = schemas.CaseCreate.model_validate(body)
    except ValidationError as exc:
        errors = {_renumber(k, position): v for k, v in intake_errors(exc, kept).items()}
        return _intake_page(request, values, parties, errors, status=422)
    try:
        with session_scope(engine_of(request), write=True) as session:
            case = intake.register_case(session=session, data=data, actor=user, now=utcnow())
            session.flush()
            case_id, case_no = case.id, case.case_no
    except InvalidInput as exc:
        key = exc.field or "_form"
        if key.startswith("parties."):
            bits = key.split(".")
            key = f"parties-{position.get(kept[int(bits[1])], 0)}" + (f"-{bits[2]}" if len(bits) > 2 else "")
        return _intake_page(request, values, parties, {key: exc.message}, status=422)
    except DomainError as exc:
        return _intake_page(request, values, parties, {"_form": exc.message}, status=422)
    after_commit()
    return redirect(f"/cases/{case_id}", flash=f"已登记，案号 {case_no}")


def _renumber(key: str, position: dict[int, int]) -> str:
    m = re.fullmatch(r"parties-(\d+)(-.*)?", key)
    if not m:
        return key
    return f"parties-{position.get(int(m.group(1)), m.group(1))}{m.group(2) or ''}"


# --- The case file -----------------------------------------------------------------------------


@router.get("/cases/{case_id}", include_in_schema=False)
def case_page(case_id: IdPath, request: Request) -> Response:
    user = require(request, *EVERYONE)
    now = utcnow()
    with Session(engine_of(request)) as session:
        case = load_visible_case(session, user, case_id)
        detail = CaseDetailPublic.from_case(session, case, user, now).model_dump(mode="json")
        # The closing form offers the kinds that fit the agreement's performance (models.closing).
        agreement_row = session.exec(select(Agreement).where(Agreement.case_id == case.id)).first()
        close_kinds = (
            close_kinds_that_fit(case.stage, unperformed_terms(session, agreement_row))
            if detail["stage"] != Stage.closed
            else []
        )
        # The download rule is models.access's own: a link the reader would get a 403 for is not shown.
        refused_docs = {
            d.id: refusal[1]
            for d in session.exec(select(Document).where(Document.case_id == case.id)).all()
            if (refusal := document_refusal(session, user, d)) is not None
        }
        experts = {}
        if detail["panel_history"]:
            from models.expert import Expert

            ids = {m["expert_id"] for m in detail["panel_history"]} | {
                r["expert_id"] for r in detail["recusals"]
            }
            experts = {
                e.id: e.name for e in session.exec(select(Expert).where(col(Expert.id).in_(ids))).all()
            }
        deliveries = delivery_rows(session, case_id)
        bureau = case_bureau_view(session, case)
        # Who the agreement would not bind, shown before signing refuses it (flows.agreement).
        binding_warning = (
            agreement_flow.binding_problem(session, case) if case.stage == Stage.agreed else None
        )
        # 司法确认 and 支付令: what the actions would allow now, with their reasons (flows.enforcement).
        enforce = enforcement.enforcement_options(session, case, now)
        dossier = dossier_section(session, case, user, close_kinds)
        # 一案一码 and remote signing (flows/portal.py): each party's code, who has still to sign.
        party_codes = {
            p.id: format_code(party_code(session, p))
            for p in session.exec(select(Party).where(Party.case_id == case.id)).all()
        }
        remote_signing = portal_flow.signing_state(session, case)
    can_act = user.role in (Role.staff, Role.admin)
    pending_sessions = [s for s in detail["sessions"] if s["status"] == "scheduled"]
    agreement = detail["agreement"]
    refresh = bool(agreement and agreement["document_pending"])
    return render(
        request,
        "case.html",
        {
            "c": detail,
            "refused_docs": refused_docs,
            **bureau,
            "deliveries": deliveries,
            "delivery_methods": list(DeliveryMethod),
            "delivery_signers": list(DeliverySigner),
            "binding_warning": binding_warning,
            "enforce": enforce,
            "enforcement_steps": list(EnforcementStep),
            "party_codes": party_codes,
            "remote_signing": remote_signing,
            "can_act": can_act,
            "is_lawyer": user.role == Role.lawyer,
            "esc_actions": escalation_actions(user, detail["escalations"]),
            "today": china_date(now).isoformat(),
            "experts": experts,
            "pending_sessions": pending_sessions,
            "close_kinds": close_kinds,
            "close_basis": {k.value: law_citation(v).cite for k, v in CLOSE_KIND_BASIS.items()},
            "still_due_ids": {t["id"] for t in detail["still_due"]},
            "may_approve_close": closing.may_approve(user),
            "dossier": dossier,
            "is_director": closing.is_director(user),
            "follow_up_methods": list(FollowUpMethod),
            "satisfactions": list(Satisfaction),
            "term_states": list(TermState),
            "owed": performance_by_obligee(
                [
                    {**r, **{k: Decimal(r[k]) for k in ("amount", "paid", "outstanding")}}
                    for r in detail["performance"]
                ]
            ),
            "oral_performances": list(OralPerformance),
            "refresh": refresh,
            "now_input": now_local_input(),
            "doc_kinds": {k.value: k.label for k in DocumentKind},
            "rejection_reasons": list(RejectionReason),
            "consent_basis": law_citation("pml_17").quoted,
            "stage_flow": [
                "registered",
                "accepted",
                "panel_formed",
                "in_mediation",
                "agreed",
                "follow_up",
                "closed",
            ],
            **enums(),
        },
    )


@router.get("/documents/{doc_id}/pdf", include_in_schema=False)
def document_pdf(doc_id: IdPath, request: Request) -> Response:
    user = require(request, *EVERYONE)
    with Session(engine_of(request)) as session:
        doc = session.get(Document, doc_id)
        if doc is None:
            raise not_found("文书不存在")
        refusal = document_refusal(session, user, doc)
        if refusal is not None:
            raise PageError(*refusal)
    path = get_settings().data_dir / doc.path
    if not path.is_file():
        raise PageError(410, "文书归档文件缺失，请联系管理员")
    filename = f"{DocumentKind(doc.kind).label.replace('/', '-')}-{doc.id}.pdf"
    return FileResponse(
        path, media_type="application/pdf", filename=filename, headers={"Cache-Control": "private, no-store"}
    )


# --- Actions on a case (staff) -----------------------------------------------------------------
# Each reads its form into the action's command (api/actions.command_from_form) and runs it through
# the adapter the JSON API uses.


def _version(form: Any) -> int | None:
    raw = _text(form, "version")
    return int(raw) if raw.isdigit() else None


@router.post("/cases/{case_id}/accept", include_in_schema=False)
async def accept(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    return perform_form(request, user, case_id, form, schemas.CaseAction, intake.accept_case, done="已受理")


@router.post("/cases/{case_id}/reject", include_in_schema=False)
async def reject(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    return perform_form(
        request, user, case_id, form, schemas.RejectCase, intake.reject_case, done="已作出不予受理决定"
    )


@router.post("/cases/{case_id}/respondent-answer", include_in_schema=False)
async def respondent_answer(case_id: IdPath, request: Request) -> Response:
    """人民调解法 第17条: the respondent's answer to the 征询; a refusal ends the case."""
    user = require(request, *STAFF)
    form = await form_of(request)

    def done(cmd: schemas.RespondentAnswer) -> str:
        return "已记录被申请人意见" if cmd.agrees else "被申请人拒绝调解，已终止调解"

    return perform_form(
        request, user, case_id, form, schemas.RespondentAnswer, intake.record_respondent_answer, done=done
    )


@router.get("/cases/{case_id}/panel", include_in_schema=False)
def panel_page(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    size = request.query_params.get("size")
    with Session(engine_of(request)) as session:
        case = load_visible_case(session, user, case_id)
        proposal = panel_selection.panel_proposal(
            session, case, size=int(size) if size and size.isdigit() and 1 <= int(size) <= 9 else None
        )
        detail = CasePublic.from_row(case, utcnow()).model_dump(mode="json")
    kinds = {k.value: k.label for k in ExpertKind}
    return render(request, "panel.html", {"c": detail, "p": proposal, "kinds": kinds, **enums()})


@router.post("/cases/{case_id}/panel", include_in_schema=False)
async def confirm_panel(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    # One check box per candidate (member) with its role beside it (role-<expert id>).
    members = [
        {"expert_id": int(raw), "role": _text(form, f"role-{raw}") or "member"}
        for raw in form.getlist("member")
        if isinstance(raw, str) and raw.isdigit()
    ]
    return perform_form(
        request,
        user,
        case_id,
        form,
        schemas.PanelConfirm,
        panel_selection.confirm_panel,
        done="专班已确认",
        given={"members": members},
    )


@router.post("/cases/{case_id}/recusals", include_in_schema=False)
async def recusal(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    return perform_form(
        request,
        user,
        case_id,
        form,
        schemas.RecusalCreate,
        panel_selection.recuse,
        done="已回避并更换专班成员",
    )


@router.post("/cases/{case_id}/oral-agreement/performance", include_in_schema=False)
async def oral_performed(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    return perform_form(
        request,
        user,
        case_id,
        form,
        schemas.OralPerformed,
        agreement_flow.record_oral_performance,
        done="口头协议履行情况已登记",
        back=f"/cases/{case_id}#oral-agreement",
    )


@router.post("/cases/{case_id}/oral-agreement/written", include_in_schema=False)
async def oral_to_written(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    try:
        cmd = command_from_form(schemas.WrittenAgreementRequest, form)
    except ValidationError as exc:
        return redirect(
            f"/cases/{case_id}#oral-agreement",
            flash=describe_validation(exc, schemas.WrittenAgreementRequest),
            kind="error",
        )
    return perform_page(
        request,
        user,
        case_id,
        cmd,
        agreement_flow.request_written_agreement,
        done="已按口头协议内容制作人民调解协议书，生成后可下载 PDF",
        back=f"/cases/{case_id}#agreement",
    )


@router.post("/cases/{case_id}/sessions/{sid}/cancel", include_in_schema=False)
async def cancel_session(case_id: IdPath, sid: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    return perform_form(
        request,
        user,
        case_id,
        form,
        schemas.SessionCancel,
        sessions.cancel_session,
        done="调解已取消",
        back=f"/cases/{case_id}#sessions",
        address=lambda cmd: cmd.about(sid),
    )


@router.get("/cases/{case_id}/agreement", include_in_schema=False)
def agreement_form(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    with Session(engine_of(request)) as session:
        case = load_visible_case(session, user, case_id)
        detail = CaseDetailPublic.from_case(session, case, user, utcnow()).model_dump(mode="json")
        warning = agreement_flow.binding_problem(session, case) if case.stage == Stage.agreed else None
    agreement = detail["agreement"]
    oral = detail.get("oral_agreement")
    if agreement:
        terms = [{f: (t[f] or "") for f in TERM_FIELDS} for t in agreement["terms"]]
    elif oral:
        # 人民调解法 第28条: a party asked for the written agreement; it starts from the oral terms.
        terms = [{f: (t.get(f) or "") for f in TERM_FIELDS} for t in oral["terms"]]
    else:
        terms = [dict.fromkeys(TERM_FIELDS, "")]
    values = {
        "performance_method": (agreement or {}).get("performance_method") or "",
        "performance_place": (agreement or {}).get("performance_place") or "",
        "facts": (agreement or {}).get("facts") or detail.get("summary") or "",
        "disputes": (agreement or {}).get("disputes") or detail.get("claims") or "",
        "responsibility": (agreement or {}).get("responsibility") or "",
        "rights_confirmation": bool((agreement or {}).get("rights_confirmation")),
        "status_relation": bool((agreement or {}).get("status_relation")),
    }
    return render(
        request,
        "agreement.html",
        {"c": detail, "terms": terms, "v": values, "errors": {}, "binding_warning": warning},
    )


@router.post("/cases/{case_id}/agreement", include_in_schema=False)
async def agreement_submit(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    indices = sorted({int(m.group(1)) for k in form if (m := re.fullmatch(r"terms-(\d+)-\w+", k))})
    terms = [{f: _text(form, f"terms-{i}-{f}") for f in TERM_FIELDS} for i in indices]
    terms = [t for t in terms if any(t.values())]
    values: dict[str, Any] = {
        k: _text(form, k)
        for k in ("performance_method", "performance_place", "facts", "disputes", "responsibility")
    }
    flags = {k: bool(_text(form, k)) for k in ("rights_confirmation", "status_relation")}
    payload = {
        "terms": [{k: v for k, v in t.items() if v} for t in terms],
        **{k: v for k, v in values.items() if v},
        **flags,
        "version": _version(form),
    }
    values.update(flags)
    errors: dict[str, str] = {}
    try:
        body = schemas.AgreementCreate.model_validate(payload)
    except ValidationError as exc:
        for error in exc.errors():
            loc = list(error.get("loc", ()))
            key = f"terms-{loc[1]}-{loc[2]}" if loc[:1] == ["terms"] and len(loc) >= 3 else str(loc[0])
            errors.setdefault(key, chinese_message(error))
        body = None
    if body is not None:
        try:
            perform(request, user, case_id, body, agreement_flow.issue_agreement)
        except CaseNotFound:
            raise not_found() from None
        except InvalidInput as exc:
            key = exc.field or "_form"
            errors[key.replace(".", "-")] = exc.message
        except DomainError as exc:
            errors["_form"] = exc.message
        else:
            return redirect(f"/cases/{case_id}#agreement", flash="协议书已提交制作，生成后可下载 PDF")
    with Session(engine_of(request)) as session:
        case = load_visible_case(session, user, case_id)
        detail = CaseDetailPublic.from_case(session, case, user, utcnow()).model_dump(mode="json")
    return render(
        request,
        "agreement.html",
        {"c": detail, "terms": terms or [dict.fromkeys(TERM_FIELDS, "")], "v": values, "errors": errors},
        status=422,
    )


@router.post("/cases/{case_id}/agreement/signed", include_in_schema=False)
async def agreement_signed(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    return perform_form(
        request,
        user,
        case_id,
        form,
        schemas.AgreementSigned,
        agreement_flow.sign_agreement,
        done="已登记协议签署，进入履行回访",
    )


@router.post("/cases/{case_id}/follow-ups", include_in_schema=False)
async def follow_up(case_id: IdPath, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    # One select per term (term-<id>); a term left at "—" was not asked about at this visit. A money
    # term adds paid-<id> and paid_on-<id>; its select's "auto" lets the paid sum settle the state.
    terms = []
    for key in form:
        if not key.startswith("term-"):
            continue
        tid = key.removeprefix("term-")
        state, paid = _text(form, key), _text(form, f"paid-{tid}")
        if not paid and state in ("", "auto"):
            continue
        item: dict = {"term_id": tid, "state": None if state in ("", "auto") else state}
        if paid:
            item |= {"paid_amount": paid, "paid_on": _text(form, f"paid_on-{tid}") or None}
        terms.append(item)
    try:
        cmd = command_from_form(schemas.FollowUpCreate, form, {"terms": terms})
    except ValidationError as exc:
        return redirect(
            f"/cases/{case_id}#follow-up-form",
            flash=describe_validation(exc, schemas.FollowUpCreate),
            kind="error",
        )
    return perform_page(
        request,
        user,
        case_id,
        cmd,
        agreement_flow.record_follow_up,
        done="回访已登记",
        back=f"/cases/{case_id}#follow-ups",
    )


@router.post("/cases/{case_id}/close", include_in_schema=False)
async def close(case_id: IdPath, request: Request) -> Response:
    # The director may close over a missing 卷宗 item with a reason (flows/closing.close_case checks).
    user = require(request, *STAFF, Role.leader)
    if user.role == Role.leader and not closing.is_director(user):
        raise denied()
    form = await form_of(request)
    return perform_form(
        request,
        user,
        case_id,
        form,
        schemas.CloseCase,
        closing.close_case,
        done=lambda cmd: f"已作出结案决定（{CloseKind(cmd.kind).label}）",
        back=f"/cases/{case_id}#closing",
    )


@router.post("/cases/{case_id}/close/approve", include_in_schema=False)
async def approve_close(case_id: IdPath, request: Request) -> Response:
    user = require(request, Role.leader, Role.admin)
    form = await form_of(request)
    return perform_form(
        request,
        user,
        case_id,
        form,
        schemas.CloseApproval,
        closing.approve_close,
        done="已审批结案",
        back=f"/cases/{case_id}#closing",
    )


@router.post("/cases/{case_id}/clock/{what}", include_in_schema=False)
async def clock(case_id: IdPath, what: str, request: Request) -> Response:
    user = require(request, *STAFF)
    form = await form_of(request)
    if what == "extend":
        return perform_form(
            request,
            user,
            case_id,
            form,
            schemas.ExtendClock,
            deadlines.extend_clock,
            done=lambda cmd: f"期限已延长 {cmd.days} 日",
        )
    if what == "pause":
        return perform_form(
            request, user, case_id, form, schemas.ClockPause, deadlines.pause_clock, done="已暂停计算期限"
        )
    if what == "resume":
        return perform_form(
            request, user, case_id, form, schemas.ClockPause, deadlines.resume_clock, done="已恢复计算期限"
        )
    raise not_found("页面不存在")


# --- Lawyers: legal opinions and agreement review ------------------------------------------------


@router.post("/cases/{case_id}/opinions", include_in_schema=False)
async def add_opinion(case_id: IdPath, request: Request) -> Response:
    user = require(request, Role.lawyer, Role.admin)
    form = await form_of(request)

    def done(cmd: schemas.OpinionCreate) -> str:
        return "协议条款审查意见已提交" if cmd.kind == "agreement_review" else "法律意见已提交"

    return perform_form(
        request,
        user,
        case_id,
        form,
        schemas.OpinionCreate,
        opinions.add_opinion,
        done=done,
        back=f"/cases/{case_id}#opinions",
    )
