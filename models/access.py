"""Who may see which case. A lawyer sees only cases where they sit on the panel or act as an agent;
a town leader sees their town; a reviewer of a 司法所 (with a town) that town, of the 司法局 (none) all;
staff, admin and the center's and city's leaders see all."""

from __future__ import annotations

from sqlalchemy import and_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from models.case import Case
from models.document import Document
from models.enums import Role
from models.expert import PanelMember
from models.lifecycle import TERMINAL_STAGES
from models.notification import Notification
from models.party import Party
from models.rollups import RollupCaseState
from models.user import User

# Matches no case: what a town leader without a town sees (an account made before a town was required).
NO_TOWN = "（账号未设所属镇街）"


def scope_town(user: User) -> str | None:
    """The town a user is limited to: a town leader (level 2) sees only their own town; one whose
    account has no town sees none, never every town."""
    if user.role == Role.leader and user.level == 2:
        return user.town or NO_TOWN
    if user.role == Role.reviewer:
        # A 司法所 reviewer has its town; a 司法局 reviewer (no town) reads the whole county.
        return user.town or None
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


def notification_filter(user: User) -> ColumnElement[bool]:
    """The user's notifications (to them, or to their expert record) that they may still read: one
    about a case they no longer see (a recused lawyer's, a moved case's) goes with the case, since
    its text names it; one about a case that has ended (结案, 不予受理) goes too, since nothing is left
    to do on it (a 回访 reminder of a closed case is noise)."""
    to_me: ColumnElement[bool] = col(Notification.user_id) == user.id
    if user.expert_id is not None:
        to_me = or_(to_me, col(Notification.expert_id) == user.expert_id)
    ongoing = select(col(Case.id)).where(
        col(Case.id) == Notification.case_id, col(Case.stage).not_in([s.value for s in TERMINAL_STAGES])
    )
    if user.role != Role.lawyer and scope_town(user) is None:
        # Sees every case: no subquery over all of them, only the one each notification names.
        return and_(to_me, or_(col(Notification.case_id).is_(None), ongoing.exists()))
    visible = select(col(Case.id)).where(case_filter(user))
    return and_(
        to_me,
        or_(
            col(Notification.case_id).is_(None),
            and_(col(Notification.case_id).in_(visible), ongoing.exists()),
        ),
    )


def visible_towns(session: Session, user: User) -> list[str]:
    """The towns a user's case list can filter on. Read from the rollups (a few rows per town) rather
    than a DISTINCT over the cases, which at a province's million cases took 165–300 ms per page."""
    town = scope_town(user)
    if town is not None:
        return [] if town == NO_TOWN else [town]
    if user.role == Role.lawyer:  # a lawyer's own few cases
        rows = session.execute(select(col(Case.town)).where(case_filter(user)).distinct()).all()
    else:
        rows = session.execute(
            select(col(RollupCaseState.town)).where(col(RollupCaseState.n) > 0).distinct()
        ).all()
    return sorted(t for (t,) in rows if t)


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


# Documents that print parties' full ID numbers, phones or addresses (the party tables of
# documents/templates/_macros.html): the application, the agreement, the 司法确认申请书 and the 支付令申请书,
# and the 卷宗 that binds them with the parties' ID copies. The archived PDF is the legal record and is
# served byte for byte, so a reader who sees these masked on the pages may not download it. The other
# kinds name the parties only, as the pages do. tests/api/test_access_matrix.py reads every kind back and
# fails if a kind outside this set prints a full ID number or phone.
PERSONAL_DATA_KINDS = frozenset(
    {"application", "agreement", "judicial_confirmation_application", "payment_order_application", "dossier"}
)
# 评查 is reading the 卷宗 as filed: the 司法行政 reviewer (人民调解法 第5条: the justice bureau guides
# people's mediation) reads the archived binder whole, while the pages keep showing it personal data masked.
FULL_RECORD_READERS = {"dossier": frozenset({Role.reviewer})}
PERSONAL_PDF_REFUSED = (
    "该文书原件载有当事人完整的身份证号码、联系电话和住址，您的账号只能查看脱敏信息，不能下载原件；"
    "请在案件页面查看（已脱敏），如需打印原件，请由承办的窗口工作人员、管理员或专班律师办理"
)
REPORT_NOT_YOURS = "文书不存在"


def document_refusal(session: Session, user: User, doc: Document) -> tuple[int, str] | None:
    """Why `user` may not download `doc` as (status, Chinese reason), or None when they may.

    A case's document: whoever may see the case (404 otherwise, as for the case itself), except the
    kinds in PERSONAL_DATA_KINDS for readers who see personal data masked (403, naming who may print
    it). A report (no case: 积案报表): only the user who ordered it (`created_by`; a page job's report is
    issued with its requester as actor) while they may still order reports, and the admin. Anyone else
    gets the 404 of a document that does not exist: another user's report is not theirs to know of."""
    if doc.case_id is None:
        if user.role == Role.admin:
            return None
        if user.role == Role.leader and doc.created_by is not None and doc.created_by == user.id:
            return None
        return 404, REPORT_NOT_YOURS
    if not can_see(session, user, doc.case_id):
        return 404, "文书不存在"
    if (
        doc.kind in PERSONAL_DATA_KINDS
        and not sees_personal_data(user)
        and user.role not in FULL_RECORD_READERS.get(doc.kind, ())
    ):
        return 403, PERSONAL_PDF_REFUSED
    return None


def attachment_refusal(session: Session, user: User, case_id: int) -> tuple[int, str] | None:
    """Why `user` may not download a file uploaded to the case (ID copies, evidence, signed scans):
    404 to whoever may not see the case; 403 to readers who see personal data masked (leaders), as for
    the documents that print it."""
    if not can_see(session, user, case_id):
        return 404, "材料不存在"
    if not sees_personal_data(user):
        return 403, "卷宗材料（身份证明、证据等）载有当事人个人信息，您的账号只能查看脱敏信息，不能下载"
    return None
