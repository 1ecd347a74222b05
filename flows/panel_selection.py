"""Panel selection (组建专班, "多对一"): rank the expert bank, exclude conflicts, staff confirm.

Ranking and exclusion are plain functions on plain data (`ExpertView`, `PartyView`), so the rules are
tested without a database. Every candidate carries the reasons of its score; every exclusion its cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import case as sa_case
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from flows import tasks
from flows.notices import issue_party_notices
from flows.process import apply_transition
from flows.tasks import process_flow, step
from models.action_context import ActionContext
from models.audit import record
from models.case import Case
from models.db import id_of
from models.enums import Category, ExpertKind, PanelRole, RiskLevel, Stage
from models.expert import Expert, PanelMember, Recusal
from models.lifecycle import OPEN_STAGES, PANEL_STAGES, InvalidInput, TransitionNotAllowed
from models.outbox import enqueue_after
from models.party import Party
from models.schemas import PanelConfirm, RecusalCreate

LEGAL_KINDS = {ExpertKind.lawyer, ExpertKind.judge}
# Which department (事权部门) answers for the substance of each category.
LOCAL_KINDS = {ExpertKind.elder, ExpertKind.mediator}
LEAD_KINDS = {ExpertKind.mediator, ExpertKind.elder, ExpertKind.judge, ExpertKind.industry}


@dataclass(frozen=True)
class PartyView:
    name: str
    id_number: str | None
    org_code: str | None
    employer: str | None


@dataclass
class ExpertView:
    id: int
    name: str
    kind: str
    organization: str | None
    towns: list[str]
    village: str | None
    specialties: list[str]
    max_active_cases: int
    id_number: str | None
    declared_relations: list[dict]
    active: bool
    active_cases: int = 0
    successes: int = 0
    completed: int = 0
    appointed_mediator: bool = False  # 人民调解法 第13条: may preside over the mediation


@dataclass
class Candidate:
    expert: ExpertView
    score: float
    reasons: list[str] = field(default_factory=list)


def conflict_reason(expert: ExpertView, parties: list[PartyView], recused_ids: set[int]) -> str | None:
    """Why this expert may not sit on the case, or None. 特邀调解规定 第15条; 人民调解法 第20条."""
    if not expert.active:
        return "已停用"
    if expert.id in recused_ids:
        return "当事人已申请回避"
    for party in parties:
        if expert.id_number and party.id_number and expert.id_number == party.id_number:
            return f"本人即为当事人（{party.name}）"
        if not party.id_number and not party.org_code and expert.name == party.name:
            return f"与当事人同名（{party.name}），可能为当事人本人"
        for rel in expert.declared_relations:
            hit = (
                (rel.get("id_number") and rel.get("id_number") == party.id_number)
                or (rel.get("org_code") and rel.get("org_code") == party.org_code)
                or (rel.get("name") and rel.get("name") == party.name)
            )
            if hit:
                return f"申报与当事人“{party.name}”存在{rel.get('relation') or '关联'}关系"
        org = (expert.organization or "").strip()
        if org and (org == party.name or org == (party.employer or "")):
            return f"与当事人“{party.name}”属同一单位（{org}）"
    if expert.max_active_cases and expert.active_cases >= expert.max_active_cases:
        return f"在办案件已达上限（{expert.active_cases}/{expert.max_active_cases}）"
    return None


def score_expert(expert: ExpertView, *, category: str, town: str, village: str | None) -> Candidate:
    reasons: list[str] = []
    score = 0.0
    if category in expert.specialties:
        score += 40
        reasons.append(f"专长匹配：{Category(category).label}")
    elif not expert.specialties:
        score += 8
        reasons.append("综合类调解力量")
    if not expert.towns:
        score += 8
        reasons.append("服务全市")
    elif town in expert.towns:
        score += 20
        reasons.append(f"属地：服务{town}")
        if village and expert.village == village:
            score += 10
            reasons.append(f"同村（社区）：{village}")
    elif expert.kind in LOCAL_KINDS:
        score -= 15
        reasons.append("非本镇街的乡贤或调解员")
    if expert.max_active_cases:
        free = max(expert.max_active_cases - expert.active_cases, 0) / expert.max_active_cases
        score += 20 * free
        reasons.append(f"在办 {expert.active_cases}/{expert.max_active_cases} 件")
    if expert.completed:
        # Smoothed so one lucky case does not outrank a long record.
        rate = (expert.successes + 1) / (expert.completed + 2)
        score += 20 * rate
        reasons.append(f"同类纠纷调解成功 {expert.successes}/{expert.completed} 件")
    return Candidate(expert=expert, score=round(score, 1), reasons=reasons)


def needs_mix(*, is_mass: bool, risk_level: str, category: str) -> bool:
    """Complex or mass cases need law (lawyer/judge) and substance (the responsible department)."""
    return (
        is_mass
        or risk_level in (RiskLevel.high, RiskLevel.critical)
        or category in (Category.land_acquisition, Category.medical, Category.labor)
    )


def propose(candidates: list[Candidate], *, size: int, mix: bool) -> list[tuple[Candidate, str]]:
    """Pick `size` experts: the best lead first, then the mix, then the best of the rest."""
    ranked = sorted(candidates, key=lambda c: (-c.score, c.expert.id))
    chosen: list[tuple[Candidate, str]] = []
    used: set[int] = set()

    def take(pred, role: str) -> None:
        for cand in ranked:
            if cand.expert.id not in used and pred(cand):
                chosen.append((cand, role))
                used.add(cand.expert.id)
                return

    # Only an appointed 人民调解员 presides (人民调解法 第13、19条); otherwise the best lead kind is proposed
    # and staff must seat an appointed one before confirming.
    take(lambda c: c.expert.appointed_mediator, PanelRole.lead)
    if not chosen:
        take(lambda c: c.expert.kind in LEAD_KINDS, PanelRole.lead)
    if not chosen:
        take(lambda c: True, PanelRole.lead)
    if mix:
        take(lambda c: c.expert.kind in LEGAL_KINDS, PanelRole.legal_advisor)
        take(lambda c: c.expert.kind == ExpertKind.department, PanelRole.member)
    while len(chosen) < size:
        before = len(chosen)
        take(lambda c: True, PanelRole.member)
        if len(chosen) == before:
            break
    for cand, role in chosen:
        if role == PanelRole.legal_advisor:
            cand.reasons.append("复杂或群体性纠纷：须有法律专业力量")
        elif cand.expert.kind == ExpertKind.department and mix:
            cand.reasons.append("复杂或群体性纠纷：须有事权部门参与")
    return chosen[: max(size, len(chosen) if mix else size)]


# --- Database side ----------------------------------------------------------------------------


def load_expert_views(
    session: Session, category: str, expert_ids: list[int] | None = None
) -> list[ExpertView]:
    query = select(Expert)
    if expert_ids is not None:
        query = query.where(col(Expert.id).in_(expert_ids))
    experts = session.exec(query.order_by(col(Expert.id))).all()
    open_stages = [s.value for s in OPEN_STAGES]
    load: dict[int, int] = dict(
        session.execute(
            sa_select(col(PanelMember.expert_id), func.count())
            .join(Case, col(Case.id) == PanelMember.case_id)
            .where(col(PanelMember.active), col(Case.stage).in_(open_stages))
            .group_by(col(PanelMember.expert_id))
        ).all()
    )
    results = {
        row[0]: (row[1], row[2])
        for row in session.execute(
            sa_select(
                col(PanelMember.expert_id),
                func.sum(sa_case((col(Case.outcome) == "agreed", 1), else_=0)),
                func.count(),
            )
            .join(Case, col(Case.id) == PanelMember.case_id)
            .where(col(Case.category) == category, col(Case.outcome).in_(("agreed", "failed")))
            .group_by(col(PanelMember.expert_id))
        ).all()
    }
    views = []
    for e in experts:
        expert_id = id_of(e)
        successes, completed = results.get(expert_id, (0, 0))
        views.append(
            ExpertView(
                id=expert_id,
                name=e.name,
                kind=e.kind,
                organization=e.organization,
                towns=list(e.towns or []),
                village=e.village,
                specialties=list(e.specialties or []),
                max_active_cases=e.max_active_cases,
                id_number=e.id_number,
                declared_relations=list(e.declared_relations or []),
                active=e.active,
                active_cases=load.get(expert_id, 0),
                successes=int(successes or 0),
                completed=int(completed or 0),
                appointed_mediator=e.appointed_mediator,
            )
        )
    return views


def party_views(session: Session, case_id: int) -> list[PartyView]:
    return [
        PartyView(name=p.name, id_number=p.id_number, org_code=p.org_code, employer=p.employer)
        for p in session.exec(select(Party).where(Party.case_id == case_id)).all()
    ]


def recused_ids(session: Session, case_id: int) -> set[int]:
    return set(session.exec(select(Recusal.expert_id).where(Recusal.case_id == case_id)).all())


def active_panel(session: Session, case_id: int) -> list[PanelMember]:
    return list(
        session.exec(
            select(PanelMember)
            .where(PanelMember.case_id == case_id, PanelMember.active)
            .order_by(col(PanelMember.id))
        ).all()
    )


def panel_proposal(session: Session, case: Case, *, size: int | None = None) -> dict:
    parties = party_views(session, id_of(case))
    recused = recused_ids(session, id_of(case))
    seated = {m.expert_id for m in active_panel(session, id_of(case))}
    candidates: list[Candidate] = []
    excluded: list[dict] = []
    for view in load_expert_views(session, case.category):
        if view.id in seated:
            view.active_cases -= 1  # their seat on this case is not extra load
        reason = conflict_reason(view, parties, recused)
        if reason:
            excluded.append({"expert_id": view.id, "name": view.name, "reason": reason})
            continue
        candidates.append(score_expert(view, category=case.category, town=case.town, village=case.village))
    mix = needs_mix(is_mass=case.is_mass, risk_level=case.risk_level, category=case.category)
    size = size or (5 if case.is_mass else 3)
    picked = propose(candidates, size=size, mix=mix)
    picked_ids = {c.expert.id for c, _ in picked}
    rest = sorted(
        (c for c in candidates if c.expert.id not in picked_ids), key=lambda c: (-c.score, c.expert.id)
    )
    return {
        "candidates": [_candidate_out(c, role) for c, role in picked],
        "alternates": [_candidate_out(c, None) for c in rest[:10]],
        "excluded": excluded,
        "needs_mix": mix,
    }


def _candidate_out(c: Candidate, role: str | None) -> dict:
    return {
        "expert_id": c.expert.id,
        "name": c.expert.name,
        "kind": c.expert.kind,
        "score": c.score,
        "reasons": c.reasons,
        "role": role,
        "organization": c.expert.organization,
    }


def confirm_panel(cmd: PanelConfirm, ctx: ActionContext) -> Case:
    """Seat the panel staff confirmed. Conflicts and full experts are refused with their reason."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    members = [m.model_dump() for m in cmd.members]
    if case.stage != Stage.accepted and case.stage not in PANEL_STAGES:
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(case.stage).label}”，不能组建专班")
    parties = party_views(session, id_of(case))
    recused = recused_ids(session, id_of(case))
    current = {m.expert_id: m for m in active_panel(session, id_of(case))}
    views = {v.id: v for v in load_expert_views(session, case.category, [m["expert_id"] for m in members])}
    for i, m in enumerate(members):
        view = views.get(m["expert_id"])
        if view is None:
            raise InvalidInput(f"专家库中没有 id={m['expert_id']} 的专家", field=f"members.{i}.expert_id")
        if view.id in current:
            view.active_cases -= 1
        reason = conflict_reason(view, parties, recused)
        if reason:
            raise InvalidInput(f"{view.name}不能列入专班：{reason}", field=f"members.{i}.expert_id")
        if m["role"] == PanelRole.lead and not view.appointed_mediator:
            raise InvalidInput(
                f"{view.name}（{ExpertKind(view.kind).label}）不是本委员会聘任的人民调解员，不能主持调解："
                "请指定一名人民调解员主持，其可作为协助调解人参加（人民调解法第十三条、第十九条、第二十条）",
                field=f"members.{i}.role",
            )
    leads = [i for i, m in enumerate(members) if m["role"] == PanelRole.lead]
    if len(leads) > 1:
        raise InvalidInput("专班只能有一名调解主持人", field=f"members.{leads[1]}.role")
    wanted = {m["expert_id"]: m["role"] for m in members}
    for expert_id, seat in current.items():
        if expert_id not in wanted:
            seat.active = False
            seat.removed_at = now
            seat.removed_reason = "专班调整"
            session.add(seat)
        elif seat.role != wanted[expert_id]:
            seat.role = wanted[expert_id]
            session.add(seat)
    for expert_id, role in wanted.items():
        if expert_id not in current:
            session.add(PanelMember(case_id=id_of(case), expert_id=expert_id, role=role, seated_at=now))
    before = sorted(current)
    if case.stage == Stage.accepted:
        apply_transition(session, case, "form_panel", actor=actor, now=now)
    else:
        case.updated_at = now
        session.add(case)  # the version bump makes a concurrent confirmation fail with 409
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="panel.confirm",
        entity="case",
        entity_id=case.id,
        case_id=case.id,
        at=now,
        before={"experts": before},
        after={"members": [{"expert_id": k, "role": v} for k, v in wanted.items()]},
    )
    enqueue_after(
        session,
        "form_panel",
        key=f"panel:{case.id}:{case.stage_seq}:{now.timestamp()}",
        case_id=case.id,
        params={"expert_ids": sorted(wanted)},
    )
    return case


def recuse(cmd: RecusalCreate, ctx: ActionContext) -> list[PanelMember]:
    """Remove a recused expert and seat the best eligible replacement (of the same kind where possible)."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    expert_id, reason = cmd.expert_id, cmd.reason
    if case.stage not in PANEL_STAGES:
        raise TransitionNotAllowed(f"案件当前阶段为“{Stage(case.stage).label}”，不能申请回避")
    seats = {m.expert_id: m for m in active_panel(session, id_of(case))}
    seat = seats.get(expert_id)
    if seat is None:
        raise InvalidInput("该专家不在本案专班中", field="expert_id")
    seat.active = False
    seat.removed_at = now
    seat.removed_reason = f"回避：{reason}"
    session.add(seat)
    recusal = Recusal(
        case_id=id_of(case), expert_id=expert_id, reason=reason, created_at=now, actor_id=actor.id
    )
    session.add(recusal)
    session.flush()
    removed = session.get(Expert, expert_id)
    assert removed is not None, expert_id  # it held a seat on this panel
    proposal = panel_proposal(session, case, size=1)
    pool = [c for c in proposal["candidates"] + proposal["alternates"] if c["expert_id"] not in seats]
    if seat.role == PanelRole.lead:
        # The presiding seat goes only to an appointed 人民调解员 (人民调解法 第13、19条).
        appointed = {e.id for e in session.exec(select(Expert).where(col(Expert.appointed_mediator))).all()}
        pool = [c for c in pool if c["expert_id"] in appointed]
    same_kind = [c for c in pool if c["kind"] == removed.kind]
    replacement = (same_kind or pool or [None])[0]
    if replacement:
        session.add(
            PanelMember(
                case_id=id_of(case), expert_id=replacement["expert_id"], role=seat.role, seated_at=now
            )
        )
        recusal.replaced_by_expert_id = replacement["expert_id"]
    elif seat.role == PanelRole.lead:
        # Nobody eligible: the next member presides so the case never sits without a 调解主持人.
        others = [
            m
            for m in seats.values()
            if m.expert_id != expert_id and (e := session.get(Expert, m.expert_id)) and e.appointed_mediator
        ]
        if others:
            others[0].role = PanelRole.lead
            session.add(others[0])
    case.updated_at = now
    session.add(case)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="panel.recusal",
        entity="case",
        entity_id=case.id,
        case_id=case.id,
        at=now,
        before={"expert_id": expert_id},
        after={"reason": reason, "replaced_by": recusal.replaced_by_expert_id},
    )
    enqueue_after(
        session,
        "recusal",
        key=f"recusal:{recusal.id}",
        case_id=case.id,
        params={"expert_ids": [recusal.replaced_by_expert_id] if recusal.replaced_by_expert_id else []},
    )
    session.flush()
    return active_panel(session, id_of(case))


@step
def notify_panel(key: str, case_id: int, expert_ids: list[int]) -> int:
    with tasks.write_session() as session:
        case = session.get(Case, case_id)
        assert case is not None, case_id  # the outbox run belongs to an existing case
        sent = 0
        for expert_id in expert_ids:
            sent += tasks.notify(
                session,
                key=f"{key}:expert:{expert_id}",
                expert_id=expert_id,
                case_id=case_id,
                text=f"您已被列入 {case.case_no} 调解专班",
            )
        return sent


@process_flow("tiaojie-panel")
async def panel_flow(key: str) -> None:
    params = tasks.params_of(key)
    case_id = tasks.case_id_of(key)
    notify_panel(key, case_id, params.get("expert_ids", []))
    # 人民调解法 第19、23条: each party is told in writing who mediates and how to ask for recusal.
    issue_party_notices(case_id, "panel_notice", key)
