"""The towns (镇街) and villages (村/社区) the center serves: a dictionary the admin keeps.

Every town a case, an expert or a user names must be one of the dictionary's, so a case typed “玉海”
is not invisible to the 玉海街道 leader and the statistics and the escalation routing do not split.
A name outside the dictionary is refused with the closest names as a suggestion; the refusal is never
a silent correction (the clerk confirms the town the parties named).

An empty dictionary (a fresh install before the admin loads one) accepts any name, so existing
installs keep working. A town listed without villages accepts any village."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, update
from sqlalchemy import select as sa_select
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, col, select

from models.case import Case
from models.db import JSONType, table_of
from models.expert import Expert
from models.lifecycle import InvalidInput
from models.schemas import Int, StrictModel
from models.user import User

MAX_NAME = 64
# Prefixes people type before a town's name (the province, the prefecture, the city itself).
REGION_PREFIXES = ("浙江省", "浙江", "温州市", "温州", "瑞安市", "瑞安")


class Town(SQLModel, table=True):
    __tablename__ = "towns"

    id: int | None = SQLField(default=None, primary_key=True)
    name: str = SQLField(max_length=MAX_NAME, unique=True)
    # The admin's order (the spreadsheet's), kept for the pick lists.
    position: int = 0
    villages: list[str] = SQLField(default_factory=list, sa_type=JSONType)


def normalise_name(value: str | None) -> str:
    """Full-width letters and digits folded, spaces dropped: “玉海 街道” and “玉海街道” are one name."""
    if value is None:
        return ""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))


def _name(value: str) -> str:
    value = normalise_name(value)
    if not value:
        raise ValueError("名称不能为空")
    if len(value) > MAX_NAME:
        raise ValueError(f"名称不超过{MAX_NAME}个字")
    return value


PlaceName = Annotated[str, AfterValidator(_name)]


# --- What the API takes and answers (CONTRACT v1.1: GET/PUT /towns) ------------------------------


class TownIn(StrictModel):
    name: PlaceName
    villages: list[PlaceName] = Field(default_factory=list, max_length=2000)

    @model_validator(mode="after")
    def _distinct_villages(self) -> TownIn:
        repeated = [v for v, n in Counter(self.villages).items() if n > 1]
        if repeated:
            raise ValueError(f"{self.name}的村（社区）“{repeated[0]}”重复")
        return self


class TownsIn(StrictModel):
    items: list[TownIn] = Field(max_length=1000)
    total: Int | None = Field(default=None, description="可省略；填写时须等于 items 的条数")

    @model_validator(mode="after")
    def _distinct_towns(self) -> TownsIn:
        repeated = [t for t, n in Counter(t.name for t in self.items).items() if n > 1]
        if repeated:
            raise ValueError(f"镇街“{repeated[0]}”重复")
        if self.total is not None and self.total != len(self.items):
            raise ValueError(f"total（{self.total}）与镇街条数（{len(self.items)}）不符")
        return self


class TownPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="镇街名称，如 玉海街道")
    villages: list[str] = Field(description="村（社区）；为空表示不限")


class TownsPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[TownPublic]
    total: int


# --- Reading the dictionary ---------------------------------------------------------------------


def town_dictionary(session: Session) -> list[Town]:
    return list(session.exec(select(Town).order_by(col(Town.position), col(Town.id))).all())


def dictionary_public(session: Session) -> dict:
    towns = town_dictionary(session)
    return {
        "items": [{"name": t.name, "villages": list(t.villages or [])} for t in towns],
        "total": len(towns),
    }


def _all_names(session: Session) -> list[str]:
    return list(session.exec(select(Town.name).order_by(col(Town.position), col(Town.id))).all())


# --- Closest names (the suggestion of a refusal) -----------------------------------------------


def _without_region(name: str) -> str:
    for prefix in REGION_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix) :]
    return name


def containing(name: str, choices: Iterable[str]) -> list[str]:
    """Dictionary names that contain what was typed, or that it contains (“玉海” ⇄ “玉海街道”,
    “瑞安市玉海街道办事处” ⇄ “玉海街道”). Two characters at least: one says too little."""
    core = _without_region(normalise_name(name))
    if len(core) < 2:
        return []
    return [c for c in choices if core in c or c in core]


def closest_names(name: str, choices: list[str], *, n: int = 3) -> list[str]:
    found = containing(name, choices)
    if found:
        return found[:n]
    core = _without_region(normalise_name(name))
    return difflib.get_close_matches(core, choices, n=n, cutoff=0.4)


def _suggestion(name: str, choices: list[str]) -> str:
    close = closest_names(name, choices)
    if not close:
        return "，请从字典中选择"
    return "，是否为" + "或".join(f"“{c}”" for c in close) + "？"


# --- The checks every action calls ---------------------------------------------------------------


def check_town(session: Session, name: str | None, *, field: str = "town") -> str:
    """The dictionary's spelling of `name`; InvalidInput (422) with the closest names when it is not
    in the dictionary. Any non-empty name while the dictionary is empty."""
    clean = normalise_name(name)
    if not clean:
        raise InvalidInput("所属镇街不能为空", field=field)
    if session.exec(select(Town.id).where(Town.name == clean)).first() is not None:
        return clean
    names = _all_names(session)
    if not names:
        return clean
    raise InvalidInput(f"所属镇街“{clean}”不在镇街字典中{_suggestion(clean, names)}", field=field)


def check_place(session: Session, town: str | None, village: str | None) -> tuple[str, str | None]:
    """A case's town and village: the town from the dictionary, the village from that town's list
    (any village when the town lists none). One query when both are right (intake is a hot path)."""
    clean_town = normalise_name(town)
    row = session.exec(select(Town).where(Town.name == clean_town)).first() if clean_town else None
    if row is None:
        clean_town = check_town(session, town)  # refuses, or accepts any town (empty dictionary)
        return clean_town, normalise_name(village) or None
    clean_village = normalise_name(village) or None
    villages = list(row.villages or [])
    if clean_village is None or not villages or clean_village in villages:
        return clean_town, clean_village
    hint = _suggestion(clean_village, villages)
    raise InvalidInput(
        f"村（社区）“{clean_village}”不在{clean_town}的村（社区）字典中{hint}", field="village"
    )


# What the expert bank's sheets write for "serves every town": kept as no towns (the panel's scoring).
ALL_TOWNS = "全市"


def check_towns(session: Session, names: Iterable[str], *, field: str = "towns") -> list[str]:
    """An expert's towns served: each from the dictionary, duplicates dropped, the order kept; 全市
    (alone or among towns) is every town, kept as none named."""
    out: dict[str, None] = {}
    for name in names:
        if normalise_name(name) == ALL_TOWNS:
            return []
        if normalise_name(name):
            out.setdefault(check_town(session, name, field=field), None)
    return list(out)


# --- Mapping stored free text onto the dictionary ------------------------------------------------


def map_name(name: str, choices: list[str]) -> str | None:
    """The one dictionary name a stored free-text town stands for, or None when there is none or
    more than one (“玉海” → “玉海街道”; “瑞安市东山街道” → “东山街道”)."""
    clean = normalise_name(name)
    if clean in choices:
        return clean
    core = _without_region(clean)
    if core in choices:
        return core
    found = containing(clean, choices)
    return found[0] if len(found) == 1 else None


@dataclass
class MappingReport:
    mapped: dict[str, str] = field(default_factory=dict)  # stored text → dictionary name
    unknown: dict[str, int] = field(default_factory=dict)  # stored text → rows left as they were
    rows: int = 0  # rows changed (cases + experts + users)

    def summary(self) -> str:
        parts = []
        if self.mapped:
            parts.append("已对应：" + "、".join(f"{old}→{new}" for old, new in self.mapped.items()))
        if self.unknown:
            parts.append(
                "字典外、未改动：" + "、".join(f"{name}（{n}处）" for name, n in self.unknown.items())
            )
        return "；".join(parts) or "已有记录的镇街均在字典中"


def map_existing_towns(session: Session) -> MappingReport:
    """Rewrite the towns stored on cases, experts and users to the dictionary's names where that is
    unambiguous; leave the others as they are and report them. No-op while the dictionary is empty.

    Plain UPDATEs, no version bump: a town's spelling is not an edit that should invalidate a form
    someone has open."""
    report = MappingReport()
    choices = _all_names(session)
    if not choices:
        return report

    def decide(stored: str, count: int) -> str | None:
        target = map_name(stored, choices)
        if target is None:
            report.unknown[stored] = report.unknown.get(stored, 0) + count
        elif target != stored:
            report.mapped[stored] = target
            return target
        return None

    for table, column in ((table_of(Case), "town"), (table_of(User), "town")):
        stored_values = session.execute(
            sa_select(table.c[column], func.count())
            .where(table.c[column].is_not(None))
            .group_by(table.c[column])
        ).all()
        for stored, count in stored_values:
            target = decide(stored, count)
            if target is not None:
                session.execute(update(table).where(table.c[column] == stored).values({column: target}))
                report.rows += count

    experts = table_of(Expert)
    for expert_id, towns in session.execute(sa_select(experts.c.id, experts.c.towns)).all():
        if not towns:
            continue
        new: dict[str, None] = {}
        for stored in towns:
            target = decide(stored, 1)
            new.setdefault(target or stored, None)
        if list(new) != list(towns):
            session.execute(update(experts).where(experts.c.id == expert_id).values(towns=list(new)))
            report.rows += 1
    return report
