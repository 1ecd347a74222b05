"""Test data built through the real code paths (no fakes of our own components)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.engine import Engine

from models.db import session_scope
from models.expert import Expert
from models.users import create_user
from models.validation import make_id_number, make_org_code

PASSWORD = "correct-horse-battery"


def add_user(engine: Engine, username: str, role: str, **kwargs: Any) -> int:
    with session_scope(engine, write=True) as session:
        user = create_user(session=session, username=username, password=PASSWORD, role=role, **kwargs)
        return user.id


def add_expert(engine: Engine, **fields: Any) -> int:
    defaults = {"name": "专家", "kind": "mediator", "towns": [], "specialties": [], "max_active_cases": 5}
    # As the API and migration 0010 do: the bank's 调解员 are the committee's appointed 人民调解员.
    defaults["appointed_mediator"] = fields.get("kind", "mediator") == "mediator"
    with session_scope(engine, write=True) as session:
        expert = Expert(**{**defaults, **fields})
        session.add(expert)
        session.flush()
        return expert.id


def person_id(seq: int, birth: date = date(1985, 3, 12)) -> str:
    return make_id_number("330381", birth, seq % 1000)


def org_code(n: int) -> str:
    return make_org_code(f"91330381{n:09d}"[:17])


def wage_case(claimants: int = 17, **overrides: Any) -> dict:
    """The seed-like wage-arrears dispute: workers vs a construction company."""
    applicants = [
        {
            "role": "applicant",
            "kind": "person",
            "name": f"工人{i:02d}",
            "id_number": person_id(100 + i),
            "phone": f"1380577{i:04d}",
            "address": "瑞安市玉海街道滨江社区",
            "is_representative": i < 3,
        }
        for i in range(claimants)
    ]
    body = {
        "channel": "walk_in",
        "category": "labor",
        "town": "玉海街道",
        "village": "滨江社区",
        "summary": "17名工人反映瑞安市某建设有限公司拖欠2026年7月至10月工资共计32万元。",
        "claims": "请求支付拖欠工资320000元。",
        "amount_involved": "320000.00",
        "headcount": claimants,
        "parties": [
            *applicants,
            {
                "role": "respondent",
                "kind": "organization",
                "name": "瑞安市某建设有限公司",
                "org_code": org_code(1),
                "address": "瑞安市安阳街道",
            },
        ],
    }
    body.update(overrides)
    return body


def neighbor_case(**overrides: Any) -> dict:
    body = {
        "channel": "grid_report",
        "category": "neighbor",
        "town": "塘下镇",
        "village": "罗凤村",
        "summary": "两户因屋檐滴水和通道使用发生争执。",
        "claims": "请求对方拆除搭建的雨棚。",
        "parties": [
            {
                "role": "applicant",
                "kind": "person",
                "name": "陈阿大",
                "id_number": person_id(201),
                "phone": "13905771234",
            },
            {
                "role": "respondent",
                "kind": "person",
                "name": "林小二",
                "id_number": person_id(202),
                "phone": "13905775678",
            },
        ],
    }
    body.update(overrides)
    return body


def medical_case(**overrides: Any) -> dict:
    """A 医疗纠纷 in 塘下镇罗凤村: a patient's family against 瑞安市某医院, 80,000 claimed."""
    patient = {"role": "applicant", "kind": "person", "name": "吴海燕", "id_number": person_id(401)}
    hospital = {
        "role": "respondent",
        "kind": "organization",
        "name": "瑞安市某医院",
        "address": "瑞安市安阳街道",
    }
    return (
        neighbor_case(
            channel="walk_in",
            category="medical",
            summary="患者术后出现并发症，家属认为医院存在过错，要求赔偿。",
            claims="请求医院赔偿医疗费、误工费等共计80000元。",
            amount_involved="80000.00",
            parties=[{**patient, "phone": "13905770000"}, hospital],
        )
        | overrides
    )


def expert_bank(engine: Engine) -> dict[str, int]:
    """A small but complete bank: every kind the panel rules care about."""
    return {
        "mediator_yuhai": add_expert(
            engine,
            name="王调解",
            kind="mediator",
            towns=["玉海街道"],
            specialties=["labor", "neighbor"],
            max_active_cases=5,
        ),
        "mediator_tangxia": add_expert(
            engine, name="李调解", kind="mediator", towns=["塘下镇"], specialties=["neighbor", "housing_land"]
        ),
        "elder_tangxia": add_expert(
            engine, name="陈乡贤", kind="elder", towns=["塘下镇"], village="罗凤村", specialties=["neighbor"]
        ),
        "lawyer": add_expert(
            engine,
            name="周律师",
            kind="lawyer",
            organization="浙江某律师事务所",
            specialties=["labor", "contract"],
            max_active_cases=8,
        ),
        "judge": add_expert(
            engine,
            name="吴法官",
            kind="judge",
            organization="瑞安市人民法院",
            specialties=["contract", "labor"],
        ),
        "department": add_expert(
            engine,
            name="人社局劳动监察大队",
            kind="department",
            organization="瑞安市人力资源和社会保障局",
            specialties=["labor"],
            max_active_cases=20,
        ),
        "conflicted": add_expert(
            engine,
            name="郑某",
            kind="mediator",
            towns=["玉海街道"],
            specialties=["labor"],
            organization="瑞安市某建设有限公司",
        ),
    }


def register(engine: Engine, body: dict, *, actor_id: int, now) -> int:
    """Intake through the domain function with an explicit clock."""
    from flows.intake import register_case
    from models.schemas import CaseCreate
    from models.user import User

    with session_scope(engine, write=True) as session:
        case = register_case(
            session=session, data=CaseCreate.model_validate(body), actor=session.get(User, actor_id), now=now
        )
        return case.id


def act(engine: Engine, fn, case_id: int, *, actor_id: int, now, **kwargs: Any):
    """Run one domain action on a case in its own transaction, as the API does. An action that takes
    a command gets it built from the keyword arguments (an agreement's `data=` is its command's body)."""
    from models.action_context import ActionContext, command_for, takes_command
    from models.case import Case
    from models.user import User

    with session_scope(engine, write=True) as session:
        case, actor = session.get(Case, case_id), session.get(User, actor_id)
        if takes_command(fn):
            fields = kwargs.pop("data") if set(kwargs) == {"data"} else kwargs
            return fn(command_for(fn, fields), ActionContext(session, case, actor, now))
        return fn(session=session, case=case, actor=actor, now=now, **kwargs)


def load_case(engine: Engine, case_id: int):
    from sqlmodel import Session

    from models.case import Case

    with Session(engine) as session:
        return session.get(Case, case_id)


def png_bytes(width: int = 40, height: int = 30, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real PNG (Pillow), e.g. the scan of an ID card."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def supply_identity(engine: Engine, case_id: int, *, actor_id: int) -> int:
    """Upload an ID copy (a PNG) for every party whose identity the 卷宗 does not prove yet, through the
    real action, as the window clerk does before 结案 (models/dossier.py); returns how many."""
    from sqlmodel import Session

    from flows.attachments import add_attachment
    from models.case import Case
    from models.db import utcnow
    from models.dossier import load_case_file, unproven_parties

    with Session(engine) as session:
        lacking = [p.id for p in unproven_parties(load_case_file(session, session.get(Case, case_id)))]
    for party_id in lacking:
        act(
            engine,
            add_attachment,
            case_id,
            actor_id=actor_id,
            now=utcnow(),
            kind="id_copy",
            filename="身份证.png",
            data=png_bytes(),
            party_id=party_id,
        )
    return len(lacking)


def wait_for_case_runs(engine: Engine, case_id: int, timeout: float = 240) -> None:
    """Until every flow run of the case is completed (a live server's relay issues its documents): the
    卷宗 a 结案 needs holds them (models/dossier.py)."""
    import time as _time

    from sqlmodel import Session, col, func, select

    from models.process_run import ProcessRun

    deadline = _time.monotonic() + timeout
    while True:
        with Session(engine) as session:
            pending = session.exec(
                select(func.count()).where(
                    col(ProcessRun.case_id) == case_id, col(ProcessRun.status) != "completed"
                )
            ).one()
        if not pending:
            return
        assert _time.monotonic() < deadline, f"{pending} flow runs of case {case_id} still pending"
        _time.sleep(0.5)
