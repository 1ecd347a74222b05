"""The 办理记录 in words: each audit event of a case as a Chinese sentence naming the person.

The audit log keeps codes and ids, which auditors and other systems need; people read "窗口受理员 小陈
受理了案件" and "专职调解员 老王 记录第2次调解：达成协议". Each action the process records has a
sentence here; an action not listed yet gets a generic sentence naming the kind of record it touched,
never its code (`case.close_request`) nor raw values (`category=labor`, `expert_id`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from models.audit import AuditEvent
from models.enums import (
    ENUMS_BY_NAME,
    Category,
    Channel,
    DocumentKind,
    EscalationLevel,
    LabeledEnum,
    PanelRole,
    RiskLevel,
    SessionOutcome,
    Stage,
)
from models.expert import Expert
from models.law import ARTICLES
from models.lifecycle import TRANSITIONS
from models.tz import CHINA
from models.user import User

SYSTEM = "系统"
# A person the log names by a login that no longer matches a user: never show the login itself.
SOMEONE = "工作人员"
TEXT_LIMIT = 120  # free text (批示, 反馈, reasons) is quoted, long text cut: the record is one line

# What an action touched, for the generic sentence of an action without its own.
ENTITY_WORDS = {
    "case": "案件信息",
    "party": "当事人信息",
    "session": "调解安排",
    "agreement": "调解协议",
    "follow_up": "回访记录",
    "document": "文书",
    "escalation": "督办",
    "legal_opinion": "法律意见",
    "expert": "专家信息",
    "user": "用户信息",
}


@dataclass(frozen=True)
class Event:
    """What a sentence needs: the action, who did it (a display name), the before/after values, and
    the names of the experts the values refer to by id."""

    action: str
    actor: str
    entity: str = ""
    before: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] = field(default_factory=dict)
    experts: Mapping[int, str] = field(default_factory=dict)


# --- Small wording helpers ------------------------------------------------------------------------


def _label(enum: type[LabeledEnum], value: Any) -> str:
    """The Chinese label of a code, or nothing (an unknown code is left out, never shown)."""
    try:
        return enum(str(value)).label
    except ValueError:
        return ""


def _coded(name: str, value: Any) -> str:
    """The label of a code of the enum /meta/enums publishes as `name` (closing kinds, follow-up
    methods and term states joined the process later: an older database may know no such enum)."""
    enum = ENUMS_BY_NAME.get(name)
    return _label(enum, value) if enum else ""


def _clip(value: Any) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def _when(value: Any) -> str:
    """An ISO instant as China's wall clock (2026-11-25 09:30); a date as itself."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    if len(str(value)) <= 10:
        return moment.date().isoformat()
    if moment.tzinfo is not None:
        moment = moment.astimezone(CHINA)
    return moment.strftime("%Y-%m-%d %H:%M")


def _day(value: Any) -> str:
    return _when(value)[:10]


def _because(value: Any, word: str = "") -> str:
    text = _clip(value)
    return f"（{word}{text}）" if text else ""


def _said(value: Any) -> str:
    text = _clip(value)
    return f"：{text}" if text else ""


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _session_no(e: Event) -> str:
    seq = _int(e.after.get("seq", e.before.get("seq")))
    return f"第{seq}次调解" if seq else "一次调解"


def _expert(e: Event, expert_id: Any) -> str:
    return e.experts.get(_int(expert_id) or 0, "一名专家")


# --- One sentence per action ---------------------------------------------------------------------


def _register(e: Event) -> str:
    a = e.after
    facts = [_label(Category, a.get("category")), _label(Channel, a.get("channel")), _clip(a.get("town"))]
    if a.get("is_mass"):
        facts.append("群体性纠纷")
    risk = str(a.get("risk_level") or "")
    if risk in ("high", "critical"):
        facts.append(f"风险等级{_label(RiskLevel, risk)}")
    number = f" {_clip(a['case_no'])}" if a.get("case_no") else ""
    said = "，".join(f for f in facts if f)
    return f"{e.actor} 登记了案件{number}" + (f"（{said}）" if said else "")


# The sentences of the stage changes (`case.<transition>`, written by flows.process.apply_transition).
_TRANSITION_SENTENCES: dict[str, str] = {
    "accept": "受理了案件",
    "reject": "决定不予受理",
    "form_panel": "组建了调解专班",
    "start_mediation": "开始调解",
    "agree": "确认双方达成调解协议",
    "fail": "确认调解不成，终止调解",
    "withdraw": "办理当事人撤回调解申请",
    "sign": "确认调解协议已签署，转入履行回访",
    "close": "办理结案",
    "respondent_refuses": "登记被申请人拒绝调解，终止调解",
}


def _transition(e: Event, name: str) -> str:
    a = e.after
    if name in _TRANSITION_SENTENCES:
        words = _TRANSITION_SENTENCES[name]
    elif name in TRANSITIONS:
        t = TRANSITIONS[name]
        words = f"办理“{t.label}”，案件转入“{t.target.label}”阶段"
    else:
        stage = _label(Stage, a.get("stage"))
        words = f"将案件转入“{stage}”阶段" if stage else "更新了案件信息"
    note = _clip(a.get("note"))
    if name == "close" and note.startswith("结案"):
        # flows.closing writes the decision into the note: "结案（调解不成）：…".
        return f"{e.actor} {note}"
    return f"{e.actor} {words}{_said(note)}"


def _closing(e: Event) -> str:
    kind = _coded("close_kind", e.after.get("kind"))
    how = f"（{kind}）" if kind else ""
    if e.action == "case.close_approve":
        return f"{e.actor} 审批同意结案{how}{_said(e.after.get('note'))}"
    waiting = "，待中心主任审批" if e.action == "case.close_request" else ""
    return f"{e.actor} 作出结案决定{how}{waiting}{_said(e.after.get('note'))}"


def _escalate(e: Event) -> str:
    level = _label(EscalationLevel, e.after.get("escalation_level"))
    target = f"“{level}”" if level else "上一级督办"
    return f"{e.actor} 将案件升级为{target}{_said(e.after.get('reason'))}"


def _panel_confirm(e: Event) -> str:
    members = e.after.get("members") or []
    seats = []
    for m in members if isinstance(members, list) else []:
        if not isinstance(m, dict):
            continue
        role = _label(PanelRole, m.get("role"))
        seats.append(_expert(e, m.get("expert_id")) + (f"（{role}）" if role else ""))
    return f"{e.actor} 确定专班成员" + (f"：{'、'.join(seats)}" if seats else "")


def _recusal(e: Event) -> str:
    out = f"{e.actor} 办理回避：{_expert(e, e.before.get('expert_id'))}回避"
    if e.after.get("replaced_by"):
        out += f"，由{_expert(e, e.after['replaced_by'])}接替"
    return out + _because(e.after.get("reason"), "理由：")


def _schedule(e: Event) -> str:
    where = _clip(e.after.get("location"))
    when = _when(e.after.get("scheduled_at"))
    details = "，".join(x for x in (when, f"地点：{where}" if where else "") if x)
    return f"{e.actor} 安排{_session_no(e)}" + (f"：{details}" if details else "")


def _record(e: Event) -> str:
    outcome = _label(SessionOutcome, e.after.get("outcome"))
    return f"{e.actor} 记录{_session_no(e)}" + (f"：{outcome}" if outcome else "")


def _reschedule(e: Event) -> str:
    when = _when(e.after.get("scheduled_at"))
    where = _clip(e.after.get("location"))
    out = f"{e.actor} 将{_session_no(e)}改期" + (f"至{when}" if when else "")
    if where:
        out += f"，地点：{where}"
    return out + _because(e.after.get("reason"), "原因：")


def _cancel(e: Event) -> str:
    return f"{e.actor} 取消{_session_no(e)}" + _because(e.after.get("reason"), "原因：")


def _agreement_issue(e: Event) -> str:
    terms = _int(e.after.get("terms"))
    revision = _int(e.after.get("revision")) or 1
    details = [f"第{revision}稿"] if revision > 1 else []
    if terms:
        details.append(f"{terms}项条款")
    verb = "修改调解协议书" if revision > 1 else "制作调解协议书"
    return f"{e.actor} {verb}" + (f"（{'，'.join(details)}）" if details else "")


def _agreement_sign(e: Event) -> str:
    day = _day(e.after.get("signed_at"))
    return f"{e.actor} 登记调解协议已签署" + (f"（签署日期 {day}）" if day else "")


def _follow_up(e: Event) -> str:
    a = e.after
    method = _coded("follow_up_method", a.get("method"))
    out = f"{e.actor} 记录回访" + (f"（{method}）" if method else "")
    terms = a.get("terms")
    if isinstance(terms, dict) and terms:
        # {"1": "performed", "2": "not_due"}: each term of the agreement by its number.
        states = [
            f"第{seq}项{_coded('term_state', state)}"
            for seq, state in sorted(terms.items(), key=lambda kv: _int(kv[0]) or 0)
            if _int(seq) and _coded("term_state", state)
        ]
        if states:
            out += "：" + "、".join(states)
    elif "performed" in a:
        # Written before v1.1: one visit, one yes/no.
        out += "：已履行" if a.get("performed") else "：未履行"
    if a.get("closed"):
        out += "，协议全部履行完毕"
    return out


def _document(e: Event) -> str:
    kind = _label(DocumentKind, e.after.get("kind"))
    version = _int(e.after.get("version_no")) or 1
    return (
        f"{e.actor} 生成文书"
        + (f"《{kind}》" if kind else "")
        + (f"（第{version}版）" if version > 1 else "")
    )


def _opinion(e: Event) -> str:
    if e.action == "opinion.agreement_review":
        approved = e.after.get("approved")
        if approved is None:
            return f"{e.actor} 提交协议条款审查意见"
        return f"{e.actor} 审查协议条款：" + ("同意签署" if approved else "不同意，需修改")
    return f"{e.actor} 提交法律意见"


def _extend(e: Event) -> str:
    days = _int(e.after.get("days"))
    due = _day(e.after.get("clock_due_on"))
    out = f"{e.actor} 延长调解期限" + (f"{days}日" if days else "")
    if due:
        out += f"，届满日为{due}"
    return out + _because(e.after.get("consent"))


def _resume(e: Event) -> str:
    days = _int(e.after.get("paused_days"))
    # Issue 19: a working-day clock's pause is counted in working days (older entries have no unit).
    unit = "个工作日" if e.after.get("unit") == "working_day" else "日"
    due = _day(e.after.get("clock_due_on"))
    out = f"{e.actor} 恢复计时" + (f"（暂停{days}{unit}）" if days else "")
    if due:
        out += f"，届满日为{due}"
    return out + _said(e.after.get("note"))


def _instruct(e: Event) -> str:
    due = _day(e.after.get("reply_by"))
    return f"{e.actor} 作出批示{_said(e.after.get('text'))}" + (f"（请于{due}前反馈）" if due else "")


def _respondent_answer(e: Event) -> str:
    agrees = e.after.get("respondent_agrees", e.after.get("agrees"))
    if agrees is None:
        return f"{e.actor} 登记被申请人意见{_said(e.after.get('note'))}"
    verdict = "同意调解" if agrees else "不同意调解"
    return f"{e.actor} 登记被申请人意见：{verdict}{_because(e.after.get('note'))}"


def _count(key: str, template: str) -> Callable[[Event], str]:
    def sentence(e: Event) -> str:
        value = e.after.get(key)
        n = len(value) if isinstance(value, list) else _int(value) or 0
        return template.format(actor=e.actor, n=n or "")

    return sentence


def _fixed(words: str) -> Callable[[Event], str]:
    return lambda e: f"{e.actor} {words}"


def _with_text(words: str, key: str = "text") -> Callable[[Event], str]:
    return lambda e: f"{e.actor} {words}{_said(e.after.get(key))}"


def _delivery(e: Event) -> str:
    """送达 (issue 19): the result, the method and the date, in words; no signer's name (personal data)."""
    from models.enums import DeliveryMethod, DeliverySigner, DeliveryStatus

    def label(enum: type, value: Any) -> str:
        try:
            return enum(value).label
        except ValueError:
            return ""

    status = label(DeliveryStatus, e.after.get("status"))
    details = [
        x
        for x in (
            label(DeliveryMethod, e.after.get("method")),
            _day(e.after.get("delivered_at")),
            label(DeliverySigner, e.after.get("signed_by")),
        )
        if x
    ]
    return f"{e.actor} 记录文书送达：{status or '已记录'}" + (f"（{'，'.join(details)}）" if details else "")


SENTENCES: dict[str, Callable[[Event], str]] = {
    "case.register": _register,
    "case.escalate": _escalate,
    "case.flag": _fixed("标记案件需人工处理：后台流程多次失败"),
    "case.flows_retry": _count("runs", "{actor} 重新运行失败的后台流程{n}项"),
    "case.link_related": _count("related", "{actor} 发现180日内关联或重复纠纷{n}件"),
    "case.police_report": _fixed(f"已按{ARTICLES['pml_25'].cite_short}报告公安机关"),
    "case.respondent_answer": _respondent_answer,
    "case.close_request": _closing,
    "case.close_decision": _closing,
    "case.close_approve": _closing,
    "panel.confirm": _panel_confirm,
    "panel.recusal": _recusal,
    "session.schedule": _schedule,
    "session.record": _record,
    "session.reschedule": _reschedule,
    "session.cancel": _cancel,
    "agreement.issue": _agreement_issue,
    "agreement.sign": _agreement_sign,
    "follow_up.record": _follow_up,
    "document.issue": _document,
    "opinion.opinion": _opinion,
    "opinion.agreement_review": _opinion,
    "clock.extend": _extend,
    "clock.pause": _with_text("暂停计时", "note"),
    "clock.resume": _resume,
    "escalation.ack": _fixed("签收了督办"),
    "escalation.instruct": _instruct,
    "escalation.urge": _with_text("催办"),
    "escalation.feedback": _with_text("提交承办反馈"),
    "escalation.resolve": _fixed("办结了督办"),
    "delivery.record": _delivery,
    "party.consent_electronic": _fixed("记录当事人同意电子送达"),
}


def sentence(event: Event) -> str:
    """The event in one Chinese sentence beginning with the person's name."""
    phrase = SENTENCES.get(event.action)
    if phrase is not None:
        return phrase(event)
    entity, _, name = event.action.partition(".")
    if entity == "case" and name:
        return _transition(event, name)
    word = ENTITY_WORDS.get(event.entity) or ENTITY_WORDS.get(entity)
    return f"{event.actor} 更新了{word}" if word else f"{event.actor} 办理了一项事务"


# --- The case's history, read from the audit log ----------------------------------------------------


def _expert_ids(before: Mapping[str, Any], after: Mapping[str, Any]) -> set[int]:
    ids = {before.get("expert_id"), after.get("replaced_by")}
    members = after.get("members")
    if isinstance(members, list):
        ids |= {m.get("expert_id") for m in members if isinstance(m, dict)}
    return {i for i in (_int(x) for x in ids) if i}


def case_history(session: Session, case_id: int) -> list[dict[str, Any]]:
    """The case's audit events, oldest first: the stored values and `text`, the sentence. `actor` is
    the person's display name (系统 for the process itself), never a login."""
    rows = session.exec(
        select(AuditEvent, User.display_name)
        .join(User, col(User.id) == AuditEvent.actor_id, isouter=True)
        .where(AuditEvent.case_id == case_id)
        .order_by(col(AuditEvent.id))
    ).all()
    # Events written with a login but no user id (a CLI retry): the login's display name.
    logins = {e.actor_name for e, name in rows if name is None and e.actor_name != "system"}
    by_login = (
        dict(
            session.exec(select(User.username, User.display_name).where(col(User.username).in_(logins))).all()
        )
        if logins
        else {}
    )
    expert_ids = (
        set().union(*(_expert_ids(e.before or {}, e.after or {}) for e, _ in rows)) if rows else set()
    )
    experts: dict[int, str] = (
        {
            expert_id: name
            for expert_id, name in session.exec(
                select(Expert.id, Expert.name).where(col(Expert.id).in_(expert_ids))
            ).all()
            if expert_id is not None
        }
        if expert_ids
        else {}
    )
    out = []
    for e, name in rows:
        # The process writes "system" even when it acts on someone's behalf (a document issued after
        # their action): the sentence says the system did it.
        actor = SYSTEM if e.actor_name == "system" else (name or by_login.get(e.actor_name) or SOMEONE)
        event = Event(
            action=e.action,
            actor=actor,
            entity=e.entity,
            before=e.before or {},
            after=e.after or {},
            experts=experts,
        )
        out.append(
            {
                "at": e.at.isoformat(),
                "actor": actor,
                "action": e.action,
                "before": e.before,
                "after": e.after,
                "text": sentence(event),
            }
        )
    return out
