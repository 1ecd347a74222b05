"""Lawyers' legal opinions on a case and their review of the agreement's terms before signing."""

from __future__ import annotations

from sqlmodel import select

from models.action_context import ActionContext
from models.agreement import Agreement
from models.audit import record
from models.case import LegalOpinion
from models.db import id_of
from models.lifecycle import check_still_open
from models.schemas import OpinionCreate


def add_opinion(cmd: OpinionCreate, ctx: ActionContext) -> LegalOpinion:
    session, case, actor, now = ctx.session, ctx.case, ctx.actor, ctx.now
    body, kind, approved = cmd.body, cmd.kind, cmd.approved
    check_still_open(case.stage, "添加律师意见")
    # Which draft the lawyer read: signing weighs only the opinions on the current one.
    agreement = session.exec(select(Agreement).where(Agreement.case_id == case.id)).first()
    opinion = LegalOpinion(
        case_id=id_of(case),
        author_id=id_of(actor),
        kind=kind,
        approved=approved,
        body=body,
        created_at=now,
        agreement_revision=agreement.revision if agreement and agreement.signed_at is None else None,
    )
    session.add(opinion)
    session.flush()
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action=f"opinion.{kind}",
        entity="legal_opinion",
        entity_id=opinion.id,
        case_id=case.id,
        at=now,
        after={"approved": approved, "agreement_revision": opinion.agreement_revision},
    )
    return opinion
