"""Issue 10, the case file a 司法所 reviewer and a court accept: the 申请书 worded to its channel with one
signature row per applicant, the referrer and reference on every document, the 督办单 as of the moment
it was raised, the 积案报表's overdue rule and note, and the layout (the seal and the QR code never alone
on a page, names never split) — read back from PDFs issued from cases in the database (pdftotext),
on SQLite and PostgreSQL. Expected words are typed from the statutes and counted dates, not copied from
the code."""

from __future__ import annotations

import copy
import io
import re

import pytest
from pypdf import PdfReader
from sqlmodel import Session, col, select

from documents.issue import issue_document
from documents.render import html_to_pdf, render_html
from flows.escalation import run_sweep
from flows.intake import accept_case
from flows.panel_selection import confirm_panel
from flows.sessions import record_session, schedule_session
from models.db import session_scope
from models.escalation import Escalation
from models.settings import get_settings
from runtime.relay import drain
from tests.documents.examples import example
from tests.factories import act, add_user, expert_bank, neighbor_case, register, wage_case
from tests.support.clock import at
from tests.support.pdf import (
    archived_documents,
    archived_path,
    archived_pdf_texts,
    compact,
    pdf_compact,
    pdf_pages,
    pdf_text,
)

CENTER = "瑞安市社会矛盾纠纷调处化解中心"  # the settings' default center name
PRE_FILING = "（2026）浙0381民诉前调1234号"
COURT_REFERRAL = {"kind": "court_pre_filing", "reference": PRE_FILING}
PETITION = {"kind": "petition", "reference": "瑞信转〔2026〕88号"}
# 17 applicants, with four-character names that a narrow column would split.
NAMES = [
    "欧阳晓明", "司马建国", "诸葛明亮", "上官婉清", "张建国", "李秀英", "王小平", "陈志强", "林海燕",
    "周文涛", "吴海波", "郑丽娟", "黄伟", "金学文", "叶红梅", "潘国华", "蔡晓东",
]  # fmt: skip


def text_of(engine, case_id: int, kind: str) -> str:
    docs = archived_documents(engine, case_id, kind)
    assert docs, kind
    return pdf_compact(archived_path(docs[-1]))


@pytest.fixture
def clerk(engine) -> int:
    return add_user(engine, "clerk", "staff", display_name="蔡受理")


# --- 申请书/受理登记表 --------------------------------------------------------------------------


def test_the_application_speaks_its_channels_own_words(engine, clerk) -> None:
    grid = register(engine, neighbor_case(), actor_id=clerk, now=at(2026, 11, 2, 9))
    walk_in = register(engine, neighbor_case(channel="walk_in"), actor_id=clerk, now=at(2026, 11, 2, 10))
    court = register(
        engine,
        neighbor_case(
            channel="court_referral", referral={"kind": "court_pre_filing", "reference": PRE_FILING}
        ),
        actor_id=clerk,
        now=at(2026, 11, 2, 11),
    )
    petition = register(
        engine,
        neighbor_case(
            channel="petition_transfer", referral={"kind": "petition", "reference": "瑞信转〔2026〕88号"}
        ),
        actor_id=clerk,
        now=at(2026, 11, 2, 12),
    )
    drain(engine)

    # A grid report is not an application: the committee mediates on its own initiative (2002 规定
    # 第23条第一款: "当事人没有申请的，也可以主动调解，但当事人表示异议的除外").
    text = text_of(engine, grid, "application")
    assert "本纠纷经网格员上报" in text and "主动调解（当事人表示异议的除外）" in text
    assert "《人民调解工作若干规定》第二十三条第一款" in text
    assert "申请人自愿申请" not in text and "调解请求" in text
    assert "纠纷发生地塘下镇罗凤村" in text

    assert "本纠纷经当事人来访申请。申请人自愿申请人民调解" in text_of(engine, walk_in, "application")

    text = text_of(engine, court, "application")
    assert f"瑞安市人民法院以{PRE_FILING}委派本委员会调解" in text and "申请人自愿申请" not in text
    text = text_of(engine, petition, "application")
    assert "信访工作机构以瑞信转〔2026〕88号转办本委员会调解" in text and "申请人自愿申请" not in text

    # Every application: free of charge (人民调解法 第4条), each from the table. The limitation period is
    # interrupted by a party's application (民法典 第195条(四)): said on the walk-in's only, not where the
    # committee took the case up itself or a court or petition office referred it (issue 19).
    interrupted = "申请人民调解之日起诉讼时效中断（《民法典》第一百九十五条第（四）项）"
    for cid in (grid, walk_in, court, petition):
        text = text_of(engine, cid, "application")
        assert "人民调解不收取任何费用（《中华人民共和国人民调解法》第四条）" in text
        assert (interrupted in text) == (cid == walk_in), cid


def test_seventeen_applicants_each_sign_and_no_name_is_split(engine, clerk) -> None:
    body = wage_case(claimants=17)
    for party, name in zip(body["parties"], NAMES, strict=False):
        party["name"] = name
    cid = register(engine, body, actor_id=clerk, now=at(2026, 11, 2, 9))
    drain(engine)
    (doc,) = archived_documents(engine, cid, "application")
    text = pdf_compact(archived_path(doc))

    # One signature row per applicant, named (the first three are the elected representatives).
    for i, name in enumerate(NAMES):
        role = "申请人（代表人）" if i < 3 else "申请人"
        assert f"{role}{name}年月日" in text, name
    assert text.count("瑞安市玉海街道滨江社区") >= 17  # each applicant's address
    assert "本纠纷经当事人来访申请。申请人自愿申请人民调解" in text
    # A labor claim: the arbitration limitation (劳动争议调解仲裁法 第27条第二款), no 诉讼时效.
    assert "仲裁时效中断" in text and "诉讼时效" not in text

    # pdftotext -layout keeps each visual line: a name wrapped inside its cell would show on no line whole.
    lines = [
        line.replace(" ", "").replace("\u3000", "")
        for line in pdf_text(archived_path(doc), layout=True).splitlines()
    ]
    for name in NAMES:
        whole = sum(line.count(name) for line in lines)
        assert whole == text.count(name) and whole >= 2, (name, whole, text.count(name))


# --- A referred case says who referred it, in every document ------------------------------------


def test_a_court_referral_is_named_on_every_document(engine, clerk) -> None:
    experts = expert_bank(engine)
    body = neighbor_case(
        channel="court_referral", referral={"kind": "court_pre_filing", "reference": PRE_FILING}
    )
    cid = register(engine, body, actor_id=clerk, now=at(2026, 11, 2, 9))
    act(engine, accept_case, cid, actor_id=clerk, now=at(2026, 11, 3, 9))
    members = [{"expert_id": experts["mediator_tangxia"], "role": "lead"}]
    act(engine, confirm_panel, cid, actor_id=clerk, now=at(2026, 11, 4, 9), members=members)
    ms = act(
        engine,
        schedule_session,
        cid,
        actor_id=clerk,
        now=at(2026, 11, 4, 10),
        scheduled_at=at(2026, 11, 5, 14),
        location="第一调解室",
        duration_minutes=60,
    )
    act(
        engine,
        record_session,
        cid,
        actor_id=clerk,
        now=at(2026, 11, 5, 16),
        session_id=ms.id,
        held_at=at(2026, 11, 5, 14),
        attendees=["陈阿大", "林小二"],
        notes="双方对雨棚拆除方案分歧较大。",
        outcome="failed",
        consent_to_continue=False,
    )
    drain(engine)
    kinds = ("application", "acceptance_notice", "respondent_notice", "session_record", "termination_notice")
    for kind in kinds:
        text = text_of(engine, cid, kind)
        assert PRE_FILING in text and "瑞安市人民法院" in text and "委派" in text, kind

    # Failed after a court's 委派: back to that court (特邀调解规定 第21条), no 行政复议, no promise to end.
    # A quotation may run over the page break: read it without the running foot and head.
    text = re.sub(r"第\d+页共\d+页瑞调〔\d+〕\d+号", "", text_of(engine, cid, "termination_notice"))
    assert "委派调解未达成调解协议的，特邀调解员应当将当事人的起诉状等材料移送人民法院" in text
    assert "《最高人民法院关于人民法院特邀调解的规定》第二十一条" in text
    assert "人民调解员调解纠纷，调解不成的，应当终止调解" in text  # 人民调解法 第26条, quoted
    assert "行政复议" not in text and "期限届满将终止调解" not in text


# --- 督办单 ---------------------------------------------------------------------------------


@pytest.fixture
def leaders(engine) -> dict[str, int]:
    return {
        "director": add_user(engine, "director", "leader", level=1, display_name="中心主任"),
        "tangxia": add_user(
            engine, "tangxia", "leader", level=2, town="塘下镇", display_name="塘下镇分管领导"
        ),
        "city": add_user(engine, "city", "leader", level=3, display_name="市领导"),
    }


def test_the_supervision_order_keeps_the_facts_of_the_day_it_was_raised(engine, clerk, leaders) -> None:
    # Registered Wed 4 Nov 2026; 3 working days (start day not counted): Thu 5, Fri 6, Mon 9 Nov.
    cid = register(engine, neighbor_case(), actor_id=clerk, now=at(2026, 11, 4, 9))
    drain(engine)
    assert [e["to_level"] for e in run_sweep(engine, now=at(2026, 11, 10, 9, 30))] == [1]
    drain(engine)
    # Accepted Wed 11 Nov: 3 working days, Thu 12, Fri 13, Mon 16 Nov. Late on Tue 17 Nov: 1 day.
    act(engine, accept_case, cid, actor_id=clerk, now=at(2026, 11, 11, 9))
    assert [e["to_level"] for e in run_sweep(engine, now=at(2026, 11, 17, 9, 30))] == [2]
    drain(engine)

    with Session(engine) as session:
        escalations = session.exec(select(Escalation).order_by(col(Escalation.id))).all()
        first_id, second_id = (e.id for e in escalations)
    first, second = archived_pdf_texts(engine, cid, "supervision_order")
    # Numbered like the center's papers: the year's sequence.
    assert "瑞调督〔2026〕00001号" in first and "瑞调督〔2026〕00002号" in second
    assert "当前阶段登记" in first and "阶段期限2026年11月9日" in first and "超期天数1日" in first
    assert "当前阶段受理" in second and "阶段期限2026年11月16日" in second and "超期天数1日" in second
    # Issued by the supervising level, under its seal, not the mediation committee's.
    assert first.startswith(CENTER) and "中心主任督办" in first
    assert second.startswith("塘下镇人民政府") and "镇街领导督办" in second
    for text in (first, second):
        assert "人民调解委员会印章" not in text and "督办单位盖章" in text

    # Issued again a month later (a corrected version): still the facts of 10 Nov, not today's stage.
    with session_scope(engine, write=True) as session:
        doc = issue_document(
            session,
            case_id=cid,
            kind="supervision_order",
            subject_key=f"escalation:{first_id}",
            data_dir=get_settings().data_dir,
            base_url="http://127.0.0.1:8000",
            new_version=True,
            as_of=at(2026, 12, 10, 9),
        )
        path = archived_path(doc)
    again = pdf_compact(path)
    assert "当前阶段登记" in again and "阶段期限2026年11月9日" in again and "超期天数1日" in again
    assert "瑞调督〔2026〕00001号" in again and "2026年11月10日" in again
    assert second_id is not None


def test_a_supervision_order_raised_before_the_deadline_is_not_overdue(engine, clerk, leaders) -> None:
    # A mass dispute is supervised from intake (Mon 2 Nov): its stage ends Thu 5 Nov, 3 days later.
    cid = register(engine, wage_case(claimants=17), actor_id=clerk, now=at(2026, 11, 2, 9))
    drain(engine)
    (doc,) = archived_documents(engine, cid, "supervision_order")
    text = pdf_compact(archived_path(doc))
    assert "阶段期限2026年11月5日" in text and "尚未超期（距期限3日）" in text
    assert "超期天数0日" not in text and "群体性纠纷" in text


# --- 积案报表 -------------------------------------------------------------------------------


def test_the_backlog_report_counts_what_its_note_says(engine, clerk) -> None:
    # Fri 30 Oct: 3 working days → Mon 2, Tue 3, Wed 4 Nov: on Thu 5 Nov one whole day late.
    late = register(engine, neighbor_case(), actor_id=clerk, now=at(2026, 10, 30, 9))
    # Mon 2 Nov: Tue 3, Wed 4, Thu 5 Nov: due on the report's own day, not overdue.
    register(engine, neighbor_case(channel="walk_in"), actor_id=clerk, now=at(2026, 11, 2, 9))
    register(engine, wage_case(claimants=17), actor_id=clerk, now=at(2026, 11, 2, 10))  # mass, 玉海街道
    drain(engine)
    with session_scope(engine, write=True) as session:
        doc = issue_document(
            session,
            case_id=None,
            kind="backlog_report",
            subject_key="backlog:case-file-test",
            data_dir=get_settings().data_dir,
            base_url="http://127.0.0.1:8000",
            as_of=at(2026, 11, 5, 10),
        )
        path = archived_path(doc)
    text = pdf_compact(path)
    layout = [" ".join(line.split()) for line in pdf_text(path, layout=True).splitlines()]

    with Session(engine) as session:
        from models.case import Case

        late_no = session.get(Case, late).case_no
    # Overdue: only the late one, 1 day; the two due today are said to be due today, not "0 days".
    oldest = [line for line in layout if line.startswith("1 瑞调")]
    assert len(oldest) == 1 and late_no in oldest[0] and oldest[0].split()[-2] == "1", oldest
    assert "另有2件案件今日到期，不计入超期" in text
    # 群体性 per town and per type: the one mass wage dispute, in 玉海街道 and 劳动争议.
    assert any(line.startswith("玉海街道 1 0 1") for line in layout), layout
    assert any(line.startswith("塘下镇 2 1 0") for line in layout), layout
    assert any(line.startswith("劳动争议 1 0 1") for line in layout), layout
    assert any(line.startswith("邻里纠纷 2 1 0") for line in layout), layout
    # The note names the deadlines it counts: the center's stage limits and the legal clocks.
    assert "本中心规定的办理时限（登记阶段3个工作日、受理阶段3个工作日、达成协议阶段5个工作日）" in text
    assert "人民调解期限依《人民调解工作若干规定》第三十三条" in text
    assert "劳动争议调解依《劳动争议调解仲裁法》第十四条第三款" in text
    assert "当日到期的案件不计入超期" in text


# --- Layout ---------------------------------------------------------------------------------

# Text that belongs to the 落款, the seal, the verification block and the page furniture.
_FURNITURE = (
    r"第\d+页共\d+页",
    r"（[^（）]*印章）",
    r"（督办单位盖章）",
    r"文书验证码：[A-Z0-9-]+",
    r"扫描二维码或登录核验页面输入验证码，可核验本文书是否由本委员会出具及其数字指纹（SHA-256）。",
    r"https?://\S+?/verify/[A-Z0-9-]+",
    r"\d{4}年\d{1,2}月\d{1,2}日",
)


def body_of_last_page(pdf: bytes, context: dict) -> str:
    """The last page's text without the seal block, the QR block and the page furniture (pdftotext)."""
    text = compact(pdf_pages(pdf)[-1])
    for name in (context["committee"]["name"], context["case_no"]):
        text = text.replace(name, "")
    for pattern in _FURNITURE:
        text = re.sub(pattern, "", text)
    return text


def _with_verification(context: dict) -> dict:
    return {**context, "verify_code": "ABCD-EFGH-JKLM-NPQR", "verify_base_url": "https://tiaojie.example.cn"}


@pytest.mark.parametrize("lines", [18, 21, 24, 27])
def test_the_seal_and_the_qr_code_never_stand_alone(lines: int) -> None:
    """A notice long enough that, without the kept-together tail, its last page held only the seal and
    the QR code (18–29 repeats of this reason push the 落款 over the page end)."""
    context = _with_verification(copy.deepcopy(example("termination_notice")))
    context["reason"] = "双方就赔偿数额分歧较大，经多次调解未能达成一致" * lines
    pdf = html_to_pdf(render_html("termination_notice", context))
    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 2
    body = body_of_last_page(pdf, context)
    assert "特此告知" in body and len(body) > len("特此告知。"), body


@pytest.mark.parametrize("terms", [12, 19])
def test_a_long_agreement_ends_with_text_beside_its_seal(terms: int) -> None:
    """19 terms: without the kept-together tail the 落款 and the QR code took the last page alone."""
    context = _with_verification(copy.deepcopy(example("agreement")))
    first = context["terms"][0]
    context["terms"] = [dict(first, obligee=NAMES[i % 17]) for i in range(terms)]
    pdf = html_to_pdf(render_html("agreement", context))
    body = body_of_last_page(pdf, context)
    assert len(body) > 20, body  # signature rows at least, never the seal and the QR code alone
