"""Editing a party after intake: its agent (委托代理人, with 特别授权 or not), its 法定代表人 and title, and
whom a group member is represented by (issue 18 point 2). One action for `PATCH /cases/{id}/parties/{pid}`
and the party edit page."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlmodel import Session, col, select

from models.action_context import ActionContext
from models.audit import record, without_personal_data
from models.binding import represented_by_problem
from models.case import Case
from models.enums import Stage
from models.lifecycle import InvalidInput, NotFound, TransitionNotAllowed
from models.party import Party
from models.schemas import EDITABLE_PARTY_FIELDS, PartyUpdate, agent_problem

# 信访工作条例 第20条第三款 (models/law.py petition_20_3): at most 5 representatives.
MAX_REPRESENTATIVES = 5


def party_of(session: Session, case: Case, party_id: int) -> Party:
    party = session.get(Party, party_id)
    if party is None or party.case_id != case.id:
        raise NotFound("当事人不存在")
    return party


def update_party(cmd: PartyUpdate, ctx: ActionContext) -> Party:
    """Apply `changes` (fields of models.schemas.PartyUpdate, already validated one by one) after the
    checks that need the whole party and the case's other parties; audited without personal data."""
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    party_id = cmd.party_id
    changes = cmd.model_dump(include=cmd.model_fields_set - {"version"})
    if case.stage == Stage.closed:
        raise TransitionNotAllowed("案件已结案，不能修改当事人信息")
    party = party_of(session, case, party_id)
    changes = {k: v for k, v in changes.items() if k in EDITABLE_PARTY_FIELDS}
    merged = SimpleNamespace(**{f: getattr(party, f) for f in (*EDITABLE_PARTY_FIELDS, "kind", "name")})
    for key, value in changes.items():
        setattr(merged, key, False if value is None and key in _FLAGS else value)
    if party.kind == "organization" and merged.id_number:
        raise InvalidInput("单位当事人请填写统一社会信用代码，而非身份证号", field="id_number")
    if problem := agent_problem(merged):
        raise InvalidInput(problem[1], field=problem[0])
    others = list(
        session.exec(
            select(Party).where(Party.case_id == case.id, Party.id != party.id).order_by(col(Party.id))
        ).all()
    )
    everyone: list[Any] = [*others, merged]  # rows and the edited party as it would stand
    if problem_text := represented_by_problem(
        party.name, merged.represented_by, bool(merged.is_representative), everyone
    ):
        raise InvalidInput(problem_text, field="represented_by")
    if merged.is_representative and len([p for p in everyone if p.is_representative]) > MAX_REPRESENTATIVES:
        raise InvalidInput("群体性纠纷推选的代表不得超过5人", field="is_representative")
    if not merged.is_representative:
        followers = [p.name for p in others if p.represented_by == party.name]
        if followers:
            raise InvalidInput(
                f"{party.name}是{'、'.join(followers)}推选的代表：请先修改他们的“由谁代表”",
                field="is_representative",
            )
    changed = {k: v for k, v in vars(merged).items() if k in changes and getattr(party, k) != v}
    if not changed:
        return party
    before = {k: getattr(party, k) for k in changed}
    for key, value in changed.items():
        setattr(party, key, value)
    if "consent_electronic" in changed:
        # When consent was given or withdrawn: electronic delivery rests on it (民诉法 第90条 by analogy).
        party.consent_at = now
    session.add(party)
    case.updated_at = now
    session.add(case)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="party.update",
        entity="party",
        entity_id=party.id,
        case_id=case.id,
        at=now,
        before=without_personal_data(before),
        after=without_personal_data(changed),
    )
    return party


_FLAGS = frozenset({"agent_special_authority", "is_representative", "consent_electronic"})
