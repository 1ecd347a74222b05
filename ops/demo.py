"""The demo world of `tiaojie init --demo`: 瑞安市矛调中心 with its towns, an expert bank of every kind,
leaders at levels 1–3, demo users, and a dozen cases driven through the real process to different
stages (some overdue and escalated). Never for production: the passwords are printed once."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from flows import agreement, attachments, intake, panel_selection, sessions
from flows.committees import replace_committees
from flows.escalation import run_sweep
from flows.towns import replace_towns
from models.action_context import ActionContext, command_for, takes_command
from models.committee import CommitteesIn
from models.db import session_scope, utcnow
from models.expert import Expert
from models.schemas import CaseCreate
from models.town import TownsIn
from models.user import User
from models.users import create_user
from models.validation import make_id_number, make_org_code
from runtime.relay import after_commit

TOWNS = [
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
    "潘岱街道",
    "云周街道",
    "塘下镇",
    "马屿镇",
    "陶山镇",
    "湖岭镇",
    "高楼镇",
]
# 瑞安市's 街道, 镇 and 乡, with the villages and 社区 the demo's cases and elders name (the rest accept any).
TOWN_DICTIONARY: dict[str, list[str]] = {
    "安阳街道": ["万松社区"],
    "玉海街道": ["滨江社区"],
    **{town: [] for town in ("锦湖街道", "东山街道", "上望街道", "莘塍街道", "汀田街道", "飞云街道")},
    "仙降街道": ["仙降村"],
    **{town: [] for town in ("南滨街道", "潘岱街道", "云周街道")},
    "塘下镇": ["罗凤村"],
    "马屿镇": ["篁社村"],
    "陶山镇": ["沙洲村"],
    "湖岭镇": ["湖岭村"],
    "高楼镇": ["高楼村"],
    **{town: [] for town in ("曹村镇", "平阳坑镇", "芳庄乡", "北麂乡")},
}


def _experts() -> list[dict]:
    e: list[dict] = []
    # Departments stationed in the center (事权部门), by the officer stationed there: a signature row
    # carries a person's name, the organization says which department (issue 19).
    for name, org, spec in [
        ("赵立群", "瑞安市人力资源和社会保障局", ["labor"]),
        ("钱建新", "瑞安市住房和城乡建设局", ["property_mgmt", "housing_land"]),
        (
            "孙海燕",
            "瑞安市自然资源和规划局",
            ["housing_land", "land_acquisition", "forest_land"],
        ),
        ("李志刚", "瑞安市市场监督管理局", ["consumer", "contract"]),
        ("周红", "瑞安市卫生健康局", ["medical"]),
        ("吴海峰", "瑞安市公安局交通警察大队", ["traffic"]),
        ("郑丽华", "瑞安市信访局", ["land_acquisition", "village_affairs"]),
        ("王国平", "瑞安市农业农村局", ["village_affairs", "forest_land"]),
    ]:
        e.append(dict(name=name, kind="department", organization=org, specialties=spec, max_active_cases=30))
    # Town mediators (each town's 人民调解委员会).
    surnames = "王李张陈林黄吴周郑蔡徐叶杨朱潘金胡"
    for i, town in enumerate(TOWNS[:12]):
        e.append(
            dict(
                name=f"{surnames[i]}建{'国华平军明'[i % 5]}",
                kind="mediator",
                towns=[town],
                organization=f"{town}人民调解委员会",
                appointed_mediator=True,  # 人民调解法 第13条: they preside and sign as 人民调解员
                specialties=["neighbor", "marriage_family", "housing_land", "labor", "contract"][
                    i % 3 : i % 3 + 3
                ],
                max_active_cases=6,
            )
        )
    # Lawyers stationed in the center (驻中心律师) and a judge of the shared court (共享法庭).
    for _i, (name, firm, spec) in enumerate(
        [
            ("周明", "浙江瑞光律师事务所", ["labor", "contract"]),
            ("林慧", "浙江安阳律师事务所", ["marriage_family", "housing_land"]),
            ("黄志远", "浙江飞云律师事务所", ["traffic", "damages", "medical"]),
            ("潘晓", "浙江玉海律师事务所", ["contract", "consumer", "property_mgmt"]),
            ("金涛", "浙江瑞光律师事务所", ["land_acquisition", "village_affairs"]),
        ]
    ):
        e.append(dict(name=name, kind="lawyer", organization=firm, specialties=spec, max_active_cases=8))
    e.append(
        dict(
            name="吴立新",
            kind="judge",
            organization="瑞安市人民法院",
            specialties=["contract", "labor", "marriage_family", "damages"],
            max_active_cases=10,
        )
    )
    e.append(
        dict(
            name="陈卫东",
            kind="judge",
            organization="瑞安市人民法院塘下人民法庭",
            towns=["塘下镇", "莘塍街道", "汀田街道"],
            specialties=["neighbor", "housing_land", "traffic"],
            max_active_cases=10,
        )
    )
    # Local elders (乡贤) — locality matters most for them.
    for name, town, village in [
        ("陈德富", "塘下镇", "罗凤村"),
        ("林德高", "马屿镇", "篁社村"),
        ("郑光明", "陶山镇", "沙洲村"),
        ("叶长青", "湖岭镇", "湖岭村"),
        ("胡贤达", "高楼镇", "高楼村"),
        ("蔡永年", "仙降街道", "仙降村"),
    ]:
        e.append(
            dict(
                name=name,
                kind="elder",
                towns=[town],
                village=village,
                specialties=["neighbor", "housing_land", "marriage_family", "forest_land"],
                max_active_cases=4,
            )
        )
    # Brand mediation rooms and industry bodies (品牌调解室 / 行业调解组织).
    e.append(
        dict(
            name="“老娘舅”调解工作室",
            kind="industry",
            room="老娘舅调解室",
            organization="瑞安市老娘舅调解工作室",
            specialties=["marriage_family", "neighbor"],
            max_active_cases=12,
        )
    )
    e.append(
        dict(
            name="交通事故损害赔偿调解委员会",
            kind="industry",
            organization="瑞安市交通事故纠纷人民调解委员会",
            specialties=["traffic", "damages"],
            max_active_cases=15,
        )
    )
    e.append(
        dict(
            name="医患纠纷人民调解委员会",
            kind="industry",
            organization="瑞安市医疗纠纷人民调解委员会",
            specialties=["medical"],
            max_active_cases=10,
        )
    )
    e.append(
        dict(
            name="物业纠纷调解工作室",
            kind="industry",
            organization="瑞安市物业管理行业协会",
            specialties=["property_mgmt"],
            max_active_cases=10,
        )
    )
    e.append(
        dict(
            name="蔡静",
            kind="psychologist",
            organization="瑞安市心理健康指导中心",
            specialties=["marriage_family", "neighbor"],
            max_active_cases=6,
        )
    )
    e.append(
        dict(
            name="黄卫国",
            kind="police",
            organization="瑞安市公安局玉海派出所",
            specialties=["neighbor", "damages"],
            max_active_cases=10,
            towns=["玉海街道", "锦湖街道"],
        )
    )
    return e


def _person(name: str, seq: int, birth: date = date(1978, 5, 20), phone: str | None = None, **kw) -> dict:
    return {
        "role": "applicant",
        "kind": "person",
        "name": name,
        "id_number": make_id_number("330381", birth, seq),
        "phone": phone or f"1390577{seq:04d}",
        **kw,
    }


def _org(name: str, n: int, role: str = "respondent") -> dict:
    return {
        "role": role,
        "kind": "organization",
        "name": name,
        "org_code": make_org_code(f"91330381MA2{n:06d}"[:17]),
        "address": "瑞安市",
    }


def _cases() -> list[tuple[str, dict]]:
    """(target stage, intake body)."""
    names = [f"{'张李王陈林黄吴周郑'[i % 9]}{'建国明华军平强伟'[i % 8]}{i}" for i in range(17)]
    # Three elected representatives come to the sessions; each of the other fourteen is represented by
    # one of them (劳动争议调解仲裁法 第7条), so the agreement binds all seventeen (models/binding.py).
    workers = [_person(name, 300 + i, is_representative=i < 3) for i, name in enumerate(names)]
    for i, worker in enumerate(workers[3:], start=3):
        worker["represented_by"] = names[i % 3]
    return [
        (
            "follow_up",
            {
                "channel": "walk_in",
                "category": "labor",
                "town": "玉海街道",
                "village": "滨江社区",
                "summary": "17名工人反映瑞安市某建设有限公司拖欠2026年7月至10月工资共计32万元。",
                "claims": "请求支付拖欠工资320000元。",
                "amount_involved": "320000.00",
                "headcount": 17,
                "parties": [
                    *workers,
                    {
                        **_org("瑞安市某建设有限公司", 1),
                        "legal_representative": "陈志强",
                        "legal_representative_title": "总经理",
                    },
                ],
            },
        ),
        (
            "in_mediation",
            {
                "channel": "grid_report",
                "category": "neighbor",
                "town": "塘下镇",
                "village": "罗凤村",
                "summary": "两户因屋檐滴水和通道使用发生争执，多次口角。",
                "claims": "请求拆除违搭雨棚。",
                "parties": [_person("陈阿大", 401), {**_person("林小二", 402), "role": "respondent"}],
            },
        ),
        (
            "accepted",
            {
                "channel": "hotline",
                "category": "property_mgmt",
                "town": "安阳街道",
                "village": "万松社区",
                "summary": "业主反映物业公司电梯长期停运，物业费争议。",
                "claims": "请求维修电梯并减免物业费。",
                "parties": [_person("潘女士", 403), _org("瑞安市某物业服务有限公司", 2)],
            },
        ),
        (
            "registered",
            {
                "channel": "online",
                "category": "consumer",
                "town": "锦湖街道",
                "summary": "网购家具质量问题，商家拒绝退货。",
                "claims": "请求退货退款8600元。",
                "amount_involved": "8600.00",
                "parties": [_person("周先生", 404), _org("瑞安市某家居有限公司", 3)],
            },
        ),
        (
            "registered",
            {
                "channel": "police_transfer",
                "category": "damages",
                "town": "飞云街道",
                "summary": "邻居酒后殴打致轻微伤，对方扬言报复。",
                "claims": "请求赔偿医疗费误工费。",
                "parties": [_person("叶某", 405), {**_person("黄某", 406), "role": "respondent"}],
            },
        ),
        (
            "closed_failed",
            {
                "channel": "walk_in",
                "category": "contract",
                "town": "莘塍街道",
                "summary": "装修合同工期延误，双方对违约金数额争议。",
                "claims": "请求支付违约金5万元。",
                "amount_involved": "50000.00",
                "parties": [_person("郑先生", 407), _org("瑞安市某装饰工程有限公司", 4)],
            },
        ),
        (
            "closed_agreed",
            {
                "channel": "walk_in",
                "category": "traffic",
                "town": "汀田街道",
                "summary": "电动车与小客车碰撞，电动车驾驶人受伤。",
                "claims": "请求赔偿医疗费等共计4.2万元。",
                "amount_involved": "42000.00",
                "parties": [_person("金某", 408), {**_person("吴某", 409), "role": "respondent"}],
            },
        ),
        (
            "panel_formed",
            {
                "channel": "court_referral",
                "category": "contract",
                "town": "东山街道",
                "summary": "买卖合同货款纠纷，法院诉前委派调解。",
                "claims": "请求支付货款12万元。",
                "amount_involved": "120000.00",
                "referral": {"kind": "court_pre_filing", "reference": "(2026)浙0381民诉前调1234号"},
                "parties": [_org("瑞安市某机械有限公司", 5, "applicant"), _org("瑞安市某贸易有限公司", 6)],
            },
        ),
        (
            "agreed",
            {
                "channel": "walk_in",
                "category": "marriage_family",
                "town": "马屿镇",
                "summary": "离婚后子女抚养费支付争议。",
                "claims": "请求按月支付抚养费2000元。",
                "parties": [
                    _person("林女士", 410, birth=date(1988, 2, 3)),
                    {**_person("蔡先生", 411, birth=date(1986, 7, 9)), "role": "respondent"},
                ],
            },
        ),
        (
            "registered",
            {
                "channel": "petition_transfer",
                "category": "land_acquisition",
                "town": "潘岱街道",
                "summary": "村民对征地补偿款分配有异议，部分村民有集体上访意向。",
                "claims": "请求公开补偿款分配方案。",
                "headcount": 8,
                "referral": {"kind": "petition", "reference": "瑞信转〔2026〕88号"},
                "parties": [_person(f"村民{i}", 420 + i) for i in range(8)]
                + [
                    {
                        "role": "respondent",
                        "kind": "organization",
                        "name": "潘岱街道某村股份经济合作社",
                        "org_code": make_org_code("N2330381MF0000001"[:17]),
                    }
                ],
            },
        ),
        (
            "in_mediation",
            {
                "channel": "walk_in",
                "category": "medical",
                "town": "南滨街道",
                "summary": "患者术后并发症，家属对医院诊疗有异议。",
                "claims": "请求赔偿损失30万元。",
                "amount_involved": "300000.00",
                "parties": [_person("胡某某", 430), _org("瑞安市某医院", 7)],
            },
        ),
        (
            "accepted",
            {
                "channel": "grid_report",
                "category": "forest_land",
                "town": "高楼镇",
                "summary": "两村山林界址不清，林木采伐引发争议。",
                "claims": "请求确认山林界址。",
                "parties": [
                    {
                        "role": "applicant",
                        "kind": "organization",
                        "name": "高楼镇某村股份经济合作社",
                        "org_code": make_org_code("N2330381MF0000002"[:17]),
                    },
                    {
                        "role": "respondent",
                        "kind": "organization",
                        "name": "高楼镇另一村股份经济合作社",
                        "org_code": make_org_code("N2330381MF0000003"[:17]),
                    },
                ],
            },
        ),
    ]


DEMO_COMMITTEES = CommitteesIn.model_validate(
    {
        "items": [
            {
                "name": "瑞安市医疗纠纷人民调解委员会",
                "kind": "medical",
                "categories": ["medical"],
                "number_prefix": "瑞医调",
            },
            {
                "name": "瑞安市交通事故纠纷人民调解委员会",
                "kind": "traffic",
                "categories": ["traffic"],
                "number_prefix": "瑞交调",
            },
        ]
    }
)


def load_demo(engine: Engine, *, now: datetime | None = None) -> Iterator[str]:
    now = now or utcnow()
    with Session(engine) as session:
        if session.exec(select(User).where(User.username == "admin")).first():
            yield "演示数据已存在，未重复载入"
            return
    yield "载入演示数据（瑞安市社会矛盾纠纷调处化解中心）……"
    with session_scope(engine, write=True) as session:
        dictionary = TownsIn.model_validate(
            {"items": [{"name": t, "villages": v} for t, v in TOWN_DICTIONARY.items()]}
        )
        replace_towns(session=session, data=dictionary, actor=None, now=now)
        # The committees the center hosts (医疗纠纷预防和处理条例 第38、39条: the 医调委 issues a medical
        # case's documents itself, in its own series); the center's own committee takes the rest.
        replace_committees(session=session, data=DEMO_COMMITTEES, actor=None, now=now)
        experts = [Expert(**fields) for fields in _experts()]
        session.add_all(experts)
        session.flush()
        lawyer = next(x for x in experts if x.kind == "lawyer")
        # 王建国 (老王) is 玉海街道's appointed mediator: linked, the cases he presides over are his to carry.
        wang = next(x for x in experts if x.kind == "mediator" and x.towns == [TOWNS[0]])
        accounts: list[tuple[str, str, dict[str, Any], str]] = [
            ("admin", "admin", {}, "系统管理员"),
            ("clerk", "staff", {}, "陈晓"),
            ("mediator", "staff", {"expert_id": wang.id}, wang.name),
            ("lawyer", "lawyer", {"expert_id": lawyer.id}, lawyer.name),
            ("director", "leader", {"level": 1}, "郑国强"),
            ("yuhai", "leader", {"level": 2, "town": "玉海街道"}, "林海"),
            ("tangxia", "leader", {"level": 2, "town": "塘下镇"}, "叶建华"),
            ("anyang", "leader", {"level": 2, "town": "安阳街道"}, "潘文"),
            ("city", "leader", {"level": 3}, "陈志远"),
        ]
        passwords = {}
        users = {}
        for username, role, extra, display in accounts:
            password = secrets.token_urlsafe(9)
            passwords[username] = password
            users[username] = create_user(
                session=session,
                username=username,
                password=password,
                role=role,
                display_name=display,
                **extra,
            )
    yield f"专家库：{len(experts)} 名（事权部门、镇街调解员、律师、法官、乡贤、品牌调解室、心理咨询师、民警）"
    clerk = users["clerk"]
    done = 0
    for i, (target, body) in enumerate(_cases()):
        # Spread the intakes over the past weeks so ages, deadlines and escalations look real.
        start = now - timedelta(days=40 - i * 3, hours=i)
        _drive(engine, CaseCreate.model_validate(body), target, clerk, start, now)
        done += 1
    yield f"案件：{done} 件（各阶段均有，部分已超期督办）"
    escalated = run_sweep(engine, now=now)
    after_commit()
    yield f"督办扫描：升级 {len(escalated)} 次"
    yield "演示账号（仅显示一次，请妥善保存；切勿用于生产环境）："
    for username, role, _extra, display in accounts:
        yield f"  {username:10s} {passwords[username]:14s} {role:7s} {display}"


def _demo_terms(data, due: date) -> list[dict]:
    """One term per applicant (several obligees are split per person), the amount shared out to the cent."""
    payer = data.parties[-1].name
    applicants = [p.name for p in data.parties if p.role == "applicant"] or [data.parties[0].name]
    if data.amount_involved is None:
        return [
            {"obligor": payer, "obligee": name, "obligation": "按约定履行调解协议", "due_date": due}
            for name in applicants
        ]
    total = Decimal(data.amount_involved)
    share = (total / len(applicants)).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    amounts = [share] * (len(applicants) - 1) + [total - share * (len(applicants) - 1)]
    return [
        {"obligor": payer, "obligee": name, "obligation": "支付款项", "amount": amount, "due_date": due}
        for name, amount in zip(applicants, amounts, strict=True)
    ]


def _demo_id_copy() -> bytes:
    """A grey card-sized PNG standing in for a scanned ID card (the demo has no real scans)."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (428, 270), (225, 225, 225)).save(out, format="PNG")
    return out.getvalue()


def _drive(
    engine: Engine, data: CaseCreate, target: str, clerk: User, start: datetime, now: datetime
) -> None:
    """Take one case to `target` through the same functions the API calls, with a moving clock."""
    t = start
    with session_scope(engine, write=True) as s:
        case = intake.register_case(session=s, data=data, actor=clerk, now=t)
        case_id = case.id
    if target == "registered":
        return

    def step(fn, **kw):
        nonlocal t
        t = min(t + timedelta(days=1, hours=2), now - timedelta(minutes=5))
        with session_scope(engine, write=True) as s:
            from models.case import Case

            c = s.get(Case, case_id)
            assert c is not None, case_id  # registered above
            if takes_command(fn):
                return fn(command_for(fn, kw), ActionContext(s, c, clerk, t))
            return fn(session=s, case=c, actor=clerk, now=t, **kw)

    step(intake.accept_case)
    if target == "accepted":
        return
    with Session(engine) as s:
        from models.case import Case

        accepted = s.get(Case, case_id)
        assert accepted is not None, case_id  # registered by the step above
        proposal = panel_selection.panel_proposal(s, accepted)
    members = [{"expert_id": c["expert_id"], "role": c["role"]} for c in proposal["candidates"]]
    # Who comes to the sessions: each party in person, an organisation through its 法定代表人, a group
    # through the representatives it elected; and the panel.
    attendees = [
        p.legal_representative or p.name for p in data.parties if not getattr(p, "represented_by", None)
    ] + [c["name"] for c in proposal["candidates"]]
    step(panel_selection.confirm_panel, members=members)
    if target == "panel_formed":
        return
    # A group member represented at the sessions was not seen: the window files its ID copy for the 卷宗
    # (models/dossier.py, 当事人身份证明), as a center does before 结案.
    with Session(engine) as s:
        from models.party import Party

        unseen = [p.id for p in s.exec(select(Party).where(Party.case_id == case_id)) if p.represented_by]
    for party_id in unseen:
        step(
            attachments.add_attachment,
            kind="id_copy",
            filename="身份证复印件.png",
            data=_demo_id_copy(),
            party_id=party_id,
        )
    rounds = {
        "in_mediation": ["continue"],
        "agreed": ["continue", "agreed"],
        "follow_up": ["continue", "agreed"],
        "closed_agreed": ["agreed"],
        "closed_failed": ["continue", "failed"],
    }[target]
    for n, outcome in enumerate(rounds):
        when = t + timedelta(hours=2)
        ms = step(
            sessions.schedule_session, scheduled_at=when, location=f"第{n % 3 + 1}调解室", duration_minutes=90
        )
        step(
            sessions.record_session,
            session_id=ms.id,
            held_at=when,
            attendees=attendees,
            notes=f"第{n + 1}次调解：双方陈述意见，调解员释法析理。",
            outcome=outcome,
            consent_to_continue=True,
        )
    if target in ("in_mediation", "closed_failed"):
        return
    due = (now + timedelta(days=20)).date()
    step(
        agreement.issue_agreement,
        terms=_demo_terms(data, due),
        performance_method="银行转账",
        performance_place="瑞安市社会矛盾纠纷调处化解中心",
    )
    if target == "agreed":
        return
    # Signing needs the agreement document: issue it here (demo), as the agreement flow would.
    from documents.issue import issue_document
    from models.agreement import Agreement
    from models.settings import get_settings

    settings = get_settings()
    with session_scope(engine, write=True) as s:
        agr = s.exec(select(Agreement).where(Agreement.case_id == case_id)).one()
        doc = issue_document(
            s,
            case_id=case_id,
            kind="agreement",
            subject_key=f"agreement:{case_id}:1",
            data_dir=settings.data_dir,
            base_url=settings.public_base_url,
        )
        agr.document_id = doc.id
        s.add(agr)
    step(agreement.sign_agreement, signed_at=t.astimezone(UTC))
    if target == "follow_up":
        return
    step(agreement.record_follow_up, performed=True, notes="已履行完毕", term_id=None, visited_at=None)
