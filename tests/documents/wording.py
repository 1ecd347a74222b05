"""Issue 19 point 6: the words a clerk would correct, checked over every document the test cases issue.

`issue_world(engine)` drives the demo (its 19 cases through the real actions) and five cases of its own
(a 林权 确权 claim between two village collectives that fails, a court 委派 case, a case taken up on the
committee's own initiative, a 不予受理 whose reason names the police station, an oral agreement paid on
the spot), drains the flows, and returns every archived PDF read back with pdftotext.
`wording_faults(text)` lists what a clerk would correct by hand in one document's text.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from flows.deadlines import pause_clock, resume_clock
from flows.intake import accept_case, reject_case
from flows.panel_selection import confirm_panel
from flows.sessions import record_session, schedule_session
from models.document import Document
from models.settings import get_settings
from ops.demo import load_demo
from runtime.relay import drain
from tests.factories import act, add_user, expert_bank, org_code, person_id, register
from tests.support.clock import at
from tests.support.pdf import pdf_text

POLICE_STATION = "瑞安市公安局飞云派出所"
VILLAGES = ("罗凤村股份经济合作社", "沙洲村股份经济合作社")
PRE_FILING = "（2026）浙0381民诉前调88号"

# Post words that are not a person's name (typed here, not imported: the test must not share the rule
# it checks). A signature row carries a name; "专职调解员 老王", "窗口受理员 小陈", "周明律师" do not.
POSTS = (
    *("调解员", "受理员", "律师", "领导", "主任", "管理员"),
    *("工作人员", "窗口", "法官", "民警", "乡贤", "老伯"),
)
# The labels after which a person's name stands, and how far the name may run.
NAME_LABELS = (
    *("调解主持人（人民调解员）", "记录人", "登记人", "回访人"),
    *("承办人", "联系人：", "督办责任人", "签收人"),
)
# Page furniture: "第 1 页 共 3 页" and the running case number heading the next page.
FURNITURE = re.compile(r"第\d+页共\d+页(瑞调〔\d{4}〕\d+号)?")


@dataclass
class Issued:
    case_id: int | None
    kind: str
    path: Path
    layout: str  # pdftotext -layout, lines kept
    text: str  # whitespace and page furniture removed

    @property
    def label(self) -> str:
        return f"{self.kind} of case {self.case_id} ({self.path.name})"


def read_back(engine) -> list[Issued]:
    with Session(engine) as session:
        docs = session.exec(select(Document).order_by(col(Document.id))).all()
    out = []
    for doc in docs:
        path = Path(get_settings().data_dir) / doc.path
        layout = pdf_text(path, layout=True)
        out.append(Issued(doc.case_id, doc.kind, path, layout, FURNITURE.sub("", "".join(layout.split()))))
    return out


# --- the checks ----------------------------------------------------------------------------------

_CLAUSES = re.compile(r"[。；，：:;,\n]")
# A label with nothing after it: "：" then a closing mark, the end, or straight into the next label.
# "（" opens a list item "（一）" or a reference "（2026）…": only a bracketed remark after a label is empty.
_EMPTY_LABEL = re.compile(r"：(?=[。；，）]|（(?![一二三四五六七八九十\d])|$|联系电话|地址|日期|理由|签名)")
# A blank date line with no room to write: "年月日" with at most one space between its parts.
_CRAMMED_DATE = re.compile(r"(?<![0-9〇一二三四五六七八九十])\s?年\s?月\s?日")


def wording_faults(doc: Issued) -> list[str]:
    faults = []
    text = doc.text
    if "。。" in text:
        faults.append(f"“。。”: …{text[max(0, text.index('。。') - 20) : text.index('。。') + 2]}")
    clauses = [c for c in _CLAUSES.split(text) if c]
    for first, second in itertools.pairwise(clauses):
        if first == second and len(first) >= 4:
            faults.append(f"doubled: “{first}” twice")
    for match in _EMPTY_LABEL.finditer(text):
        faults.append(f"empty label: …{text[max(0, match.start() - 12) : match.end() + 6]}")
    for line in doc.layout.splitlines():
        if _CRAMMED_DATE.search(line):
            faults.append(f"no room to write the date: “{line.strip()}”")
    for label in NAME_LABELS:
        for match in re.finditer(re.escape(label), text):
            name = text[match.end() : match.end() + 10]
            if post := next((p for p in POSTS if p in name), None):
                faults.append(f"a post where a name belongs: {label}{name}… ({post})")
    # Words standing in for what was not recorded (the next cell, 回访人, follows an empty method).
    generic = (r"由已受理的公安机关依法处理：受理该案的公安机关", r"回访方式回访(?!人)", r"被回访人当事人")
    for wrong in generic:
        if re.search(wrong, text):
            faults.append(f"generic words: {wrong}")
    return faults


# --- the cases ------------------------------------------------------------------------------------


def _person(role: str, name: str, seq: int) -> dict:
    return {"role": role, "kind": "person", "name": name, "id_number": person_id(seq), "phone": "13905770000"}


def _village(role: str, name: str, n: int) -> dict:
    return {
        "role": role,
        "kind": "organization",
        "name": name,
        "org_code": org_code(n),
        "legal_representative": "村民委员会主任",
        "address": "瑞安市塘下镇",
    }


def _held(
    engine,
    clerk: int,
    recorder: int,
    cid: int,
    on: datetime,
    outcome: str,
    who: list[str],
    **kw,
) -> int:
    ms = act(
        engine,
        schedule_session,
        cid,
        actor_id=clerk,
        now=on.replace(hour=8),
        scheduled_at=on,
        location="第一调解室",
        duration_minutes=90,
    )
    act(
        engine,
        record_session,
        cid,
        actor_id=recorder,
        now=on.replace(hour=17),
        session_id=ms.id,
        held_at=on,
        attendees=who,
        notes=kw.pop("notes", "双方陈述意见。"),
        outcome=outcome,
        consent_to_continue=False,
        **kw,
    )
    return ms.id


def issue_world(engine) -> dict[str, int]:
    """The demo and seven cases of our own, every document issued; returns our cases' ids by name."""
    for _line in load_demo(engine, now=at(2026, 11, 30, 9)):
        pass
    experts = expert_bank(engine)
    clerk = add_user(engine, "clerk2", "staff", display_name="蔡文静")
    recorder = add_user(engine, "recorder2", "staff", display_name="叶青")
    panel = [
        {"expert_id": experts["mediator_tangxia"], "role": "lead"},
        {"expert_id": experts["elder_tangxia"], "role": "member"},
    ]
    ids: dict[str, int] = {}

    # 林权 确权 between two village collectives (森林法 第22条第一款), failed.
    forest = {
        "channel": "walk_in",
        "category": "forest_land",
        "town": "塘下镇",
        "village": "罗凤村",
        "summary": "两村对交界处一片杉木林的林木所有权和林地使用权各执一词。",
        "claims": "请求确认该片林木、林地归罗凤村股份经济合作社所有。",
        "parties": [_village("applicant", VILLAGES[0], 41), _village("respondent", VILLAGES[1], 42)],
    }
    ids["forest"] = register(engine, forest, actor_id=clerk, now=at(2026, 12, 1, 9))
    act(engine, accept_case, ids["forest"], actor_id=clerk, now=at(2026, 12, 1, 10))
    act(engine, confirm_panel, ids["forest"], actor_id=clerk, now=at(2026, 12, 1, 11), members=panel)
    _held(
        engine,
        clerk,
        recorder,
        ids["forest"],
        at(2026, 12, 2, 14),
        "failed",
        list(VILLAGES),
        notes="两村均不让步。",
    )

    # A court's 委派 (before filing): accepted on the referral with the parties' consent.
    court = {
        "channel": "court_referral",
        "category": "contract",
        "town": "塘下镇",
        "summary": "买卖合同货款纠纷，人民法院立案前委派调解。",
        "claims": "请求支付货款12000元。",
        "referral": {"kind": "court_pre_filing", "reference": PRE_FILING},
        "parties": [_person("applicant", "陈立春", 501), _person("respondent", "林秋生", 502)],
    }
    ids["court"] = register(engine, court, actor_id=clerk, now=at(2026, 12, 1, 9))
    act(engine, accept_case, ids["court"], actor_id=clerk, now=at(2026, 12, 1, 10))

    # A grid report: the committee mediates on its own initiative; nobody applied.
    ids["initiative"] = register(
        engine,
        {
            "channel": "grid_report",
            "category": "neighbor",
            "town": "塘下镇",
            "village": "罗凤村",
            "summary": "两户因通道使用发生争执，网格员上报。",
            "claims": "",
            "parties": [_person("applicant", "郑大海", 511), _person("respondent", "周小河", 512)],
        },
        actor_id=clerk,
        now=at(2026, 12, 1, 9),
    )
    act(engine, accept_case, ids["initiative"], actor_id=clerk, now=at(2026, 12, 1, 10))
    act(engine, confirm_panel, ids["initiative"], actor_id=clerk, now=at(2026, 12, 1, 11), members=panel)
    _held(
        engine,
        clerk,
        recorder,
        ids["initiative"],
        at(2026, 12, 3, 9),
        "withdrawn",
        ["郑大海", "周小河"],
        notes="双方自行和解。",
        rights_told=True,
        party_answers=[
            {"party": "郑大海", "answer": "已清楚，不申请回避。", "recusal": False},
            {"party": "周小河", "answer": "已清楚。", "recusal": False},
        ],
    )

    # 不予受理: the police station named in the reason.
    ids["rejected"] = register(
        engine,
        {
            "channel": "walk_in",
            "category": "damages",
            "town": "飞云街道",
            "summary": "双方斗殴致伤，已报警。",
            "claims": "请求赔偿医药费。",
            "parties": [_person("applicant", "孙阿三", 521), _person("respondent", "钱阿四", 522)],
        },
        actor_id=clerk,
        now=at(2026, 12, 1, 9),
    )
    act(
        engine,
        reject_case,
        ids["rejected"],
        actor_id=clerk,
        now=at(2026, 12, 1, 10),
        reason=f"该纠纷已由{POLICE_STATION}受理。",
        reason_code="police_accepted",
    )
    # A 医疗纠纷 with an appraisal: the clock paused and resumed (its two notices), then an agreement.
    ids["medical"] = register(
        engine,
        {
            "channel": "walk_in",
            "category": "medical",
            "town": "塘下镇",
            "summary": "患者术后出现并发症，家属认为医院存在过错，要求赔偿。",
            "claims": "请求医院赔偿医疗费等共计50000元。",
            "parties": [
                _person("applicant", "吴海燕", 531),
                {
                    "role": "respondent",
                    "kind": "organization",
                    "name": "瑞安市某医院",
                    "org_code": org_code(53),
                    "legal_representative": "林志远",
                    "legal_representative_title": "院长",
                    "address": "瑞安市安阳街道",
                },
            ],
        },
        actor_id=clerk,
        now=at(2026, 12, 1, 9),
    )
    act(engine, accept_case, ids["medical"], actor_id=clerk, now=at(2026, 12, 1, 10))
    act(engine, confirm_panel, ids["medical"], actor_id=clerk, now=at(2026, 12, 1, 11), members=panel)
    act(engine, pause_clock, ids["medical"], actor_id=clerk, now=at(2026, 12, 2, 9), note="委托医疗损害鉴定")
    act(engine, resume_clock, ids["medical"], actor_id=clerk, now=at(2026, 12, 4, 9), note="鉴定意见已送达")
    _held(engine, clerk, recorder, ids["medical"], at(2026, 12, 4, 14), "continue", ["吴海燕", "林志远"])

    # An oral agreement performed on the spot (人民调解法 第28条).
    ids["oral"] = register(
        engine,
        {
            "channel": "walk_in",
            "category": "neighbor",
            "town": "塘下镇",
            "village": "罗凤村",
            "summary": "门口地面被损坏，双方争执。",
            "claims": "请求赔偿修复费用800元。",
            "parties": [_person("applicant", "陈春华", 541), _person("respondent", "林冬生", 542)],
        },
        actor_id=clerk,
        now=at(2026, 12, 1, 9),
    )
    act(engine, accept_case, ids["oral"], actor_id=clerk, now=at(2026, 12, 1, 10))
    act(engine, confirm_panel, ids["oral"], actor_id=clerk, now=at(2026, 12, 1, 11), members=panel)
    _held(
        engine,
        clerk,
        recorder,
        ids["oral"],
        at(2026, 12, 3, 15),
        "agreed",
        ["陈春华", "林冬生"],
        notes="双方同意以口头协议了结。",
        rights_told=True,
        party_answers=[
            {"party": "陈春华", "answer": "清楚，无异议。", "recusal": False},
            {"party": "林冬生", "answer": "清楚，无异议。", "recusal": False},
        ],
        oral_agreement={
            "terms": [
                {
                    "obligor": "林冬生",
                    "obligee": "陈春华",
                    "obligation": "赔偿门口地面修复费用",
                    "amount": "800.00",
                }
            ],
            "consents": [
                {"party": "陈春华", "agrees": True, "words": "同意，不需要写协议书"},
                {"party": "林冬生", "agrees": True, "words": "同意"},
            ],
            "performance": "on_the_spot",
            "performance_note": "林冬生当场支付800元，陈春华当场收讫",
        },
    )
    drain(engine)
    return ids
