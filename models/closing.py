"""The 结案 decision: its kind, why, who decided and, where the center requires it, who approved it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from models.agreement import AgreementTerm, term_numbers
from models.db import UTCDateTime, utcnow
from models.enums import CloseKind
from models.lifecycle import DomainError, InvalidInput, TransitionNotAllowed, close_kinds_from


class CaseClosing(SQLModel, table=True):
    """One 结案 decision. `approved_at` NULL: awaiting the director's 结案审批 (the case keeps its stage)."""

    __tablename__ = "case_closings"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = Field(max_length=20, description="models.enums.CloseKind")
    note: str | None = Field(default=None, sa_type=Text)
    requested_by: int | None = Field(default=None, foreign_key="users.id", description="NULL: the system")
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    needs_approval: bool = False
    approved_by: int | None = Field(default=None, foreign_key="users.id")
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    approval_note: str | None = Field(default=None, sa_type=Text)
    # The director's reason for closing over a missing 卷宗 item (issue 22); printed in the 卷宗情况说明.
    override_reason: str | None = Field(default=None, sa_type=Text)


# --- Which 结案 kind fits the agreement's performance (issue 18) ----------------------------------

# The kinds for an agreement not fully performed; 履行完毕 is for one fully performed (never with a note
# over unperformed terms). The dashboard counts all of them as agreed (flows/closing.OUTCOME_OF).
AFTER_DEFAULT: tuple[CloseKind, ...] = (
    CloseKind.partly_performed,
    CloseKind.judicial_confirm,
    CloseKind.payment_order,
    CloseKind.litigation,
    CloseKind.arbitration,
)
# The legal route each kind names (models.law): shown beside the choice on the closing form.
CLOSE_KIND_BASIS: dict[CloseKind, str] = {
    CloseKind.judicial_confirm: "pml_33",  # 人民调解法 第33条: 共同申请司法确认
    CloseKind.payment_order: "labor_16",  # 劳动争议调解仲裁法 第16条: 支付拖欠劳动报酬的, 申请支付令
    CloseKind.litigation: "pml_32",  # 人民调解法 第32条: 就协议的履行或内容发生争议的, 可以起诉
    CloseKind.arbitration: "labor_15",  # 劳动争议调解仲裁法 第15条: 不履行调解协议的, 可以申请仲裁
}


def close_kinds_that_fit(current: str, unperformed: Sequence[AgreementTerm]) -> list[CloseKind]:
    """The 结案 kinds the closing form offers: those open from the stage (models.lifecycle), then
    履行完毕 only when every term is performed, the others only when some is not."""
    return [k for k in close_kinds_from(current) if close_refusal(k, unperformed, note="-") is None]


def close_refusal(
    kind: CloseKind, unperformed: Sequence[AgreementTerm], *, note: str | None
) -> DomainError | None:
    """Why this kind cannot close a case whose agreement has `unperformed` terms (None: it may).
    `unperformed` is models.agreement.unperformed_terms; the stage is checked by check_close_kind."""
    if kind == CloseKind.performed and unperformed:
        # No escape through a note: 履行完毕 says every obligation was met (人民调解法 第31条 回访).
        seqs = term_numbers([t.seq for t in unperformed])
        return TransitionNotAllowed(
            f"协议{seqs}尚未履行完毕，不能以“履行完毕”结案：请先登记回访，"
            "或按实际情况以部分履行、转司法确认、申请支付令、转诉讼或转仲裁结案"
        )
    if kind in AFTER_DEFAULT and not unperformed:
        return TransitionNotAllowed(f"协议各项均已履行，应以“履行完毕”结案，不能以“{kind.label}”结案")
    if kind == CloseKind.payment_order and not any(t.amount is not None for t in unperformed):
        return TransitionNotAllowed("支付令只适用于给付金钱的条款：本案尚未履行的条款均不涉及金钱")
    if kind == CloseKind.partly_performed and not (note or "").strip():
        return InvalidInput("以“部分履行”结案须在说明中写明理由（未履行部分如何处理）", field="note")
    return None
