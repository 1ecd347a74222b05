"""Limits and thresholds an admin may change without a release, each with its basis shown beside it.

Defaults come from `models.settings.Settings` (environment) and `models.deadlines.STAGE_LIMITS`; an admin's
value is a `SettingValue` row. Statutory periods themselves stay in code (models/clocks.py): they change
only when the law does."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from cachetools import TTLCache
from sqlmodel import Field, Session, SQLModel, Text, select

from models.audit import record
from models.db import UTCDateTime, utcnow
from models.deadlines import STAGE_DAY_DEFAULTS
from models.lifecycle import InvalidInput
from models.process_run import SettingValue
from models.settings import Settings, get_settings
from models.user import User


@dataclass(frozen=True)
class Tunable:
    key: str
    label: str
    basis: str
    minimum: int
    maximum: int


_GRADES = (("simple", "简易"), ("ordinary", "一般"), ("major", "重大"), ("special", "疑难"))
TUNABLES: dict[str, Tunable] = {
    t.key: t
    for t in [
        Tunable(
            "mass_headcount", "群体性纠纷：一方当事人人数", "本中心群体性纠纷认定标准（可调整）", 2, 1000
        ),
        Tunable(
            "mass_labor_claimants",
            "群体性纠纷：劳动争议申请人数",
            "欠薪等劳动争议群体性认定标准（可调整）",
            2,
            1000,
        ),
        Tunable(
            "related_case_window_days", "关联/重复纠纷识别期间（日）", "同一当事人重复来访识别期间", 1, 3650
        ),
        Tunable(
            "escalation_period_days",
            "督办升级周期（日）",
            "逾期后每满一个周期升级一级：中心主任→镇街领导→市领导包案",
            1,
            90,
        ),
        Tunable("stage_days_registered", "登记后作出受理决定（工作日）", "本中心受理规范", 1, 30),
        Tunable("stage_days_accepted", "受理后组建专班（工作日）", "本中心受理规范", 1, 30),
        Tunable("stage_days_agreed", "达成协议后签署协议书（工作日）", "本中心规范", 1, 30),
        Tunable(
            "close_requires_approval",
            "结案须经中心主任审批（1 是，0 否）",
            "本中心结案审批制度：设为 1 时，结案决定经中心主任审批后方可结案",
            0,
            1,
        ),
        # 以案定补: the county's amount per grade (models/subsidy.py; 深圳's four grades run 400–4,000 元).
        *(
            Tunable(
                f"subsidy_{code}",
                f"以案定补：{label}案件补贴（元/件）",
                "县司法局以案定补办法（按本县规定调整，规定原文见“以案定补规则”）",
                0,
                100_000,
            )
            for code, label in _GRADES
        ),
        Tunable(
            "review_pass_total",
            "案件评查合格分（七项满分70）",
            "司法局案卷评查标准：总分低于此分或有未整改的问题，评查不合格",
            0,
            70,
        ),
    ]
}
# Center rules that are not environment settings: their default is here.
RULE_DEFAULTS: dict[str, int] = {
    "close_requires_approval": 0,
    "subsidy_simple": 200,
    "subsidy_ordinary": 500,
    "subsidy_major": 1000,
    "subsidy_special": 3000,
    "review_pass_total": 42,
}


def default_value(key: str, settings: Settings | None = None) -> int:
    if key in STAGE_DAY_DEFAULTS:
        return STAGE_DAY_DEFAULTS[key]
    if key in RULE_DEFAULTS:
        return RULE_DEFAULTS[key]
    return int(getattr(settings or get_settings(), key))


# Read per action but changed rarely: kept for a few seconds. A change made in this process shows at
# once; one made by another web process within CACHE_SECONDS. Web threads and the relay share it.
CACHE_SECONDS = 5.0
_cache: TTLCache[str, dict[str, int]] = TTLCache(maxsize=64, ttl=CACHE_SECONDS)  # per database
_cache_lock = threading.Lock()


def current_values(session: Session) -> dict[str, int]:
    database = str(session.get_bind().engine.url)
    with _cache_lock:
        cached = _cache.get(database)
    if cached is not None:
        return cached
    rows = {r.key: r.value for r in session.exec(select(SettingValue)).all()}
    values = {key: int(rows[key]) if key in rows else default_value(key) for key in TUNABLES}
    with _cache_lock:
        _cache[database] = values
    return values


def forget_cached() -> None:
    with _cache_lock:
        _cache.clear()


def effective_settings(session: Session, values: dict[str, int] | None = None) -> Settings:
    """The environment's settings with the admin's values on top (for thresholds read per action)."""
    values = values if values is not None else current_values(session)
    return get_settings().model_copy(update={k: v for k, v in values.items() if k in Settings.model_fields})


def set_value(session: Session, *, key: str, value: int, actor: User) -> int:
    tunable = TUNABLES.get(key)
    if tunable is None:
        raise InvalidInput(f"未知的设置项：{key}", field="key")
    if not tunable.minimum <= value <= tunable.maximum:
        raise InvalidInput(f"{tunable.label}应在 {tunable.minimum}–{tunable.maximum} 之间", field="value")
    row = session.get(SettingValue, key)
    before = int(row.value) if row else default_value(key)
    if row is None:
        row = SettingValue(key=key, value=str(value))
    row.value = str(value)
    row.updated_at = utcnow()
    row.updated_by = actor.id
    session.add(row)
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="setting.update",
        entity="setting",
        entity_id=None,
        before={key: before},
        after={key: value},
    )
    forget_cached()
    return value


class CenterText(SQLModel, table=True):
    """A center rule kept as text (the county's 以案定补 rules): shown beside the figures it governs."""

    __tablename__ = "center_texts"
    key: str = Field(primary_key=True, max_length=60)
    text: str = Field(sa_type=Text)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: int | None = Field(default=None, foreign_key="users.id")


TEXTS = {"subsidy_rules": "以案定补规则（本县规定原文）"}
MAX_TEXT = 20_000


def current_text(session: Session, key: str) -> str:
    row = session.get(CenterText, key)
    return row.text if row else ""


def set_text(session: Session, *, key: str, text: str, actor: User) -> str:
    if key not in TEXTS:
        raise InvalidInput(f"未知的设置项：{key}", field="key")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"{TEXTS[key]}不超过{MAX_TEXT}字", field="text")
    row = session.get(CenterText, key) or CenterText(key=key, text="")
    before = len(row.text)
    row.text, row.updated_at, row.updated_by = text, utcnow(), actor.id
    session.add(row)
    # The text itself is the county's rules, not personal data; its length says enough in the log.
    record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="setting.text",
        entity="setting",
        entity_id=None,
        before={key: before},
        after={key: len(text)},
    )
    return text


def escalation_period(session: Session | None = None) -> timedelta:
    """How long a stage may stall before the case climbs a level: the center's setting, else the default."""
    if session is not None:
        return timedelta(days=current_values(session)["escalation_period_days"])
    return timedelta(days=get_settings().escalation_period_days)
