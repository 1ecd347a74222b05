"""Risk at intake (风险评估): how likely a dispute is to escalate, from its words, size and amount, and
the escalation level a case starts at. Pure functions of the intake's data and the settings; the
intake (flows/intake.py) calls them, tests call them without a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from models.enums import Category, RiskLevel
from models.law import ARTICLES
from models.settings import Settings

# 人民调解法 第25条: a dispute that may turn into a public-order or criminal case is reported at once.
VIOLENCE_WORDS = (
    "自杀",
    "轻生",
    "跳楼",
    "跳河",
    "持刀",
    "动刀",
    "打人",
    "殴打",
    "斗殴",
    "报复",
    "杀",
    "纵火",
    "放火",
    "爆炸",
    "汽油",
    "同归于尽",
    "威胁",
    "极端",
)
GATHERING_WORDS = ("聚集", "堵路", "围堵", "拉横幅", "集体上访", "进京", "静坐", "群访")


@dataclass(frozen=True)
class RiskAssessment:
    level: RiskLevel
    reasons: list[str]
    is_mass: bool
    police_report: bool


def is_mass_dispute(*, category: str, headcount: int, claimants: int, settings: Settings) -> bool:
    """群体性纠纷: ≥ N people on one side, or a labor/wage dispute with ≥ M claimants (settings)."""
    if headcount >= settings.mass_headcount:
        return True
    return category == Category.labor and claimants >= settings.mass_labor_claimants


def assess_risk(
    *,
    category: str,
    summary: str,
    claims: str | None,
    amount: Decimal | None,
    headcount: int,
    claimants: int,
    settings: Settings,
) -> RiskAssessment:
    text = f"{summary}\n{claims or ''}"
    reasons: list[str] = []
    level = RiskLevel.low
    mass = is_mass_dispute(category=category, headcount=headcount, claimants=claimants, settings=settings)
    if mass:
        level = RiskLevel.high
        reasons.append(f"群体性纠纷（涉及{max(headcount, claimants)}人）")
    if amount is not None and amount >= Decimal(settings.high_risk_amount):
        level = max(level, RiskLevel.medium, key=_RISK_ORDER.index)
        reasons.append(f"涉案金额较大（{amount}元）")
    gathering = [w for w in GATHERING_WORDS if w in text]
    if gathering:
        level = max(level, RiskLevel.high, key=_RISK_ORDER.index)
        reasons.append(f"有聚集、上访风险（{'、'.join(gathering)}）")
    violent = [w for w in VIOLENCE_WORDS if w in text]
    police = bool(violent)
    if violent:
        level = RiskLevel.critical
        reasons.append(
            f"可能激化为治安或刑事案件（{'、'.join(violent)}），须立即报告公安机关（{ARTICLES['pml_25'].cite_short}）"
        )
    if category in (Category.land_acquisition, Category.medical) and level == RiskLevel.low:
        level = RiskLevel.medium
        reasons.append(f"{Category(category).label}类纠纷易激化")
    return RiskAssessment(level=level, reasons=reasons, is_mass=mass, police_report=police)


_RISK_ORDER = [RiskLevel.low, RiskLevel.medium, RiskLevel.high, RiskLevel.critical]


def intake_escalation_level(risk: RiskAssessment) -> int:
    """Mass or high-risk cases start at level 1; a police-risk case goes to the town leader at once."""
    if risk.level == RiskLevel.critical:
        return 2
    if risk.is_mass or risk.level == RiskLevel.high:
        return 1
    return 0
