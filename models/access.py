"""Who may see which case. A lawyer sees only cases where they sit on the panel or act as an agent;
a town leader sees their town; staff, admin and the center's and city's leaders see all."""

from __future__ import annotations

from sqlalchemy import or_, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from models.case import Case
from models.enums import Role
from models.expert import PanelMember
from models.party import Party
from models.user import User

# Matches no case: what a town leader without a town sees (an account made before a town was required).
NO_TOWN = "（账号未设所属镇街）"


def scope_town(user: User) -> str | None:
    """The town a user is limited to: a town leader (level 2) sees only their own town; one whose
    account has no town sees none, never every town."""
    if user.role == Role.leader and user.level == 2:
        return user.town or NO_TOWN
    return None


def _seated_or_agent(expert_id: int) -> ColumnElement[bool]:
    # Only an active seat counts: a recused panel member no longer works the case.
    on_panel = select(col(PanelMember.case_id)).where(
        col(PanelMember.expert_id) == expert_id, col(PanelMember.active)
    )
    agent = select(col(Party.case_id)).where(col(Party.agent_expert_id) == expert_id)
    return or_(col(Case.id).in_(on_panel), col(Case.id).in_(agent))


def case_filter(user: User) -> ColumnElement[bool]:
    if user.role == Role.lawyer:
        if user.expert_id is None:
            return col(Case.id).is_(None)
        return _seated_or_agent(user.expert_id)
    town = scope_town(user)
    if town is not None:
        return col(Case.town) == town
    return true()


def user_cases(user: User) -> ColumnElement[bool]:
    """“My cases”: those the user registered, presides over, sits on, or acts in as an agent."""
    mine: ColumnElement[bool] = col(Case.created_by) == user.id
    if user.expert_id is not None:
        return or_(mine, _seated_or_agent(user.expert_id))
    return mine


def can_see(session: Session, user: User, case_id: int) -> bool:
    return (
        session.execute(select(col(Case.id)).where(col(Case.id) == case_id, case_filter(user))).first()
        is not None
    )


def sees_personal_data(user: User) -> bool:
    """Full ID numbers and phones only for those who work the case; leaders see them masked."""
    return user.role in (Role.staff, Role.admin, Role.lawyer)
