"""A realistic case table for the 1M-case benchmarks (sweep on SQLite, dashboard on PostgreSQL).

Mix (deterministic, seeded): ~94% closed (agreed / failed / withdrawn) over five years, ~1% rejected,
~5% open across the open stages. Closed and rejected cases have `stage_due_at` and
`next_escalation_at` NULL. Open cases have both set:
- `new_overdue` of them (100–1000) became due within the hour before `NOW` (mostly level 0, some at
  level 1 whose next period just started): the sweep escalates exactly these;
- ~2% of the open ones are past their stage deadline but already escalated (their next escalation is
  in the future, or they sit at level 3 with no next escalation): the raw "overdue" query finds them,
  the sweep must not touch them;
- the rest are due in the future (an hour to a month ahead).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

GENERATOR_VERSION = 5  # 4: days_to_close filled for closed cases; 5: SQLite amounts in 分 (migration 0018)
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # a Friday, 10:00 China time
PERIOD = timedelta(days=7)
CHINA_OFFSET = timedelta(hours=8)  # Asia/Shanghai, no DST since 1991
OPEN_STAGES = ("registered", "accepted", "panel_formed", "in_mediation", "agreed", "follow_up")
OPEN_WEIGHTS = (10, 15, 20, 35, 10, 10)
CATEGORIES = (
    "marriage_family",
    "neighbor",
    "housing_land",
    "contract",
    "damages",
    "labor",
    "land_acquisition",
    "medical",
    "property_mgmt",
    "traffic",
    "forest_land",
    "village_affairs",
    "consumer",
    "other",
)
CAT_WEIGHTS = (12, 18, 8, 12, 8, 14, 3, 3, 6, 8, 1, 3, 3, 1)
CHANNELS = (
    "walk_in",
    "grid_report",
    "police_transfer",
    "hotline",
    "court_referral",
    "petition_transfer",
    "online",
)
TOWNS = (
    "玉海街道",
    "锦湖街道",
    "东山街道",
    "上望街道",
    "莘塍街道",
    "汀田街道",
    "飞云街道",
    "仙降街道",
    "南滨街道",
    "安阳街道",
    "塘下镇",
    "马屿镇",
    "陶山镇",
    "湖岭镇",
    "高楼镇",
    "平阳坑镇",
    "芳庄乡",
    "北麂乡",
)
SUMMARIES = (
    "两户因屋檐滴水和通道使用发生争执，多次协商未果。",
    "工人反映公司拖欠工资，要求尽快支付。",
    "买卖合同货款结算发生分歧，双方各执一词。",
    "交通事故赔偿数额存在争议。",
    "物业费收取与服务质量纠纷。",
    "宅基地界址不清引发邻里矛盾。",
)

COLUMNS = (
    "case_no",
    "center_code",
    "case_year",
    "case_seq",
    "stage",
    "stage_seq",
    "stage_entered_at",
    "stage_due_at",
    "next_escalation_at",
    "outcome",
    "category",
    "channel",
    "town",
    "village",
    "summary",
    "claims",
    "facts",
    "amount_involved",
    "headcount",
    "is_mass",
    "risk_level",
    "risk_reasons",
    "police_reported",
    "referral_kind",
    "referral_reference",
    "clock",
    "clock_started_on",
    "clock_due_on",
    "clock_extension_days",
    "clock_paused_since",
    "clock_paused_days",
    "escalation_level",
    "rejection_reason",
    "flagged",
    "flag_reason",
    "created_by",
    "created_at",
    "updated_at",
    "accepted_at",
    "closed_at",
    "version",
    "days_to_close",
)


def china_day(moment: datetime) -> date:
    return (moment + CHINA_OFFSET).date()


def new_overdue_count(n: int) -> int:
    return max(100, min(1000, n // 2000))


def rows(n: int, *, seed: int = 20261120) -> Iterator[tuple]:
    """Row tuples in COLUMNS order with aware UTC datetimes, dates, bools and None."""
    rnd = random.Random(seed)
    n_open = min(n, max(int(n * 0.05), new_overdue_count(n) * 2))
    n_rejected = min(n // 100, n - n_open)
    n_new = new_overdue_count(n)
    n_stale = max(1, n_open // 50)
    # Which row numbers are open / rejected: spread through the table, as ids are in real life.
    open_at = set(rnd.sample(range(n), n_open))
    rest = [i for i in rnd.sample(range(n), n_open + n_rejected) if i not in open_at][:n_rejected]
    rejected_at = set(rest)
    open_seen = 0
    five_years = 5 * 365 * 86400
    choices, random_ = rnd.choices, rnd.random
    for i in range(n):
        category = choices(CATEGORIES, CAT_WEIGHTS)[0]
        headcount = 1 if random_() < 0.9 else rnd.randint(2, 20)
        is_mass = headcount >= 5
        risk = "high" if is_mass else ("medium" if random_() < 0.1 else "low")
        level = 1 if is_mass else 0
        stage_due = next_esc = closed = accepted = outcome = paused = None
        if i in open_at:
            kind = "new" if open_seen < n_new else ("stale" if open_seen < n_new + n_stale else "future")
            open_seen += 1
            stage = choices(OPEN_STAGES, OPEN_WEIGHTS)[0]
            created = NOW - timedelta(
                seconds=rnd.randint(3600, 120 * 86400), microseconds=rnd.randint(1, 999999)
            )
            if kind == "new":
                next_esc = NOW - timedelta(seconds=rnd.randint(1, 3600), microseconds=rnd.randint(0, 999999))
                back = rnd.random() < 0.2  # a case already at level 1 whose next period just started
                stage_due = next_esc - PERIOD if back else next_esc
                level = 1 if back else 0
            elif kind == "stale":
                stage_due = NOW - timedelta(seconds=rnd.randint(3600, 30 * 86400))
                k = int((NOW - stage_due) / PERIOD) + 1
                level = min(k, 3)
                next_esc = None if level >= 3 else stage_due + PERIOD * k
            else:
                stage_due = NOW + timedelta(seconds=rnd.randint(3600, 30 * 86400))
                next_esc = stage_due
                if random_() < 0.01:
                    paused = NOW - timedelta(days=rnd.randint(1, 10))
            created = min(created, stage_due - timedelta(days=1))
            entered = created + (NOW - created) * rnd.random() * 0.5
            if stage != "registered":
                accepted = created + timedelta(hours=rnd.randint(1, 48))
        else:
            created = NOW - timedelta(
                seconds=rnd.randint(86400, five_years), microseconds=rnd.randint(1, 999999)
            )
            if i in rejected_at:
                stage, outcome = "rejected", "rejected"
                closed = created + timedelta(hours=rnd.randint(1, 72))
            else:
                stage = "closed"
                r = random_()
                outcome = "agreed" if r < 0.72 else ("failed" if r < 0.9 else "withdrawn")
                accepted = created + timedelta(hours=rnd.randint(1, 48))
                closed = created + timedelta(days=rnd.randint(3, 120), seconds=rnd.randint(0, 86399))
                if random_() < 0.06:
                    level = max(level, rnd.randint(1, 3))
            closed = min(closed, NOW - timedelta(minutes=5))
            entered = closed
        year = created.year
        yield (
            f"瑞调〔{year}〕{i + 1:07d}号",
            "RA",
            year,
            i + 1,
            stage,
            rnd.randint(1, 7),
            entered,
            stage_due,
            next_esc,
            outcome,
            category,
            choices(CHANNELS)[0],
            choices(TOWNS)[0],
            None,
            SUMMARIES[i % len(SUMMARIES)],
            "请求依法调解。",
            None,
            None if random_() < 0.5 else f"{rnd.randint(1000, 500000)}.00",
            headcount,
            is_mass,
            risk,
            "[]",
            False,
            None,
            None,
            "labor" if category == "labor" else "people_mediation",
            created.date(),
            None,
            0,
            paused,
            0,
            level,
            "已经诉讼受理" if stage == "rejected" else None,
            False,
            None,
            None,
            created,
            closed or entered,
            accepted,
            closed,
            1,
            # Calendar days from intake to closing, China dates (as flows.process.apply_transition stores).
            None if closed is None else (china_day(closed) - china_day(created)).days,
        )


def sqlite_value(v):
    """SQLAlchemy's SQLite storage: naive UTC 'YYYY-MM-DD HH:MM:SS.ffffff', dates ISO, bools 0/1."""
    if isinstance(v, datetime):
        return f"{v.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}"
    if isinstance(v, bool):
        return int(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def sqlite_rows(n: int) -> Iterator[tuple]:
    conv = sqlite_value
    amount = COLUMNS.index("amount_involved")
    for row in rows(n):
        values = [conv(v) for v in row]
        if values[amount] is not None:
            values[amount] = int(Decimal(values[amount]) * 100)  # models.money.Money: INTEGER 分 on SQLite
        yield tuple(values)


def copy_line(row: tuple) -> str:
    out = []
    for v in row:
        if v is None:
            out.append("\\N")
        elif isinstance(v, bool):
            out.append("t" if v else "f")
        elif isinstance(v, datetime):
            out.append(f"{v:%Y-%m-%d %H:%M:%S.%f}+00")
        else:
            out.append(str(v))
    return "\t".join(out) + "\n"


class CopyStream:
    """A file-like reader over the generated rows for psycopg2's copy_expert (COPY ... FROM STDIN).

    Each read returns whole lines, at most `size` characters (one pending line carried over)."""

    def __init__(self, n: int) -> None:
        self._rows = rows(n)
        self._pending = ""

    def read(self, size: int = -1) -> str:
        limit = size if size and size > 0 else 1 << 62
        parts, total = [], 0
        if self._pending:
            parts.append(self._pending)
            total = len(self._pending)
            self._pending = ""
        for row in self._rows:
            line = copy_line(row)
            if total + len(line) > limit:
                self._pending = line
                break
            parts.append(line)
            total += len(line)
        return "".join(parts)

    readline = read
