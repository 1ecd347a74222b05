"""Parties (当事人) and their agents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Text, event
from sqlmodel import Field, SQLModel

from models.base import version_column
from models.db import UTCDateTime
from models.party_lookup import hash_default, row_hashes

_version = version_column()


class Party(SQLModel, table=True):
    __tablename__ = "parties"
    __mapper_args__ = {"version_id_col": _version}

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    role: str = Field(max_length=16)
    kind: str = Field(max_length=16)
    name: str = Field(max_length=120, index=True)
    # Not indexed: the search finds them by their keyed hashes (models/party_lookup.py).
    id_number: str | None = Field(default=None, max_length=18)
    phone: str | None = Field(default=None, max_length=20)
    org_code: str | None = Field(default=None, max_length=18, index=True)
    address: str | None = Field(default=None, sa_type=Text)
    # An organisation acts through its 法定代表人 (with title, e.g. 总经理): models/binding.py.
    legal_representative: str | None = Field(default=None, max_length=60)
    legal_representative_title: str | None = Field(default=None, max_length=60)
    employer: str | None = Field(default=None, max_length=120, description="for conflict checks")
    agent_name: str | None = Field(default=None, max_length=60)
    # The agent's own contact and ID number: personal data, masked like the party's, never indexed.
    agent_phone: str | None = Field(default=None, max_length=20)
    agent_id_number: str | None = Field(default=None, max_length=18)
    # 特别授权: only an agent so authorised may agree to terms for the party (民诉法 第62条, which
    # 民诉解释 第351条 refers to for 司法确认); 一般授权 lets the agent attend and speak, not bind.
    agent_special_authority: bool = Field(default=False, description="委托代理人有特别授权")
    # A lawyer of the expert bank acting as this party's agent sees the case (CONTRACT: lawyer access).
    agent_expert_id: int | None = Field(default=None, foreign_key="experts.id", index=True)
    # 信访工作条例 第20条第三款 (models/law.py petition_20_3): at most 5 representatives.
    is_representative: bool = Field(default=False, description="信访代表（至多5名）")
    # The name of the group's elected representative (a party of the case with is_representative) who
    # acts for this member (劳动争议调解仲裁法 第7条; 信访工作条例 第20条第三款).
    represented_by: str | None = Field(default=None, max_length=120)
    # The party agreed to be served notices electronically (民诉法 第90条 by analogy); recorded when a
    # delivery by SMS, e-mail or the portal is first made with its consent (flows/notices.py).
    consent_electronic: bool = Field(default=False, description="同意电子送达")
    # When that consent was recorded (or withdrawn): the proof of 第90条's consent; its e-mail address is
    # where e-mail notices go (phone: `phone`).
    consent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    email: str | None = Field(default=None, max_length=200)
    version: int = Field(default=1, sa_column=_version)
    # Keyed hashes of the numbers above, set on every write, never by the caller: by the mapper event
    # below for the ORM, by the column default for a plain INSERT (intake's).
    id_number_hash: str | None = Field(
        default=None, max_length=64, index=True, sa_column_kwargs={"default": hash_default("id_number_hash")}
    )
    phone_hash: str | None = Field(
        default=None, max_length=64, index=True, sa_column_kwargs={"default": hash_default("phone_hash")}
    )


@event.listens_for(Party, "before_insert")
@event.listens_for(Party, "before_update")
def _set_lookup_hashes(_mapper: Any, _connection: Any, party: Party) -> None:
    for column, value in row_hashes(party).items():
        if getattr(party, column) != value:
            setattr(party, column, value)
