"""Issue 19 points 5 and 6: every document the test cases issue (the demo's and five driven here) read
back with pdftotext reads as a clerk would sign it: no doubled sentence, no "。。", no empty label, no post
where a name belongs, date blanks with room to write; the bases are the referral's (特邀调解规定 第11条)
and the government's (森林法 第22条), and no limitation sentence stands where no party applied or on a
确权 claim. Expected words typed from ../shared/law. SQLite only: the words come from the templates and
the context, whichever database held the rows (the flows' SQL runs on PostgreSQL in the tests marked
`postgres`)."""

from __future__ import annotations

import pytest

from tests.documents.test_signature import assert_every_issued_pdf_signed
from tests.documents.wording import POLICE_STATION, issue_world, read_back, wording_faults

# 特邀调解规定 第11条第一款 and 森林法 第22条第一款, as ../shared/law has them.
INVITED_11_1 = (
    "对适宜调解的纠纷，登记立案前，人民法院可以经当事人同意委派给特邀调解组织或者特邀调解员进行调解；"
    "登记立案后或者在审理过程中，可以委托给特邀调解组织或者特邀调解员进行调解。"
)
FOREST_22_1 = "单位之间发生的林木、林地所有权和使用权争议，由县级以上人民政府依法处理。"


@pytest.mark.slow
def test_every_issued_document_reads_as_a_clerk_would_sign_it(engine) -> None:
    ids = issue_world(engine)
    issued = read_back(engine)
    kinds = {d.kind for d in issued}
    # The demo and our cases issue every kind a case file holds.
    assert {
        "application",
        "acceptance_notice",
        "respondent_notice",
        "rejection_notice",
        "session_record",
        "agreement",
        "termination_notice",
        "follow_up_record",
        "supervision_order",
        "clock_notice",
        "panel_notice",
        "session_notice",
    } <= kinds, kinds
    faults = {d.label: f for d in issued if (f := wording_faults(d))}
    assert not faults, "\n".join(f"{label}: {'; '.join(f)}" for label, f in faults.items())
    # Issue 21 point 6, on the same documents: each carries the center's intact PDF signature.
    assert_every_issued_pdf_signed(engine)

    def texts(name: str, kind: str) -> list[str]:
        found = [d.text for d in issued if d.case_id == ids[name] and d.kind == kind]
        assert found, (name, kind)
        return found

    # A court's 委派: accepted on the referral, not as a party's application (2002 规定 第23条).
    (court,) = texts("court", "acceptance_notice")
    assert "《最高人民法院关于人民法院特邀调解的规定》第十一条第一款" in court and INVITED_11_1 in court
    assert "《人民调解工作若干规定》第二十三条" not in court
    assert "时效中断" not in "".join(texts("court", "application"))

    # 林权 确权 between two collectives: the government routes it; no limitation period to interrupt.
    (forest,) = texts("forest", "acceptance_notice")
    assert "《森林法》第二十二条" in forest and FOREST_22_1 in forest
    for kind in ("application", "acceptance_notice", "termination_notice"):
        assert "时效中断" not in "".join(texts("forest", kind)), kind

    # Taken up on the committee's own initiative: nobody applied, nothing was interrupted.
    (initiative,) = texts("initiative", "application")
    assert "主动调解" in initiative and "时效中断" not in initiative and "申请人自愿申请" not in initiative
    (record,) = texts("initiative", "session_record")
    # Once in 郑大海's own words, once in the summary line: never doubled after his answer.
    assert record.count("不申请回避") == 1 + record.count("均表示不申请")

    # The medical clock's pause and resume each told to the parties; an on-the-spot oral agreement says
    # 当场履行, not "于…前履行".
    assert len(texts("medical", "clock_notice")) == 2
    (oral,) = texts("oral", "session_record")
    assert "当场履行" in oral and "前履行" not in oral

    # 不予受理: the police station entered, not a generic organ.
    (rejection,) = texts("rejected", "rejection_notice")
    assert f"由已受理的公安机关依法处理：{POLICE_STATION}" in rejection
    assert "受理该案的公安机关" not in rejection
