"""Request and response bodies of the justice bureau's side (CONTRACT v1.2): 评查, 以案定补."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field

from models.enums import ReviewDimension, ReviewStatus, SubsidyGrade, SubsidyStatus
from models.public import Day, Money, PublicModel, Timestamp
from models.review import parse_ratio
from models.schemas import WHOLE, IsoDate, Line, RequiredText, StrictModel

Score = Annotated[int, Field(ge=0, le=10), WHOLE]


class SampleCreate(StrictModel):
    date_from: IsoDate = Field(alias="from", description="结案日期起（含），YYYY-MM-DD")
    date_to: IsoDate = Field(alias="to", description="结案日期止（含），YYYY-MM-DD")
    ratio: float = Field(
        gt=0, le=1, description="抽查比例，如 0.1 表示 10%；抽取 ceil(比例×件数) 件，至少 1 件"
    )
    seed: Line | None = Field(
        default=None,
        max_length=64,
        description="随机种子：相同案件、比例和种子抽出相同案件（不填则随机生成并记录）",
    )

    model_config = ConfigDict(populate_by_name=True)

    def action_kwargs(self) -> dict[str, Any]:
        """The arguments of flows.reviews.draw_sample, for the JSON route and the page alike."""
        return {
            "date_from": self.date_from,
            "date_to": self.date_to,
            "ratio": parse_ratio(self.ratio),
            "seed": self.seed,
        }


class ScoresIn(StrictModel):
    acceptance: Score = Field(description="受理")
    procedure: Score = Field(description="程序")
    documents: Score = Field(description="文书")
    agreement: Score = Field(description="协议内容")
    dossier: Score = Field(description="卷宗完整")
    follow_up: Score = Field(description="回访")
    satisfaction: Score = Field(description="当事人满意")


class ScoreCreate(StrictModel):
    scores: ScoresIn
    note: str | None = Field(default=None, max_length=5000, description="评查意见")
    findings: list[Annotated[RequiredText, Field(max_length=2000)]] = Field(
        default_factory=list, max_length=20, description="发现的问题，由调解中心在案件页答复整改情况"
    )

    def action_kwargs(self) -> dict[str, Any]:
        """The arguments of flows.reviews.score_review, for the JSON route and the page alike."""
        return {"scores": self.scores.model_dump(), "note": self.note, "findings": list(self.findings)}


class FindingAnswer(StrictModel):
    answer: RequiredText = Field(max_length=5000, description="整改情况")


class GradeSet(StrictModel):
    grade: SubsidyGrade | None = Field(default=None, description="核定档次；不填则采用系统建议档次")


class RulesText(StrictModel):
    text: str = Field(max_length=20000, description="本县以案定补规定原文")


class FindingPublic(PublicModel):
    id: int
    review_id: int
    case_id: int
    text: str
    created_at: Timestamp
    answer: str | None
    answered_at: Timestamp | None
    answered_by: str | None = Field(description="答复人姓名")


class ReviewPublic(PublicModel):
    id: int
    sample_id: int
    case_id: int
    case_no: str | None
    town: str
    category_label: str
    scores: dict[ReviewDimension, int]
    total: int | None
    pass_mark: int | None
    note: str | None
    status: ReviewStatus
    status_label: str
    scored_at: Timestamp | None
    findings: list[FindingPublic]


class ReviewsPublic(PublicModel):
    items: list[ReviewPublic]
    total: int


class SamplePublic(PublicModel):
    id: int
    date_from: Day = Field(serialization_alias="from")
    date_to: Day = Field(serialization_alias="to")
    ratio: str
    seed: str
    population: int = Field(description="期间内范围内的结案件数")
    scope_town: str | None
    reviews: list[ReviewPublic]


class ApprovalPublic(PublicModel):
    level: str = Field(description="center 调解中心、town 司法所、county 司法局")
    level_label: str
    name: str
    at: Timestamp


class SubsidyPublic(PublicModel):
    id: int
    case_id: int
    case_no: str | None
    town: str
    category: str = Field(description="纠纷类型（中文）")
    mediator: str = Field(description="调解主持人")
    month: str = Field(description="结案月份 YYYY-MM")
    proposed_grade: SubsidyGrade
    proposed_label: str
    grade: SubsidyGrade
    grade_label: str
    amount: Money
    status: SubsidyStatus
    status_label: str
    approvals: list[ApprovalPublic]
    waiting_for: str | None = Field(description="待审核的层级；已审批完毕为空")
    exclusions: list[str] = Field(description="当前不予补贴的原因")
    payable: bool = Field(description="各级审核完毕且无排除情形")


class MediatorSubsidyPublic(PublicModel):
    mediator: str
    cases: int
    payable_cases: int
    amount: Money = Field(description="可发放金额合计（元）")


class SubsidiesPublic(PublicModel):
    month: str
    items: list[SubsidyPublic]
    total: int
    mediators: list[MediatorSubsidyPublic]
