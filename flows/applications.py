"""Online application (网上申请, issue 21 point 2): a citizen registers a dispute without an account.

The same intake as at the window (flows/intake.register_case, the same CaseCreate validation), in channel
`online`, registered for staff review: stage 登记 (registered), no registrar (nobody at the center took
it in; the audit names the actor "online"). Every active staff account is told; staff then accept or
decline it like any case (人民调解法 第17条: mediation on a party's application). The applicant gets the
case number and their own access code (models/party_access.py) to follow it on /p/{code}.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from flows import tasks
from flows.intake import register_case
from models.case import Case
from models.enums import Category, Channel, PartyKind, PartyRole, Role
from models.lifecycle import InvalidInput
from models.party import Party
from models.party_access import party_code
from models.schemas import CaseCreate
from models.user import User

ONLINE_ACTOR_NAME = "online"


def _online_actor() -> User:
    """Who registers an online application: nobody's account (never saved: the case has no registrar,
    the audit row names "online")."""
    return User(
        id=None, username=ONLINE_ACTOR_NAME, display_name="网上申请", role=Role.staff, password_hash=""
    )


def check_online_application(data: CaseCreate) -> None:
    """What the window would ask before registering, asked of the form: channel online, no referral
    (a court or an office refers through staff), and the first applicant's own number, which is how they
    later prove on /p/{code} that the case is theirs."""
    if data.channel != Channel.online:
        raise InvalidInput("网上申请的来源渠道只能是“网上申请”（online）", field="channel")
    if data.referral is not None:
        raise InvalidInput("网上申请不能填写委派、委托或转办信息：请由转办单位向中心移送", field="referral")
    n, applicant = next((n, p) for n, p in enumerate(data.parties) if p.role == PartyRole.applicant)
    if applicant.kind == PartyKind.person and not applicant.id_number:
        raise InvalidInput(
            "请填写申请人的公民身份号码：查询案件进度时须核对其后6位", field=f"parties.{n}.id_number"
        )
    if applicant.kind == PartyKind.organization and not applicant.org_code:
        raise InvalidInput(
            "请填写申请单位的统一社会信用代码：查询案件进度时须核对其后6位", field=f"parties.{n}.org_code"
        )
    if not applicant.phone:
        raise InvalidInput("请填写申请人的手机号码，以便中心联系", field=f"parties.{n}.phone")


def apply_online(*, session: Session, data: CaseCreate, now: datetime) -> tuple[Case, str]:
    """Register the application (in the caller's transaction) and tell the center's staff. Answers the
    case and the first applicant's access code."""
    check_online_application(data)
    case = register_case(session=session, data=data, actor=_online_actor(), now=now)
    applicant = session.exec(
        select(Party)
        .where(Party.case_id == case.id, Party.role == PartyRole.applicant)
        .order_by(col(Party.id))
    ).first()
    assert applicant is not None  # CaseCreate requires one
    staff = session.exec(select(User.id).where(User.role == Role.staff, col(User.active).is_(True))).all()
    for user_id in staff:
        tasks.notify(
            session,
            key=f"online:{case.id}:user:{user_id}",
            user_id=user_id,
            case_id=case.id,
            text=f"{case.case_no} 网上申请（{Category(case.category).label}）待审查：请受理或不予受理",
        )
    return case, party_code(session, applicant)
