"""Example context dicts, one per document kind (demo world: 瑞安市). Used by tests and bench/.

All people, companies, numbers and addresses are invented. ID numbers and unified social credit codes
carry valid check digits (GB 11643, GB 32100) so validators downstream accept them.
`example(kind)` returns a fresh deep copy each call, so callers may mutate it.
"""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

from models.agreement import agreement_notices
from models.law import citation
from tests.support.clock import at

VERIFY_BASE_URL = "https://tiaojie.ruian.example"


def _id_number(body17: str) -> str:
    """Append the GB 11643 check digit."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(body17, weights, strict=True))
    return body17 + "10X98765432"[total % 11]


def _credit_code(region: str, org8: str) -> str:
    """A 统一社会信用代码 '91' + region + org code (GB 11714 check) + GB 32100 check."""
    values = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
    org_check = 11 - sum(values[c] * w for c, w in zip(org8, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    org9 = org8 + {10: "X", 11: "0"}.get(org_check, str(org_check))
    body = "91" + region + org9
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    weights = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
    check = (31 - sum(alphabet.index(c) * w for c, w in zip(body, weights, strict=True)) % 31) % 31
    return body + alphabet[check]


COMMITTEE: dict[str, Any] = {
    "name": "瑞安市矛盾纠纷调处化解中心人民调解委员会",
    "center": "瑞安市社会矛盾纠纷调处化解中心",
    "address": "瑞安市安阳街道万松东路168号",
    "phone": "0577-65800000",
    "town": "安阳街道",
}

CASE_NO = "瑞调〔2026〕00017号"
SUBJECT = "张建国等17人与瑞安市鼎泰建设工程有限公司追索劳动报酬纠纷"

# 17 workers of the 罗凤小学扩建工程 site: (name, gender, birth date, home address, phone).
_WORKERS = [
    ("张建国", "男", "1975-03-12", "贵州省毕节市七星关区朱昌镇双堰村", "13857700101", "52250119750312"),
    ("李德明", "男", "1979-07-08", "四川省广安市岳池县坪滩镇石垭村", "13857700102", "51162119790708"),
    ("王春花", "女", "1983-02-21", "贵州省毕节市七星关区朱昌镇双堰村", "13857700103", "52250119830221"),
    ("刘永福", "男", "1968-11-30", "瑞安市塘下镇罗凤街道中街村", "13857700104", "33038119681130"),
    ("陈小军", "男", "1990-05-16", "江西省上饶市鄱阳县饶丰镇", "13857700105", "36112819900516"),
    ("杨光荣", "男", "1972-09-03", "贵州省遵义市桐梓县娄山关街道", "13857700106", "52032219720903"),
    ("黄德胜", "男", "1981-01-27", "四川省南充市仪陇县金城镇", "13857700107", "51132419810127"),
    ("周秀英", "女", "1976-06-19", "安徽省六安市霍邱县城关镇", "13857700108", "34152219760619"),
    ("吴志强", "男", "1987-12-05", "瑞安市马屿镇篁社村", "13857700109", "33038119871205"),
    ("徐大勇", "男", "1970-04-22", "河南省信阳市固始县陈集镇", "13857700110", "41152519700422"),
    ("孙明亮", "男", "1985-08-14", "湖南省邵阳市隆回县桃洪镇", "13857700111", "43052419850814"),
    ("胡文斌", "男", "1993-10-09", "江西省上饶市鄱阳县饶丰镇", "13857700112", "36112819931009"),
    ("朱国庆", "男", "1969-10-01", "安徽省阜阳市临泉县城关街道", "13857700113", "34122119691001"),
    ("高红梅", "女", "1980-03-08", "四川省广安市岳池县坪滩镇石垭村", "13857700114", "51162119800308"),
    ("林海波", "男", "1978-05-25", "瑞安市飞云街道孙桥村", "13857700115", "33038119780525"),
    ("何永平", "男", "1974-02-17", "贵州省遵义市桐梓县娄山关街道", "13857700116", "52032219740217"),
    ("郭长生", "男", "1966-12-28", "河南省信阳市固始县陈集镇", "13857700117", "41152519661228"),
]


def _workers() -> list[dict[str, Any]]:
    workers = []
    for index, (name, gender, birth, address, phone, id_prefix) in enumerate(_WORKERS):
        sequence = f"{31 + index * 2:03d}" if gender == "男" else f"{30 + index * 2:03d}"
        workers.append(
            {
                "role": "applicant",
                "kind": "person",
                "name": name,
                "gender": gender,
                "birth_date": birth,
                "ethnicity": "汉族",
                "id_number": _id_number(id_prefix + sequence),
                "address": address,
                "phone": phone,
            }
        )
    workers[0]["agents"] = [
        {
            "name": "郑晓雯",
            "kind_label": "委托代理人",
            "work_unit": "瑞安市法律援助中心援助律师",
            "authority": "特别授权",
            "phone": "13957700201",
        }
    ]
    return workers


COMPANY: dict[str, Any] = {
    "role": "respondent",
    "kind": "organization",
    "name": "瑞安市鼎泰建设工程有限公司",
    "org_code": _credit_code("330381", "MA2HK7Q3"),
    "legal_rep": "陈立华",
    "legal_rep_position": "执行董事兼总经理",
    "address": "浙江省瑞安市安阳街道安康路88号鼎泰大厦5楼",
    "phone": "0577-65812345",
    "agents": [
        {
            "name": "林晓东",
            "kind_label": "委托代理人",
            "work_unit": "浙江瑞阳律师事务所律师",
            "authority": "特别授权",
            "phone": "13806600301",
        }
    ],
}

GENERAL_CONTRACTOR: dict[str, Any] = {
    "role": "third_party",
    "kind": "organization",
    "name": "瑞安市安阳城市建设发展有限公司",
    "org_code": _credit_code("330381", "MA2AB9C1"),
    "legal_rep": "潘志远",
    "legal_rep_position": "董事长",
    "address": "浙江省瑞安市安阳街道罗阳大道1200号",
    "phone": "0577-65822222",
}

PANEL = [
    {
        "name": "金学文",
        "role_label": "调解主持人",
        "kind_label": "人民调解员",
        "organization": "瑞安市矛调中心劳动争议调解室",
    },
    {"name": "郑晓雯", "role_label": "法律顾问", "kind_label": "律师", "organization": "瑞安市法律援助中心"},
    {
        "name": "叶成林",
        "role_label": "调解员",
        "kind_label": "事权部门",
        "organization": "瑞安市人力资源和社会保障局劳动保障监察大队",
    },
]


def _application() -> dict[str, Any]:
    return {
        "case_no": CASE_NO,
        "committee": COMMITTEE,
        "issued_on": "2026-11-03",
        "received_at": at(2026, 11, 2, 9, 36),
        "channel_label": "来访",
        "category_label": "劳动争议",
        "town": "塘下镇",
        "village": "罗凤街道中街村",
        "parties": [*_workers(), COMPANY, GENERAL_CONTRACTOR],
        "summary": (
            "2026年3月至9月，申请人张建国等17人在被申请人瑞安市鼎泰建设工程有限公司承建的瑞安市塘下镇"
            "罗凤小学扩建工程项目从事钢筋、木工、泥水等劳务作业。工程主体于2026年9月完工，被申请人以"
            "工程款尚未结算为由，拖欠申请人工资共计人民币320,000元。\n"
            "申请人多次向项目部讨要未果，于2026年10月30日聚集至项目部门口，经塘下镇综治中心劝导后来中心申请调解。"
        ),
        "claims": (
            "请求被申请人支付拖欠的工资共计人民币320,000元；请求第三人作为施工总承包单位承担先行清偿责任。"
        ),
        "amount_involved": Decimal("320000.00"),
        "headcount": 17,
        "is_mass": True,
        "risk_label": "较高（群体性讨薪）",
        "registrar": "蔡佳怡",
        "acceptance_opinion": (
            "符合受理条件，建议受理。涉及农民工17人，属群体性劳动争议，纳入中心主任督办，"
            "由劳动争议调解室牵头组建专班。"
        ),
    }


def _acceptance_notice() -> dict[str, Any]:
    return {
        "case_no": CASE_NO,
        "committee": COMMITTEE,
        "doc_no": "瑞调受〔2026〕00017号",
        "issued_on": "2026-11-03",
        "addressees": ["张建国等17人", "瑞安市鼎泰建设工程有限公司", "瑞安市安阳城市建设发展有限公司"],
        "received_on": "2026-11-02",
        "accepted_on": "2026-11-03",
        "category_label": "劳动争议",
        "subject": SUBJECT,
        "panel": PANEL,
        "clock_label": "十五日",
        "clock_basis": "《中华人民共和国劳动争议调解仲裁法》第十四条",
        "due_on": "2026-11-17",
        "contact_name": "蔡佳怡",
        "contact_phone": "0577-65800017",
        "acceptance_cite": citation("rules2002_23").cite_short,
        "acceptance_words": citation("rules2002_23").text,
        "rights": [
            {"cite": a.cite_short, "words": list(a.paragraphs)}
            for a in (citation("pml_23"), citation("pml_24"))
        ],
    }


def _respondent_notice() -> dict[str, Any]:
    consent = citation("pml_17")
    return {
        "case_no": CASE_NO,
        "committee": COMMITTEE,
        "issued_on": "2026-11-03",
        "addressees": ["瑞安市鼎泰建设工程有限公司", "瑞安市安阳城市建设发展有限公司"],
        "applicants": ["张建国等17人"],
        "received_on": "2026-11-02",
        "accepted_on": "2026-11-03",
        "category_label": "劳动争议",
        "subject": SUBJECT,
        "claims": "请求支付拖欠工资320000元。",
        "consent_cite": consent.cite_short,
        "consent_words": consent.text,
        "rights": [
            {"cite": a.cite_short, "words": list(a.paragraphs)}
            for a in (citation("pml_23"), citation("pml_24"))
        ],
        "free_cite": citation("pml_4").cite_short,
        "contact_name": "蔡佳怡",
    }


def _clock_notice() -> dict[str, Any]:
    """A resume of the medical clock (issue 19): 10 working days not counted, the new last day."""
    basis = citation("medical_38")
    return {
        "case_no": "瑞调〔2026〕00031号",
        "committee": COMMITTEE,
        "issued_on": "2026-01-26",
        "addressees": ["吴海燕", "瑞安市某医院"],
        "subject": "吴海燕与瑞安市某医院医疗纠纷",
        "event": "resume",
        "effective_on": "2026-01-26",
        "reason": "已收到医疗损害鉴定意见",
        "unit": "个工作日",
        "days": 10,
        "due_on": "2026-03-06",
        "basis_cite": basis.cite_short,
        "basis_words": basis.text,
        "contact_name": "蔡佳怡",
    }


def _rejection_notice() -> dict[str, Any]:
    return {
        "case_no": "瑞调〔2026〕00021号",
        "committee": COMMITTEE,
        "doc_no": "瑞调不受〔2026〕00003号",
        "issued_on": "2026-11-05",
        "addressees": ["黄美玲"],
        "received_on": "2026-11-04",
        "subject": "黄美玲与瑞安市某房地产开发有限公司商品房买卖合同纠纷",
        "reason": "该纠纷已由瑞安市人民法院作出（2026）浙0381民初2876号民事判决，判决已经发生法律效力",
        "basis": "司法部《人民调解工作若干规定》第二十二条",
        "other_routes": [
            "对生效判决不服的，可以依法向人民法院申请再审；",
            "对方当事人不履行生效判决的，可以向瑞安市人民法院申请强制执行。",
        ],
    }


def _session_record() -> dict[str, Any]:
    return {
        "case_no": CASE_NO,
        "committee": COMMITTEE,
        "issued_on": "2026-11-10",
        "session_no": 2,
        "subject": SUBJECT,
        "held_at": at(2026, 11, 10, 14, 0),
        "ended_at": at(2026, 11, 10, 17, 20),
        "location": "瑞安市矛调中心第三调解室",
        "presiding": "金学文",
        "recorder": "蔡佳怡",
        "panel": PANEL,
        "attendees": [
            "申请人代表 张建国、李德明、刘永福（受17名申请人推选）",
            "申请人委托代理人 郑晓雯",
            "被申请人委托代理人 林晓东",
            "被申请人项目经理 陈志华",
            "第三人代表 潘晓明",
        ],
        "entries": [
            {
                "speaker": "调解主持人",
                "text": (
                    "今天是第二次调解。上次各方对欠薪总额已核对一致，为人民币320,000元。"
                    "今天主要协商支付期限和第三人的责任。各方是否同意继续调解？"
                ),
            },
            {
                "speaker": "申请人代表 张建国",
                "text": "同意。我们17个人年底都要回老家，希望年前把钱全部拿到。",
            },
            {
                "speaker": "被申请人委托代理人 林晓东",
                "text": (
                    "公司认可欠薪金额。目前账上资金紧张，可以先付20万元，剩下12万元等总包单位结算后支付。"
                ),
            },
            {
                "speaker": "第三人代表 潘晓明",
                "text": "我公司同意从应付给鼎泰公司的工程款中直接代发，并对剩余12万元承担先行清偿责任。",
            },
            {
                "speaker": "叶成林（人社局）",
                "text": (
                    "依照《保障农民工工资支付条例》第三十条，分包单位拖欠农民工工资的，"
                    "由施工总承包单位先行清偿，再依法向分包单位追偿。"
                    "代发须通过农民工工资专用账户发放到本人账户。"
                ),
            },
            {"speaker": "调解主持人", "text": "各方意见基本一致，下面由记录人整理协议条款，请各方核对。"},
        ],
        "outcome_label": "达成协议",
        "signers": [
            {"role": "申请人代表", "name": "张建国"},
            {"role": "申请人代表", "name": "李德明"},
            {"role": "申请人代表", "name": "刘永福"},
            {"role": "申请人委托代理人", "name": "郑晓雯"},
            {"role": "被申请人委托代理人", "name": "林晓东"},
            {"role": "第三人代表", "name": "潘晓明"},
        ],
    }


def _agreement() -> dict[str, Any]:
    return {
        "case_no": CASE_NO,
        "committee": COMMITTEE,
        "category_label": "劳动争议（追索劳动报酬）",
        "parties": [*_workers(), COMPANY, GENERAL_CONTRACTOR],
        "facts": (
            "2026年3月至9月，申请人张建国等17人受被申请人瑞安市鼎泰建设工程有限公司招用，在其承建的瑞安市"
            "塘下镇罗凤小学扩建工程项目从事钢筋、木工、泥水等劳务作业。第三人瑞安市安阳城市建设发展有限公司"
            "为该工程施工总承包单位。\n"
            "工程主体于2026年9月完工。经各方核对考勤表及工资发放记录，被申请人尚欠申请人工资共计人民币"
            "320,000元（各申请人应得金额见各方签字确认的《工资核对清单》）。"
        ),
        "disputes": (
            "一是欠薪总额及各申请人应得金额；二是支付期限；三是第三人作为施工总承包单位是否承担先行清偿责任。"
        ),
        "responsibility": (
            "被申请人作为用人单位，应当按时足额支付劳动者工资，对拖欠工资负有全部责任（《中华人民共和国劳动法》"
            "第五十条）。第三人作为施工总承包单位，依照《保障农民工工资支付条例》第三十条，对分包单位拖欠的农民工"
            "工资承担先行清偿责任，清偿后可以依法向被申请人追偿。申请人已完成约定的劳务作业，无过错。"
        ),
        "terms": [
            {
                "obligor": "被申请人瑞安市鼎泰建设工程有限公司",
                "obligation": (
                    "向申请人张建国等17人支付拖欠的工资第一期款项，按《工资核对清单》所列比例分配至各申请人"
                ),
                "amount": Decimal("200000.00"),
                "due_date": "2026-11-20",
            },
            {
                "obligor": "被申请人瑞安市鼎泰建设工程有限公司",
                "obligation": "向申请人张建国等17人支付剩余工资，按《工资核对清单》所列比例分配至各申请人",
                "amount": Decimal("120000.00"),
                "due_date": "2026-12-10",
            },
            {
                "obligor": "第三人瑞安市安阳城市建设发展有限公司",
                "obligation": (
                    "对上述第二期款项承担先行清偿责任；被申请人逾期未付的，"
                    "第三人于逾期之日起五日内从应付被申请人的工程款中代为支付，代付后有权向被申请人追偿"
                ),
                "amount": Decimal("120000.00"),
                "due_date": "2026-12-15",
            },
            {
                "obligor": "申请人张建国等17人",
                "obligation": "收到上述全部款项后，不再就2026年3月至9月的工资向被申请人和第三人主张任何权利",
            },
        ],
        "performance": {
            "method": (
                "通过第三人开设的农民工工资专用账户，以银行转账方式分别支付至各申请人本人名下的银行账户"
            ),
            "place": "瑞安市（转账支付，履行情况由本委员会回访核实）",
            "deadline": "2026-12-15",
        },
        "other_terms": [
            "各方当事人确认《工资核对清单》为本协议附件，与本协议具有同等效力。",
            "被申请人逾期支付任何一期款项的，申请人有权就全部未付款项申请强制执行（经司法确认后）或者依法申请劳动争议仲裁。",
        ],
        "presiding": "金学文",
        "recorder": "蔡佳怡",
        "panel": PANEL,
        "court_name": "瑞安市人民法院",
        "notices": agreement_notices(
            category="labor",
            referral_kind=None,
            rights_confirmation=False,
            status_relation=False,
            court="瑞安市人民法院",
        ),
        "ink_only": False,
        "signed_on": "2026-11-12",
        "issued_on": "2026-11-12",
        "verify_base_url": VERIFY_BASE_URL,
        "verify_code": "7K3M-9QXW-2D4F-H8RT",
    }


def _inheritance_agreement() -> dict[str, Any]:
    """A small agreement that must be signed in ink (继承): ink_only=True."""
    return {
        "case_no": "瑞调〔2026〕00024号",
        "committee": COMMITTEE,
        "category_label": "婚姻家庭（继承）",
        "parties": [
            {
                "role": "applicant",
                "kind": "person",
                "name": "潘月娥",
                "gender": "女",
                "birth_date": "1958-04-02",
                "id_number": _id_number("33038119580402024"),
                "address": "瑞安市莘塍街道东新村",
                "phone": "13706600401",
            },
            {
                "role": "respondent",
                "kind": "person",
                "name": "潘月明",
                "gender": "男",
                "age": 64,
                "id_number": _id_number("33038119620815031"),
                "address": "瑞安市莘塍街道东新村",
                "phone": "13706600402",
            },
        ],
        "facts": "被继承人潘阿根于2026年6月病故，遗有位于瑞安市莘塍街道东新村的房屋一处，未立遗嘱。",
        "disputes": "房屋的分割方式。",
        "responsibility": "双方均为第一顺序继承人，依法享有同等继承权。",
        "terms": [
            {
                "obligor": "被申请人潘月明",
                "obligation": "取得上述房屋的全部产权，并向申请人支付房屋折价款",
                "amount": "150000",
                "due_date": "2027-01-31",
            },
        ],
        "performance": {"method": "银行转账", "place": "瑞安市", "deadline": "2027-01-31"},
        "presiding": "金学文",
        "recorder": "蔡佳怡",
        "court_name": "瑞安市人民法院",
        # The heir who keeps the house takes its ownership: 物权确权, no 司法确认 (民诉解释 第355条).
        "notices": agreement_notices(
            category="marriage_family",
            referral_kind=None,
            rights_confirmation=True,
            status_relation=False,
            court="瑞安市人民法院",
        ),
        "ink_only": True,
        "signed_on": "2026-11-14",
        "verify_base_url": VERIFY_BASE_URL,
        "verify_code": "3Q8D-MWZ2-K6TA-5RXP",
    }


def _termination_notice() -> dict[str, Any]:
    return {
        "case_no": "瑞调〔2026〕00019号",
        "committee": COMMITTEE,
        "doc_no": "瑞调终〔2026〕00004号",
        "issued_on": "2026-11-18",
        "addressees": ["吴海燕", "瑞安市宏达鞋业有限公司"],
        "subject": "吴海燕与瑞安市宏达鞋业有限公司经济补偿金纠纷",
        "accepted_on": "2026-11-02",
        "terminated_on": "2026-11-18",
        "ending_cite": citation("pml_26").cite,
        "ending_words": citation("pml_26").text,
        "reason": (
            "被申请人明确表示不同意申请人提出的经济补偿金数额，拒绝继续调解；"
            "自本委员会收到调解申请之日起已满十五日未能达成调解协议"
        ),
        "routes": [
            {
                "name": "申请劳动争议仲裁",
                "body": "瑞安市劳动人事争议仲裁委员会",
                "note": (
                    "自知道或者应当知道其权利被侵害之日起一年内申请（《劳动争议调解仲裁法》第十四条、"
                    "第二十七条）"
                ),
            },
            {
                "name": "投诉举报（行政途径）",
                "body": "瑞安市人力资源和社会保障局劳动保障监察大队",
                "note": "用人单位拖欠工资、未依法支付经济补偿的，可以投诉，由劳动保障监察机构依法处理",
            },
            {
                "name": "提起诉讼（司法途径）",
                "body": "瑞安市人民法院",
                "note": (
                    "对仲裁裁决不服的，"
                    "可以自收到裁决书之日起十五日内提起诉讼（《劳动争议调解仲裁法》第五十条）"
                ),
            },
        ],
    }


def _follow_up_record() -> dict[str, Any]:
    return {
        "case_no": CASE_NO,
        "committee": COMMITTEE,
        "issued_on": "2026-12-16",
        "subject": SUBJECT,
        "agreement_on": "2026-11-12",
        "all_performed": True,
        "visits": [
            {
                "visited_on": "2026-11-21",
                "method": "电话回访",
                "visitor": "蔡佳怡",
                "interviewee": "申请人代表 张建国",
                "statuses": [
                    {
                        "term": "第一期工资人民币200,000元（2026年11月20日前）",
                        "performed": True,
                        "note": "11月19日经农民工工资专用账户发放到位",
                    },
                    {
                        "term": "第二期工资人民币120,000元（2026年12月10日前）",
                        "performed": False,
                        "note": "未到期",
                    },
                ],
                "opinion": "已收到第一期款项，对调解结果满意。",
                "notes": "17名申请人均已确认到账。",
            },
            {
                "visited_on": "2026-12-16",
                "method": "上门回访",
                "visitor": "金学文、蔡佳怡",
                "interviewee": "申请人代表 张建国、李德明；被申请人财务 应丽君",
                "statuses": [
                    {
                        "term": "第一期工资人民币200,000元（2026年11月20日前）",
                        "performed": True,
                        "note": "已履行",
                    },
                    {
                        "term": "第二期工资人民币120,000元（2026年12月10日前）",
                        "performed": True,
                        "note": "12月12日由第三人代为支付，逾期2日",
                    },
                ],
                "opinion": "款项已全部收到，无其他诉求。",
                "notes": "第三人已依约先行清偿并向被申请人追偿，各方无异议。",
            },
        ],
        "conclusion": "协议约定的义务已全部履行完毕，建议结案归档。",
    }


def _supervision_order() -> dict[str, Any]:
    return {
        "case_no": "瑞调〔2026〕00009号",
        "committee": COMMITTEE,
        "doc_no": "瑞调督〔2026〕第0042号",
        "issued_on": "2026-11-16",
        "order_no": "瑞调督〔2026〕第0042号",
        "level_label": "镇街领导督办",
        "assignee": "塘下镇人民政府（分管领导：何立群；承办人：塘下镇人民调解委员会 周文涛）",
        "subject": "塘下镇鲍田村村民与某汽摩配企业厂房噪声污染损害赔偿纠纷（涉及村民23户）",
        "category_label": "损害赔偿",
        "town": "塘下镇",
        "stage_label": "调解中",
        "accepted_on": "2026-09-28",
        "stage_due_on": "2026-10-28",
        "overdue_days": 19,
        "is_mass": True,
        "risk_label": "风险较高",
        "reason": (
            "本案受理后逾一个月未调结（司法部《人民调解工作若干规定》第三十三条），已由中心主任督办一次，"
            "仍无实质进展，依规提级至镇街领导督办。"
        ),
        "requirements": [
            "分管领导于三个工作日内牵头召开专班会议，明确责任分工；",
            "会同生态环境部门完成噪声监测，作为调解依据；",
            "做好村民代表稳控工作，防止矛盾激化，发现治安隐患及时报告公安机关（《人民调解法》第二十五条）；",
            "每周报送一次调处进展。",
        ],
        "reply_by": "2026-11-23",
        "issuer": "瑞安市社会矛盾纠纷调处化解中心",
    }


def _backlog_report() -> dict[str, Any]:
    return {
        "case_no": "瑞调报〔2026〕第46期",
        "committee": COMMITTEE,
        "issued_on": "2026-11-16",
        "period_label": "2026年第46周，11月9日至11月15日",
        "generated_at": at(2026, 11, 16, 8, 0),
        "totals": {
            "open": 486,
            "overdue": 57,
            "mass": 21,
            "new_in_period": 93,
            "closed_in_period": 88,
            "success_rate": "91.3%",
        },
        "by_age": [
            {"label": "7日内", "open": 112, "overdue": 0},
            {"label": "8-15日", "open": 138, "overdue": 9},
            {"label": "16-30日", "open": 131, "overdue": 14},
            {"label": "31-60日", "open": 68, "overdue": 19},
            {"label": "61-90日", "open": 25, "overdue": 10},
            {"label": "90日以上", "open": 12, "overdue": 5},
        ],
        "by_town": [
            {"label": "安阳街道", "open": 78, "overdue": 8, "mass": 3},
            {"label": "玉海街道", "open": 61, "overdue": 5, "mass": 2},
            {"label": "塘下镇", "open": 97, "overdue": 16, "mass": 6},
            {"label": "飞云街道", "open": 54, "overdue": 6, "mass": 2},
            {"label": "莘塍街道", "open": 49, "overdue": 4, "mass": 1},
            {"label": "马屿镇", "open": 38, "overdue": 7, "mass": 3},
            {"label": "陶山镇", "open": 33, "overdue": 3, "mass": 1},
            {"label": "其他镇街", "open": 76, "overdue": 8, "mass": 3},
        ],
        "by_category": [
            {"label": "劳动争议", "open": 132, "overdue": 19, "mass": 11},
            {"label": "邻里纠纷", "open": 88, "overdue": 6, "mass": 0},
            {"label": "合同纠纷", "open": 71, "overdue": 9, "mass": 2},
            {"label": "婚姻家庭", "open": 64, "overdue": 4, "mass": 0},
            {"label": "损害赔偿", "open": 53, "overdue": 10, "mass": 5},
            {"label": "房屋宅基地", "open": 41, "overdue": 6, "mass": 2},
            {"label": "其他", "open": 37, "overdue": 3, "mass": 1},
        ],
        "oldest": [
            {
                "case_no": "瑞调〔2026〕00003号",
                "town": "马屿镇",
                "category_label": "山林土地",
                "stage_label": "调解中",
                "days_overdue": 112,
                "level_label": "市领导包案",
            },
            {
                "case_no": "瑞调〔2026〕00005号",
                "town": "塘下镇",
                "category_label": "征地拆迁",
                "stage_label": "调解中",
                "days_overdue": 87,
                "level_label": "市领导包案",
            },
            {
                "case_no": "瑞调〔2026〕00009号",
                "town": "塘下镇",
                "category_label": "损害赔偿",
                "stage_label": "调解中",
                "days_overdue": 19,
                "level_label": "镇街领导督办",
            },
            {
                "case_no": "瑞调〔2026〕00011号",
                "town": "安阳街道",
                "category_label": "劳动争议",
                "stage_label": "专班已组建",
                "days_overdue": 12,
                "level_label": "中心主任督办",
            },
            {
                "case_no": "瑞调〔2026〕00014号",
                "town": "飞云街道",
                "category_label": "物业纠纷",
                "stage_label": "调解中",
                "days_overdue": 6,
                "level_label": "中心主任督办",
            },
        ],
    }


def _article(key: str) -> dict[str, Any]:
    a = citation(key)
    return {"cite": a.cite_short, "words": list(a.paragraphs)}


def _panel_notice() -> dict[str, Any]:
    return {
        "case_no": CASE_NO,
        "committee": COMMITTEE,
        "issued_on": "2026-11-04",
        "addressees": ["瑞安市鼎泰建设工程有限公司"],
        "addressee_role": "被申请人",
        "subject": SUBJECT,
        "panel": [
            {"name": "林国强", "role_label": "调解主持人", "kind_label": "人民调解员", "organization": ""},
            {
                "name": "周明",
                "role_label": "法律顾问",
                "kind_label": "律师",
                "organization": "浙江某律师事务所",
            },
        ],
        "presiding": "林国强",
        "choose": _article("pml_19"),
        "rights": _article("pml_23"),
        "recusal": _article("invited_15"),
        "contact_name": "蔡佳怡",
    }


def _session_notice() -> dict[str, Any]:
    return {
        "case_no": CASE_NO,
        "committee": COMMITTEE,
        "issued_on": "2026-11-05",
        "addressees": ["张建国"],
        "addressee_kind": "person",
        "subject": SUBJECT,
        "variant": "rescheduled",
        "session_no": 1,
        "scheduled_at": "2026-11-10T09:30:00+08:00",
        "previous_at": "2026-11-09T09:30:00+08:00",
        "previous_location": "中心第二调解室",
        "reason": "被申请人法定代表人出差",
        "location": "中心第一调解室",
        "attendees": [
            {"role": "申请人", "name": "张建国"},
            {"role": "被申请人", "name": "瑞安市鼎泰建设工程有限公司"},
        ],
        "panel": [{"name": "林国强", "role_label": "调解主持人"}],
        "presiding": "林国强",
        "refusal": _article("pml_17"),
        "contact_name": "蔡佳怡",
    }


def _delivery_receipt() -> dict[str, Any]:
    return {
        "case_no": CASE_NO,
        "committee": COMMITTEE,
        "issued_on": "2026-11-06",
        "document_title": "调解通知书",
        "document_no": "K7M2-Q9XD",
        "document_issued_on": "2026-11-05",
        "addressee": "张建国",
        "addressee_role": "申请人",
        "method_label": "直接送达",
        "status": "delivered",
        "status_label": "已送达",
        "delivered_on": "2026-11-06",
        "signer_label": "同住成年家属",
        "signer_name": "李秀英",
        "note": "",
        "server": "蔡佳怡",
        "bases": [_article("cpl_87"), _article("cpl_88")],
    }


_COURT_REFERRAL = {
    "kind_label": "法院委派",
    "reference": "(2026)浙0381民诉前调1234号",
    "referrer": "瑞安市人民法院",
    "verb": "委派",
}
_AGREEMENT_REF = {
    "signed_on": "2026-12-07",
    "number": CASE_NO,
    "verify_code": "K7M2-Q9XD-4TRA-8WEN",
    "sha256": "ab" * 32,
}


def _judicial_confirmation_application() -> dict[str, Any]:
    parties = [*_workers(), COMPANY]
    return {
        "case_no": CASE_NO,
        "committee": COMMITTEE,
        "issued_on": "2026-12-08",
        "applicants": [{**p, "role": "applicant"} for p in parties],
        "subject": SUBJECT,
        "request": (
            f"请求人民法院确认申请人于2026年12月7日经{COMMITTEE['name']}调解达成的人民调解协议（{CASE_NO}）有效。"
        ),
        "facts": "被申请人拖欠17名工人2026年7月至10月工资共计32万元。",
        "terms": [
            "第1项：瑞安市鼎泰建设工程有限公司向张建国支付拖欠工资人民币18,000.00元（履行期限2026年12月20日）"
        ],
        "agreement": _AGREEMENT_REF,
        "court": "瑞安市人民法院",
        "court_basis": _article("cpl_205_2"),
        "pre_filing": False,
        "parties_addresses": [],
        "last_day": "2027-01-06",
        "materials": ["司法确认申请书", f"人民调解协议书（{CASE_NO}）", "调解组织主持调解的证明"],
        "bases": [_article("pml_33"), _article("cpl_205")],
        "signers": [{"role": "申请人", "name": p["name"]} for p in parties],
    }


def _mediation_certificate() -> dict[str, Any]:
    return {
        "case_no": CASE_NO,
        "committee": COMMITTEE,
        "issued_on": "2026-12-08",
        "subject": SUBJECT,
        "accepted_on": "2026-11-03",
        "presiding": "金学文",
        "panel": PANEL,
        "sessions": [{"seq": 1, "held_on": "2026-11-10", "location": "中心第一调解室"}],
        "agreed_on": "2026-11-10",
        "agreement": _AGREEMENT_REF,
        "basis": _article("cpl_interp_354"),
    }


def _payment_order_application() -> dict[str, Any]:
    worker = _workers()[1]
    return {
        "case_no": CASE_NO,
        "committee": COMMITTEE,
        "issued_on": "2026-12-28",
        "creditor": worker,
        "debtor": COMPANY,
        "creditor_signer": {"role": "申请人（债权人）", "name": worker["name"]},
        "amount": "18000.00",
        "amount_figures": "18,000.00",
        "amount_capitals": "人民币壹万捌仟元整",
        "obligations": "支付拖欠工资",
        "category_label": "劳动争议",
        "agreement": _AGREEMENT_REF,
        "terms": [
            {
                "line": f"第2项：瑞安市鼎泰建设工程有限公司向{worker['name']}支付拖欠工资人民币18,000.00元",
                "amount": "18000.00",
                "paid": "0.00",
                "outstanding": "18000.00",
                "due_date": "2026-12-20",
            }
        ],
        "visited_on": "2026-12-27",
        "court": "瑞安市人民法院",
        "bases": [_article("cpl_225"), _article("labor_16")],
        "labor_16": True,
    }


def _court_filing() -> dict[str, Any]:
    return {
        "case_no": CASE_NO,
        "committee": COMMITTEE,
        "issued_on": "2026-12-07",
        "referral": _COURT_REFERRAL,
        "court": "瑞安市人民法院",
        "subject": SUBJECT,
        "accepted_on": "2026-11-03",
        "agreement": _AGREEMENT_REF,
        "terms": ["第1项：瑞安市鼎泰建设工程有限公司向张建国支付拖欠工资人民币18,000.00元"],
        "basis": _article("invited_19"),
    }


def _court_return() -> dict[str, Any]:
    return {
        "case_no": CASE_NO,
        "committee": COMMITTEE,
        "issued_on": "2026-12-01",
        "referral": _COURT_REFERRAL,
        "court": "瑞安市人民法院",
        "subject": SUBJECT,
        "accepted_on": "2026-11-03",
        "ended_on": "2026-12-01",
        "reason": "经调解，双方当事人未能达成调解协议",
        "pre_filing": True,
        "basis": {"cite": _article("invited_21")["cite"], "words": _article("invited_21")["words"][:1]},
        "materials": [{"name": "贵院委派调解时移送的起诉状等材料", "note": "(2026)浙0381民诉前调1234号"}],
    }


_BUILDERS = {
    "application": _application,
    "acceptance_notice": _acceptance_notice,
    "rejection_notice": _rejection_notice,
    "respondent_notice": _respondent_notice,
    "clock_notice": _clock_notice,
    "session_record": _session_record,
    "agreement": _agreement,
    "termination_notice": _termination_notice,
    "follow_up_record": _follow_up_record,
    "supervision_order": _supervision_order,
    "backlog_report": _backlog_report,
    "panel_notice": _panel_notice,
    "session_notice": _session_notice,
    "delivery_receipt": _delivery_receipt,
    "judicial_confirmation_application": _judicial_confirmation_application,
    "mediation_certificate": _mediation_certificate,
    "payment_order_application": _payment_order_application,
    "court_filing": _court_filing,
    "court_return": _court_return,
}


def example(kind: str) -> dict[str, Any]:
    """A fresh example context for `kind` (one of documents.render.KINDS)."""
    return copy.deepcopy(_BUILDERS[kind]())


def inheritance_agreement() -> dict[str, Any]:
    """An `agreement` context with ink_only=True (继承: signed in ink, never electronically)."""
    return copy.deepcopy(_inheritance_agreement())


EXAMPLE_DATE = date(2026, 11, 12)
