"""The process rules as plain functions: transitions, risk and 群体性, panel exclusions and ranking."""

from __future__ import annotations

from decimal import Decimal

import pytest

from flows.intake import format_case_no
from flows.panel_selection import ExpertView, PartyView, conflict_reason, needs_mix, propose, score_expert
from models.deadlines import clocks_for
from models.law import ARTICLES
from models.lifecycle import Forbidden, TransitionNotAllowed, allowed_actions, check_transition
from models.risk import assess_risk, intake_escalation_level, is_mass_dispute
from models.settings import Settings


def test_transitions_follow_the_design():
    assert check_transition("registered", "accept", "staff").target == "accepted"
    assert check_transition("in_mediation", "agree").target == "agreed"
    assert set(allowed_actions("registered")) == {"accept", "reject"}
    with pytest.raises(TransitionNotAllowed, match="登记"):
        check_transition("registered", "sign")
    with pytest.raises(TransitionNotAllowed, match="结案"):
        check_transition("closed", "accept")
    with pytest.raises(Forbidden):
        check_transition("registered", "accept", "lawyer")


def test_mass_thresholds_are_settings():
    s = Settings(mass_headcount=5, mass_labor_claimants=10)
    assert is_mass_dispute(category="neighbor", headcount=5, claimants=1, settings=s)
    assert not is_mass_dispute(category="neighbor", headcount=4, claimants=4, settings=s)
    assert not is_mass_dispute(category="labor", headcount=4, claimants=4, settings=s)
    strict = Settings(mass_headcount=50, mass_labor_claimants=10)
    assert is_mass_dispute(category="labor", headcount=12, claimants=12, settings=strict)
    assert not is_mass_dispute(category="contract", headcount=12, claimants=12, settings=strict)


def test_risk_flags_violence_for_the_police():
    s = Settings()
    risk = assess_risk(
        category="neighbor",
        summary="对方扬言要持刀报复",
        claims=None,
        amount=None,
        headcount=1,
        claimants=1,
        settings=s,
    )
    assert risk.level == "critical" and risk.police_report
    assert any(ARTICLES["pml_25"].cite_short in r for r in risk.reasons)
    assert intake_escalation_level(risk) == 2
    calm = assess_risk(
        category="neighbor",
        summary="滴水纠纷",
        claims=None,
        amount=Decimal("100"),
        headcount=1,
        claimants=1,
        settings=s,
    )
    assert calm.level == "low" and intake_escalation_level(calm) == 0


def test_case_number_format():
    assert format_case_no("瑞调", 2026, 17) == "瑞调〔2026〕00017号"


def test_clock_selection():
    assert [c.code for c in clocks_for(category="labor", referral_kind=None)] == ["labor"]
    assert [c.code for c in clocks_for(category="labor", referral_kind="court_pre_filing")] == [
        "court_pre_filing"
    ]
    assert [
        c.code
        for c in clocks_for(category="contract", referral_kind="court_post_filing", summary_procedure=True)
    ] == ["court_post_filing_summary"]
    assert [c.code for c in clocks_for(category="neighbor", referral_kind="petition")] == [
        "petition_reply",
        "petition_handle",
    ]
    assert clocks_for(category="neighbor", referral_kind=None)[0].starts == "acceptance"


def _expert(i: int, **kw) -> ExpertView:
    base = dict(
        id=i,
        name=f"专家{i}",
        kind="mediator",
        organization=None,
        towns=[],
        village=None,
        specialties=[],
        max_active_cases=5,
        id_number=None,
        declared_relations=[],
        active=True,
    )
    return ExpertView(**{**base, **kw})


PARTIES = [
    PartyView(name="张三", id_number="11010519491231002X", org_code=None, employer="某建设公司"),
    PartyView(name="某建设公司", id_number=None, org_code="91350100M000100Y43", employer=None),
]


@pytest.mark.parametrize(
    ("expert", "reason"),
    [
        (_expert(1, id_number="11010519491231002X"), "本人即为当事人"),
        (_expert(2, declared_relations=[{"name": "张三", "relation": "表兄弟"}]), "表兄弟"),
        (
            _expert(3, declared_relations=[{"org_code": "91350100M000100Y43", "relation": "曾任法律顾问"}]),
            "曾任法律顾问",
        ),
        (_expert(4, organization="某建设公司"), "同一单位"),
        (_expert(5, active=False), "停用"),
        (_expert(6, max_active_cases=2, active_cases=2), "上限"),
    ],
)
def test_conflicts_exclude_with_a_reason(expert, reason):
    assert reason in conflict_reason(expert, PARTIES, set())


def test_recused_expert_is_excluded():
    assert "回避" in conflict_reason(_expert(7), PARTIES, {7})
    assert conflict_reason(_expert(8), PARTIES, set()) is None


def test_ranking_prefers_specialty_locality_free_capacity_and_record():
    local = score_expert(
        _expert(1, towns=["塘下镇"], village="罗凤村", specialties=["neighbor"]),
        category="neighbor",
        town="塘下镇",
        village="罗凤村",
    )
    far_elder = score_expert(
        _expert(2, kind="elder", towns=["马屿镇"], specialties=["neighbor"]),
        category="neighbor",
        town="塘下镇",
        village=None,
    )
    busy = score_expert(
        _expert(3, towns=["塘下镇"], specialties=["neighbor"], active_cases=4),
        category="neighbor",
        town="塘下镇",
        village=None,
    )
    proven = score_expert(
        _expert(4, towns=["塘下镇"], specialties=["neighbor"], successes=9, completed=10),
        category="neighbor",
        town="塘下镇",
        village=None,
    )
    assert local.score > far_elder.score
    assert proven.score > busy.score
    assert any("同村" in r for r in local.reasons) and any("9/10" in r for r in proven.reasons)


def test_mixed_panel_for_complex_cases():
    assert needs_mix(is_mass=True, risk_level="low", category="neighbor")
    assert not needs_mix(is_mass=False, risk_level="low", category="neighbor")
    candidates = [
        score_expert(
            _expert(i, kind=k, specialties=["labor"]), category="labor", town="玉海街道", village=None
        )
        for i, k in enumerate(["mediator", "mediator", "mediator", "lawyer", "department"], start=1)
    ]
    picked = propose(candidates, size=3, mix=True)
    kinds = [c.expert.kind for c, _ in picked]
    roles = [r for _, r in picked]
    assert "lawyer" in kinds and "department" in kinds and roles.count("lead") == 1


def test_partial_index_predicate_matches_open_stages():
    from models.case import OPEN_STAGES_SQL
    from models.lifecycle import OPEN_STAGES

    listed = {part.strip(" '") for part in OPEN_STAGES_SQL.split("(")[1].rstrip(")").split(",")}
    assert listed == {s.value for s in OPEN_STAGES}
