"""Who may see which case. A lawyer sees only cases where they sit on the panel or act as an agent;
a town leader sees their town; staff, admin and the center's and city's leaders see all."""

from __future__ import annotations

from sqlalchemy import or_, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from models.case import Case
from models.enums import Role
from models.expert import PanelMember
from models.party import Party
from models.user import User


def case_filter(user: User) -> ColumnElement[bool]:
    if user.role == Role.lawyer:
        if user.expert_id is None:
            return Case.id.is_(None)
        on_panel = select(PanelMember.case_id).where(PanelMember.expert_id == user.expert_id)
        agent = select(Party.case_id).where(Party.agent_expert_id == user.expert_id)
        return or_(Case.id.in_(on_panel), Case.id.in_(agent))
    if user.role == Role.leader and user.level == 2 and user.town:
        return Case.town == user.town
    return true()


def can_see(session: Session, user: User, case_id: int) -> bool:
    return session.execute(select(Case.id).where(Case.id == case_id, case_filter(user))).first() is not None


def sees_personal_data(user: User) -> bool:
    """Full ID numbers and phones only for those who work the case; leaders see them masked."""
    return user.role in (Role.staff, Role.admin, Role.lawyer)
