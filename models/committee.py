"""The mediation committees (调解组织) the center hosts: a dictionary the admin keeps, and the one rule
that says which committee a case belongs to.

The center's own 人民调解委员会 is always present (created by migration 0025 from the installation's
`committee_name`) and takes every case no other committee takes. A specialised committee hosted at the
center (a 医疗纠纷人民调解委员会, a 交通事故纠纷人民调解委员会, a labor mediation organisation) takes the
categories it lists: 医疗纠纷预防和处理条例 第38、39条 make the 医疗纠纷人民调解委员会 the body that
accepts, mediates, signs and seals a medical dispute, so that case's documents are issued in its name
and under its seal, numbered in its own series when it has one (e.g. 瑞医调〔2026〕00001号)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import UniqueConstraint
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, col, select

from models.case import Case, next_seq
from models.db import JSONType, UTCDateTime, id_of, utcnow
from models.document import paper_no
from models.enums import Category, CommitteeKind
from models.lifecycle import InvalidInput
from models.schemas import StrictModel
from models.settings import get_settings
from models.town import normalise_name
from models.tz import CHINA

MAX_NAME = 80
MAX_PREFIX = 8


class Committee(SQLModel, table=True):
    __tablename__ = "committees"

    id: int | None = SQLField(default=None, primary_key=True)
    name: str = SQLField(max_length=MAX_NAME, unique=True)
    kind: str = SQLField(max_length=16, default=CommitteeKind.people)
    # Category codes (models.enums.Category) the committee takes; the center's committee lists none.
    categories: list[str] = SQLField(default_factory=list, sa_type=JSONType)
    # Its own number series for its documents (瑞医调); None: the case number stands as the 文号.
    number_prefix: str | None = SQLField(default=None, max_length=MAX_PREFIX)
    active: bool = True
    is_center: bool = False
    updated_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime)


class CommitteeCaseNumber(SQLModel, table=True):
    """A case's number in its committee's series, taken once, when its first document is issued."""

    __tablename__ = "committee_case_numbers"
    __table_args__ = (UniqueConstraint("committee_id", "case_id"),)

    id: int | None = SQLField(default=None, primary_key=True)
    committee_id: int = SQLField(foreign_key="committees.id", index=True)
    case_id: int = SQLField(foreign_key="cases.id", index=True)
    year: int
    seq: int
    doc_no: str = SQLField(max_length=40)


# --- What the API takes and answers (CONTRACT v1.2: GET/PUT /committees) --------------------------


def _name(value: str) -> str:
    value = normalise_name(value)
    if not value:
        raise ValueError("调解组织名称不能为空")
    if len(value) > MAX_NAME:
        raise ValueError(f"调解组织名称不超过{MAX_NAME}个字")
    return value


def _prefix(value: str | None) -> str | None:
    value = normalise_name(value) or None
    if value is not None and (len(value) > MAX_PREFIX or not all(ch.isalnum() for ch in value)):
        raise ValueError(f"文书编号前缀为不超过{MAX_PREFIX}个汉字或字母，如 瑞医调")
    return value


CommitteeName = Annotated[str, AfterValidator(_name)]
NumberPrefix = Annotated[str | None, AfterValidator(_prefix)]


class CommitteeIn(StrictModel):
    id: int | None = Field(default=None, ge=1, le=2_147_483_647, description="为空或省略表示新增")
    name: CommitteeName = Field(description="调解组织全称，如 瑞安市医疗纠纷人民调解委员会")
    kind: CommitteeKind = Field(description="类型")
    categories: list[Category] = Field(
        default_factory=list, max_length=len(Category), description="受理的纠纷类别"
    )
    number_prefix: NumberPrefix = Field(
        default=None, description="本组织文书编号前缀，如 瑞医调；为空则用案号"
    )
    active: bool = Field(default=True, description="停用后不再承接新文书")
    # Read-only: accepted so that what GET answers can be sent back as it is; the center's row is
    # known by its id.
    is_center: bool | None = Field(default=None, description="只读（GET 的回显），提交时忽略")


class CommitteesIn(StrictModel):
    items: list[CommitteeIn] = Field(max_length=100)

    @model_validator(mode="after")
    def _distinct(self) -> CommitteesIn:
        for label, values in (
            ("名称", [c.name for c in self.items]),
            ("编号", [str(c.id) for c in self.items if c.id is not None]),
            ("文书编号前缀", [c.number_prefix for c in self.items if c.number_prefix]),
        ):
            repeated = [v for v, n in Counter(values).items() if n > 1]
            if repeated:
                raise ValueError(f"调解组织{label}“{repeated[0]}”重复")
        for c in self.items:
            if len(set(c.categories)) != len(c.categories):
                raise ValueError(f"{c.name}的纠纷类别重复")
        return self


class CommitteePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    name: str
    kind: CommitteeKind
    categories: list[Category]
    number_prefix: str | None = None
    active: bool = True
    is_center: bool = Field(default=False, description="本中心人民调解委员会（默认，始终存在）")


class CommitteesPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[CommitteePublic]


class CaseCommitteePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    name: str
    kind: CommitteeKind

    @classmethod
    def from_row(cls, row: Committee) -> CaseCommitteePublic:
        return cls(id=id_of(row), name=row.name, kind=CommitteeKind(row.kind))


# --- Reading ----------------------------------------------------------------------------------


def committees(session: Session) -> list[Committee]:
    """The center's committee first, then the others in the order they were added."""
    return list(
        session.exec(select(Committee).order_by(col(Committee.is_center).desc(), col(Committee.id))).all()
    )


def center_committee(session: Session) -> Committee:
    row = session.exec(select(Committee).where(col(Committee.is_center))).first()
    if row is None:  # a database migrated before 0025 seeded it cannot exist; kept total for safety
        return Committee(id=0, name=get_settings().committee_name, kind=CommitteeKind.people, is_center=True)
    return row


def committee_for(session: Session, case: Case) -> Committee:
    """The case's committee: the active committee whose categories include the case's category (the
    first added, should two list it), else the center's 人民调解委员会."""
    for row in committees(session):
        if row.active and not row.is_center and case.category in (row.categories or []):
            return row
    return center_committee(session)


def committee_public(row: Committee) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "categories": list(row.categories or []),
        "number_prefix": row.number_prefix,
        "active": row.active,
        "is_center": row.is_center,
    }


def dictionary_public(session: Session) -> dict:
    return {"items": [committee_public(c) for c in committees(session)]}


def document_number(session: Session, case: Case, committee: Committee) -> str | None:
    """The case's number in `committee`'s own series (瑞医调〔2026〕00001号), taken the first time a
    document of the case is issued in its name and kept since; None when the committee has no series.
    The year is the case's registration year, as the case number's is."""
    if not committee.number_prefix or committee.id is None or case.id is None:
        return None
    taken = session.exec(
        select(CommitteeCaseNumber).where(
            CommitteeCaseNumber.committee_id == committee.id, CommitteeCaseNumber.case_id == case.id
        )
    ).first()
    if taken is not None:
        return taken.doc_no
    year = (case.created_at or utcnow()).astimezone(CHINA).year
    seq = next_seq(session, key=f"committee:{committee.id}", year=year)
    doc_no = paper_no(committee.number_prefix, year, seq)
    session.add(
        CommitteeCaseNumber(committee_id=committee.id, case_id=case.id, year=year, seq=seq, doc_no=doc_no)
    )
    session.flush()
    return doc_no


# --- Checking a new dictionary (the action is flows/committees.replace_committees) ---------------


def check_dictionary(session: Session, data: CommitteesIn) -> None:
    """The rules a dictionary must keep; InvalidInput (422) naming the item otherwise."""
    existing = {c.id: c for c in committees(session)}
    center = center_committee(session)
    case_prefix = get_settings().case_no_prefix
    taken: dict[str, str] = {}
    for i, item in enumerate(data.items):
        field = f"items.{i}"
        if item.id is not None and item.id not in existing:
            raise InvalidInput(f"调解组织编号 {item.id} 不存在", field=f"{field}.id")
        if item.id is not None and item.id == center.id:
            if item.kind != CommitteeKind.people:
                raise InvalidInput(
                    f"{item.name}是本中心人民调解委员会，类型只能是人民调解委员会", field=f"{field}.kind"
                )
            if not item.active:
                raise InvalidInput(f"{item.name}是本中心人民调解委员会，不能停用", field=f"{field}.active")
            if item.categories:
                raise InvalidInput(
                    f"{item.name}是本中心人民调解委员会，承接其他组织不受理的各类纠纷，无需列出类别",
                    field=f"{field}.categories",
                )
        if item.number_prefix == case_prefix:
            raise InvalidInput(
                f"文书编号前缀“{case_prefix}”已用作案号前缀，请另取", field=f"{field}.number_prefix"
            )
        if not item.active:
            continue
        for category in item.categories:
            if category in taken:
                raise InvalidInput(
                    f"纠纷类别“{Category(category).label}”已由{taken[category]}受理，同一类别只能由一个调解组织受理",
                    field=f"{field}.categories",
                )
            taken[category] = item.name
    # Names and prefixes of rows left out of the request stay in the table (deactivated): no clash.
    listed = {item.id for item in data.items if item.id is not None}
    for row in existing.values():
        if row.id in listed or row.is_center:
            continue
        for i, item in enumerate(data.items):
            if item.name == row.name:
                raise InvalidInput(f"调解组织“{item.name}”已存在，请带上其编号修改", field=f"items.{i}.name")
            if item.number_prefix and item.number_prefix == row.number_prefix:
                raise InvalidInput(
                    f"文书编号前缀“{item.number_prefix}”已被{row.name}使用", field=f"items.{i}.number_prefix"
                )
    if center.id not in listed:
        for i, item in enumerate(data.items):
            if item.name == center.name:
                raise InvalidInput(f"调解组织“{item.name}”已存在，请带上其编号修改", field=f"items.{i}.name")
