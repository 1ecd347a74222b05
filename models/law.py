"""The one table of legal citations: every legal basis a document or page prints or shows comes from here.

Each entry names the statute, the article (and, where only part is meant, the paragraph or item), and the
article's words exactly as they stand in the statute texts of `../shared/law/` (LawRefBook/Laws);
tests/unit/test_law_table.py checks every entry against those files. A document cites an article through
this table, never with its own copy of the number or the words.

司法部《人民调解工作若干规定》(2002, 司法部令第75号) is not among those texts: its entries carry
`verifiable=False` and a note, and are checked against the published text, typed into the test by hand.
That text settles the doubt DESIGN.md and issue 10 left: acceptance on application or on the committee's
own initiative is 第二十三条第一款 (第二十条 is the scope of disputes a committee mediates); 第三十三条 is
"人民调解委员会调解纠纷，一般在一个月内调结。" and nothing more.

Merged (issue 10): the acceptance/rejection entries and the agreement entries (pml_13 … special_20) of two
engineers working side by side; keep both sets of keys.

The second half holds the rules that pick citations: which words back which clock, which item of 2002
规定 第22条 backs which rejection reason, the routes its 第24条 tells for each reason, and the routes a
终止调解告知书 tells by regime (人民调解法 第26条).

Nothing else in models/ or documents/templates/ types an article number into printed or shown text
(tests/unit/test_law_table.py scans them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.enums import Category, RejectionReason
from models.numerals import chinese_number

# The file of ../shared/law holding each statute's text (by the title the table cites).
SOURCES: dict[str, str] = {
    "中华人民共和国人民调解法": "人民调解法(2010-08-28).md",
    "中华人民共和国森林法": "中华人民共和国森林法-摘录.md",
    "中华人民共和国土地管理法": "中华人民共和国土地管理法-摘录.md",
    "中华人民共和国劳动争议调解仲裁法": "劳动争议调解仲裁法(2007-12-29).md",
    "最高人民法院关于人民法院特邀调解的规定": "最高人民法院关于人民法院特邀调解的规定(2016-06-28).md",
    "医疗纠纷预防和处理条例": "医疗纠纷预防和处理条例(2018-07-31).md",
    "信访工作条例": "信访工作条例(2022-02-25).md",
    "全国年节及纪念日放假办法": "全国年节及纪念日放假办法(2024-11-10).md",
    "中华人民共和国民法典": "中华人民共和国民法典-摘录.md",
    "中华人民共和国电子签名法": "中华人民共和国电子签名法-摘录.md",
    "中华人民共和国民事诉讼法": "中华人民共和国民事诉讼法-摘录.md",
    "最高人民法院关于人民调解协议司法确认程序的若干规定": (
        "最高人民法院关于人民调解协议司法确认程序的若干规定(2011-03-23).md"
    ),
    "最高人民法院关于适用《中华人民共和国民事诉讼法》的解释": (
        "最高人民法院关于适用中华人民共和国民事诉讼法的解释-摘录.md"
    ),
}


@dataclass(frozen=True)
class Article:
    title: str  # the instrument's full title, without 《》
    number: str  # 第三十三条
    paragraphs: tuple[str, ...]  # 款 (or, for a list, its lead and items), in order, as the text has them
    para: int | None = None  # 第N款: only that paragraph is cited (`paragraphs` then holds it alone)
    item: int | None = None  # 第N项: only that item is cited
    verifiable: bool = True  # False: the text is not in ../shared/law (2002 规定)
    note: str = ""

    @property
    def short(self) -> str:
        """人民调解法 for 中华人民共和国人民调解法."""
        return self.title.removeprefix("中华人民共和国")

    @property
    def source(self) -> str | None:
        return SOURCES.get(self.title) if self.verifiable else None

    @property
    def article_label(self) -> str:
        label = self.number
        if self.para:
            label += f"第{chinese_number(self.para)}款"
        if self.item:
            label += f"第（{chinese_number(self.item)}）项"
        return label

    @property
    def cite(self) -> str:
        """《中华人民共和国人民调解法》第三十一条"""
        return f"《{self.title}》{self.article_label}"

    @property
    def cite_short(self) -> str:
        """《人民调解法》第十七条"""
        return f"《{self.short}》{self.article_label}"

    @property
    def words(self) -> str:
        """Every paragraph, one a line."""
        return "\n".join(self.paragraphs)

    @property
    def text(self) -> str:
        """The words on one line, as a quotation prints them."""
        return "".join(self.paragraphs)

    @property
    def quoted(self) -> str:
        """《人民调解法》第十七条“……”"""
        return f"{self.cite_short}“{self.text}”"

    def paragraph(self, n: int) -> str:
        """The n-th (1-based) paragraph (款)."""
        return self.paragraphs[n - 1]


Citation = Article

_PML = "中华人民共和国人民调解法"
_RULES_2002 = "人民调解工作若干规定"
_RULES_2002_NOTE = (
    "司法部《人民调解工作若干规定》（2002年）不在 ../shared/law 中，文字无法在该处核对；"
    "文字按司法部令第75号公布的文本（见 tests/unit/test_law_table.py 的摘录）"
)

_CIVIL_CODE_NOTE = (
    "《民法典》该条不在 ../shared/law 的摘录中，文字无法在该处核对；文字按2020年5月28日公布的文本"
    "（见 tests/unit/test_law_table.py 的摘录）"
)

# Keyed by a short name: pml = 人民调解法, labor = 劳动争议调解仲裁法, cpl = 民事诉讼法,
# cpl_interp = 民诉解释, special / invited = 特邀调解规定, rules2002 = 2002 规定.
ARTICLES: dict[str, Article] = {
    "pml_4": Article(_PML, "第四条", ("人民调解委员会调解民间纠纷，不收取任何费用。",)),
    # Consent and refusal: not a condition of acceptance (issue 10).
    "pml_17": Article(
        _PML,
        "第十七条",
        (
            "当事人可以向人民调解委员会申请调解；人民调解委员会也可以主动调解。当事人一方明确拒绝调解的，不得调解。",
        ),
    ),
    "pml_23": Article(
        _PML,
        "第二十三条",
        (
            "当事人在人民调解活动中享有下列权利:",
            "（一）选择或者接受人民调解员；",
            "（二）接受调解、拒绝调解或者要求终止调解；",
            "（三）要求调解公开进行或者不公开进行；",
            "（四）自主表达意愿、自愿达成调解协议。",
        ),
    ),
    "pml_24": Article(
        _PML,
        "第二十四条",
        (
            "当事人在人民调解活动中履行下列义务:",
            "（一）如实陈述纠纷事实；",
            "（二）遵守调解现场秩序，尊重人民调解员；",
            "（三）尊重对方当事人行使权利。",
        ),
    ),
    # Disputes that may turn violent: the police are told (the case history says so).
    "pml_25": Article(
        _PML,
        "第二十五条",
        (
            "人民调解员在调解纠纷过程中，发现纠纷有可能激化的，应当采取有针对性的预防措施；对有可能引起治安"
            "案件、刑事案件的纠纷，应当及时向当地公安机关或者其他有关部门报告。",
        ),
    ),
    "pml_26": Article(
        _PML,
        "第二十六条",
        (
            "人民调解员调解纠纷，调解不成的，应当终止调解，并依据有关法律、法规的规定，告知当事人可以依法"
            "通过仲裁、行政、司法等途径维护自己的权利。",
        ),
    ),
    # --- 司法部《人民调解工作若干规定》(2002): not in ../shared/law ---
    # Acceptance on application or on the committee's own initiative: 第二十三条第一款. 第二十条 (which
    # DESIGN.md and issue 10 named) is the scope of the disputes a committee mediates; the order of the
    # chapter (第二十条 受案范围, 第二十一条 管辖, 第二十二条 不得受理, 第二十三条 申请与主动调解,
    # 第二十四条 受理与告知) is the published text of 司法部令第75号 (tests/unit/test_law_table.py).
    "rules2002_23": Article(
        _RULES_2002,
        "第二十三条",
        (
            "人民调解委员会根据纠纷当事人的申请，受理调解纠纷；当事人没有申请的，也可以主动调解，但当事人表示异议的除外。",
        ),
        para=1,
        verifiable=False,
        note=_RULES_2002_NOTE
        + "。受理依据为第二十三条第一款（第二十条为受案范围），已按司法部令第75号公布的文本核定",
    ),
    "rules2002_22_1": Article(
        _RULES_2002,
        "第二十二条",
        ("法律、法规规定只能由专门机关管辖处理的，或者法律、法规禁止采用民间调解方式解决的",),
        item=1,
        verifiable=False,
        note=_RULES_2002_NOTE,
    ),
    "rules2002_22_2": Article(
        _RULES_2002,
        "第二十二条",
        ("人民法院、公安机关或者其他行政机关已经受理或者解决的",),
        item=2,
        verifiable=False,
        note=_RULES_2002_NOTE,
    ),
    # Cited by number only: its words name 向人民法院起诉, which must not be told when a court already
    # has the case; the notice tells the routes matched to the reason (rejection_routes).
    "rules2002_24": Article(
        _RULES_2002,
        "第二十四条",
        (
            "不符合受理条件的，应当告知当事人按照法律、法规规定提请有关机关处理或者向人民法院起诉；随时有可能"
            "激化的，应当在采取必要的缓解疏导措施后，及时提交有关机关处理。",
        ),
        para=2,
        verifiable=False,
        note=_RULES_2002_NOTE,
    ),
    "rules2002_33": Article(
        _RULES_2002,
        "第三十三条",
        ("人民调解委员会调解纠纷，一般在一个月内调结。",),
        verifiable=False,
        note=_RULES_2002_NOTE + "。人民调解本身没有法定终止期限：不得写成“期限届满将终止调解”",
    ),
    # --- 林权 and land ownership: the people's government first ---
    "forest_22": Article(
        "中华人民共和国森林法",
        "第二十二条",
        (
            "单位之间发生的林木、林地所有权和使用权争议，由县级以上人民政府依法处理。",
            "个人之间、个人与单位之间发生的林木所有权和林地使用权争议，由乡镇人民政府或者县级以上人民政府依法处理。",
            "当事人对有关人民政府的处理决定不服的，可以自接到处理决定通知之日起三十日内，向人民法院起诉。",
            "在林木、林地权属争议解决前，除因森林防火、林业有害生物防治、国家重大基础设施建设等需要外，"
            "当事人任何一方不得砍伐有争议的林木或者改变林地现状。",
        ),
    ),
    "land_14": Article(
        "中华人民共和国土地管理法",
        "第十四条",
        (
            "土地所有权和使用权争议，由当事人协商解决；协商不成的，由人民政府处理。",
            "单位之间的争议，由县级以上人民政府处理；个人之间、个人与单位之间的争议，由乡级人民政府或者"
            "县级以上人民政府处理。",
            "当事人对有关人民政府的处理决定不服的，可以自接到处理决定通知之日起三十日内，向人民法院起诉。",
            "在土地所有权和使用权争议解决前，任何一方不得改变土地利用现状。",
        ),
    ),
    # --- the clocks ---
    "labor_14_3": Article(
        "中华人民共和国劳动争议调解仲裁法",
        "第十四条",
        ("自劳动争议调解组织收到调解申请之日起十五日内未达成调解协议的，当事人可以依法申请仲裁。",),
        para=3,
    ),
    # A court-referred case is accepted on the court's referral with the parties' consent, not on a
    # party's own application (issue 19): the acceptance notice of a 委派/委托 case cites this.
    "invited_11_1": Article(
        "最高人民法院关于人民法院特邀调解的规定",
        "第十一条",
        (
            "对适宜调解的纠纷，登记立案前，人民法院可以经当事人同意委派给特邀调解组织或者特邀调解员进行调解；"
            "登记立案后或者在审理过程中，可以委托给特邀调解组织或者特邀调解员进行调解。",
        ),
        para=1,
    ),
    "invited_27_1": Article(
        "最高人民法院关于人民法院特邀调解的规定",
        "第二十七条",
        ("人民法院委派调解的案件，调解期限为30日。但是双方当事人同意延长调解期限的，不受此限。",),
        para=1,
    ),
    "invited_27_2": Article(
        "最高人民法院关于人民法院特邀调解的规定",
        "第二十七条",
        (
            "人民法院委托调解的案件，适用普通程序的调解期限为15日，适用简易程序的调解期限为７日。但是双方"
            "当事人同意延长调解期限的，不受此限。延长的调解期限不计入审理期限。",
        ),
        para=2,
    ),
    "medical_38": Article(
        "医疗纠纷预防和处理条例",
        "第三十八条",
        (
            "医疗纠纷人民调解委员会应当自受理之日起30个工作日内完成调解。需要鉴定的，鉴定时间不计入调解期限。"
            "因特殊情况需要延长调解期限的，医疗纠纷人民调解委员会和医患双方可以约定延长调解期限。超过调解期限"
            "未达成调解协议的，视为调解不成。",
        ),
    ),
    # The 医调委 itself draws up, and seals, the agreement of a medical dispute (models/committee.py).
    "medical_39": Article(
        "医疗纠纷预防和处理条例",
        "第三十九条",
        (
            "医患双方经人民调解达成一致的，医疗纠纷人民调解委员会应当制作调解协议书。调解协议书经医患双方签字"
            "或者盖章，人民调解员签字并加盖医疗纠纷人民调解委员会印章后生效。",
        ),
        para=1,
    ),
    "petition_34": Article(
        "信访工作条例",
        "第三十四条",
        (
            "对本条例第三十一条第六项规定的信访事项应当自受理之日起60日内办结；情况复杂的，经本机关、单位"
            "负责人批准，可以适当延长办理期限，但延长期限不得超过30日，并告知信访人延期理由。",
        ),
    ),
    "civil_195": Article(
        "中华人民共和国民法典",
        "第一百九十五条",
        ("有下列情形之一的，诉讼时效中断，从中断、有关程序终结时起，诉讼时效期间重新计算：",),
        para=None,
    ),
    # Applying to a 人民调解委员会 has the same effect as suing: the limitation period is interrupted.
    "civil_195_4": Article(
        "中华人民共和国民法典",
        "第一百九十五条",
        ("与提起诉讼或者申请仲裁具有同等效力的其他情形",),
        item=4,
    ),
    # The place the law supplies when the agreement names none (CONTRACT v1.2: performance_place optional).
    "civil_511_3": Article(
        "中华人民共和国民法典",
        "第五百一十一条",
        (
            "履行地点不明确，给付货币的，在接受货币一方所在地履行；交付不动产的，在不动产所在地履行；"
            "其他标的，在履行义务一方所在地履行",
        ),
        item=3,
        verifiable=False,
        note=_CIVIL_CODE_NOTE,
    ),
    # --- counting periods (models/clocks.py) ---
    "cpl_85": Article(
        "中华人民共和国民事诉讼法",
        "第八十五条",
        (
            "期间包括法定期间和人民法院指定的期间。",
            "期间以时、日、月、年计算。期间开始的时和日，不计算在期间内。",
            "期间届满的最后一日是法定休假日的，以法定休假日后的第一日为期间届满的日期。",
            "期间不包括在途时间，诉讼文书在期满前交邮的，不算过期。",
        ),
    ),
    # --- delivery of notices (民诉法 第87—90条; applied to the committee's notices by analogy) ---
    "cpl_87": Article(
        "中华人民共和国民事诉讼法",
        "第八十七条",
        (
            "送达诉讼文书必须有送达回证，由受送达人在送达回证上记明收到日期，签名或者盖章。",
            "受送达人在送达回证上的签收日期为送达日期。",
        ),
    ),
    "cpl_88": Article(
        "中华人民共和国民事诉讼法",
        "第八十八条",
        (
            "送达诉讼文书，应当直接送交受送达人。受送达人是公民的，本人不在交他的同住成年家属签收；受送达人是"
            "法人或者其他组织的，应当由法人的法定代表人、其他组织的主要负责人或者该法人、组织负责收件的人签收；"
            "受送达人有诉讼代理人的，可以送交其代理人签收；受送达人已向人民法院指定代收人的，送交代收人签收。",
        ),
        para=1,
    ),
    "cpl_89": Article(
        "中华人民共和国民事诉讼法",
        "第八十九条",
        (
            "受送达人或者他的同住成年家属拒绝接收诉讼文书的，送达人可以邀请有关基层组织或者所在单位的代表到场，"
            "说明情况，在送达回证上记明拒收事由和日期，由送达人、见证人签名或者盖章，把诉讼文书留在受送达人的住所；"
            "也可以把诉讼文书留在受送达人的住所，并采用拍照、录像等方式记录送达过程，即视为送达。",
        ),
    ),
    # Remote signing (flows/portal.py): refused for the agreements this item excludes.
    "esign_3": Article(
        "中华人民共和国电子签名法",
        "第三条",
        ("涉及婚姻、收养、继承等人身关系的",),
        item=1,
        note="第三条第三款：前款规定不适用下列文书",
    ),
    "cpl_90": Article(
        "中华人民共和国民事诉讼法",
        "第九十条",
        (
            "经受送达人同意，人民法院可以采用能够确认其收悉的电子方式送达诉讼文书。通过电子方式送达的判决书、"
            "裁定书、调解书，受送达人提出需要纸质文书的，人民法院应当提供。",
        ),
        para=1,
    ),
    "civil_201": Article(
        "中华人民共和国民法典",
        "第二百零一条",
        ("按照年、月、日计算期间的，开始的当日不计入，自下一日开始计算。",),
        para=1,
    ),
    "civil_202": Article(
        "中华人民共和国民法典",
        "第二百零二条",
        ("按照年、月计算期间的，到期月的对应日为期间的最后一日；没有对应日的，月末日为期间的最后一日。",),
    ),
    # The working-day calendar's estimate for a year whose State Council arrangement is not published
    # (models/clocks.py): the holidays of 第二条 and the make-up days (补假) of 第六条.
    "holidays_2": Article(
        "全国年节及纪念日放假办法",
        "第二条",
        (
            "全体公民放假的节日：",
            "（一）元旦，放假1天（1月1日）；",
            "（二）春节，放假4天（农历除夕、正月初一至初三）；",
            "（三）清明节，放假1天（农历清明当日）；",
            "（四）劳动节，放假2天（5月1日、2日）；",
            "（五）端午节，放假1天（农历端午当日）；",
            "（六）中秋节，放假1天（农历中秋当日）；",
            "（七）国庆节，放假3天（10月1日至3日）。",
        ),
    ),
    "holidays_6": Article(
        "全国年节及纪念日放假办法",
        "第六条",
        (
            "全体公民放假的假日，如果适逢周六、周日，应当在工作日补假。部分公民放假的假日，如果适逢周六、"
            "周日，则不补假。",
        ),
    ),
    "civil_203": Article(
        "中华人民共和国民法典",
        "第二百零三条",
        (
            "期间的最后一日是法定休假日的，以法定休假日结束的次日为期间的最后一日。",
            "期间的最后一日的截止时间为二十四时；有业务时间的，停止业务活动的时间为截止时间。",
        ),
    ),
    "petition_23_2": Article(
        "信访工作条例",
        "第二十三条",
        (
            "对信访人直接提出的信访事项，有关机关、单位能够当场告知的，应当当场书面告知；不能当场告知的，"
            "应当自收到信访事项之日起15日内书面告知信访人，但信访人的姓名（名称）、住址不清的除外。",
        ),
        para=2,
    ),
    # --- routes after mediation failed (人民调解法 第26条), by regime ---
    "medical_22": Article(
        "医疗纠纷预防和处理条例",
        "第二十二条",
        (
            "发生医疗纠纷，医患双方可以通过下列途径解决：",
            "(一)双方自愿协商；",
            "(二)申请人民调解；",
            "(三)申请行政调解；",
            "(四)向人民法院提起诉讼；",
            "(五)法律、法规规定的其他途径。",
        ),
    ),
    "medical_40_1": Article(
        "医疗纠纷预防和处理条例",
        "第四十条",
        (
            "医患双方申请医疗纠纷行政调解的，应当参照本条例第三十一条第一款、第二款的规定向医疗纠纷发生地"
            "县级人民政府卫生主管部门提出申请。",
        ),
        para=1,
    ),
    "medical_43": Article(
        "医疗纠纷预防和处理条例",
        "第四十三条",
        (
            "发生医疗纠纷，当事人协商、调解不成的，可以依法向人民法院提起诉讼。当事人也可以直接向人民法院提起诉讼。",
        ),
    ),
    "invited_21": Article(
        "最高人民法院关于人民法院特邀调解的规定",
        "第二十一条",
        (
            "委派调解未达成调解协议的，特邀调解员应当将当事人的起诉状等材料移送人民法院；当事人坚持诉讼的，"
            "人民法院应当依法登记立案。",
            "委托调解未达成调解协议的，转入审判程序审理。",
        ),
    ),
    # --- the agreement (another engineer's entries, kept as written) ---
    "pml_13": Article(
        "中华人民共和国人民调解法",
        "第十三条",
        ("人民调解员由人民调解委员会委员和人民调解委员会聘任的人员担任。",),
    ),
    "pml_19": Article(
        "中华人民共和国人民调解法",
        "第十九条",
        (
            "人民调解委员会根据调解纠纷的需要，可以指定一名或者数名人民调解员进行调解，也可以"
            "由当事人选择一名或者数名人民调解员进行调解。",
        ),
    ),
    "pml_20": Article(
        "中华人民共和国人民调解法",
        "第二十条",
        (
            "人民调解员根据调解纠纷的需要，在征得当事人的同意后，可以邀请当事人的亲属、邻里、"
            "同事等参与调解，也可以邀请具有专门知识、特定经验的人员或者有关社会组织的人员参与"
            "调解。",
            "人民调解委员会支持当地公道正派、热心调解、群众认可的社会人士参与调解。",
        ),
    ),
    "pml_29": Article(
        "中华人民共和国人民调解法",
        "第二十九条",
        (
            "调解协议书可以载明下列事项:",
            "（一）当事人的基本情况；",
            "（二）纠纷的主要事实、争议事项以及各方当事人的责任；",
            "（三）当事人达成调解协议的内容，履行的方式、期限。",
            "调解协议书自各方当事人签名、盖章或者按指印，人民调解员签名并加盖人民调解委员会印"
            "章之日起生效。调解协议书由当事人各执一份，人民调解委员会留存一份。",
        ),
    ),
    "pml_31": Article(
        "中华人民共和国人民调解法",
        "第三十一条",
        (
            "经人民调解委员会调解达成的调解协议，具有法律约束力，当事人应当按照约定履行。",
            "人民调解委员会应当对调解协议的履行情况进行监督，督促当事人履行约定的义务。",
        ),
    ),
    "pml_33": Article(
        "中华人民共和国人民调解法",
        "第三十三条",
        (
            "经人民调解委员会调解达成调解协议后，双方当事人认为有必要的，可以自调解协议生效之"
            "日起三十日内共同向人民法院申请司法确认，人民法院应当及时对调解协议进行审查，依法"
            "确认调解协议的效力。",
            "人民法院依法确认调解协议有效，一方当事人拒绝履行或者未全部履行的，对方当事人可以"
            "向人民法院申请强制执行。",
            "人民法院依法确认调解协议无效的，当事人可以通过人民调解方式变更原调解协议或者达成"
            "新的调解协议，也可以向人民法院提起诉讼。",
        ),
    ),
    # --- records: 人民调解记录 (第27条), oral agreements (第28条), performance disputes (第32条) ---
    "pml_27": Article(
        "中华人民共和国人民调解法",
        "第二十七条",
        (
            "人民调解员应当记录调解情况。人民调解委员会应当建立调解工作档案，将调解登记、调解工作记录、"
            "调解协议书等材料立卷归档。",
        ),
    ),
    "pml_28": Article(
        "中华人民共和国人民调解法",
        "第二十八条",
        (
            "经人民调解委员会调解达成调解协议的，可以制作调解协议书。当事人认为无需制作调解协议书的，"
            "可以采取口头协议方式，人民调解员应当记录协议内容。",
        ),
    ),
    "pml_32": Article(
        "中华人民共和国人民调解法",
        "第三十二条",
        (
            "经人民调解委员会调解达成调解协议后，当事人之间就调解协议的履行或者调解协议的内容发生争议的，"
            "一方当事人可以向人民法院提起诉讼。",
        ),
    ),
    "labor_15": Article(
        "中华人民共和国劳动争议调解仲裁法",
        "第十五条",
        ("达成调解协议后，一方当事人在协议约定期限内不履行调解协议的，另一方当事人可以依法申请仲裁。",),
    ),
    "labor_16": Article(
        "中华人民共和国劳动争议调解仲裁法",
        "第十六条",
        (
            "因支付拖欠劳动报酬、工伤医疗费、经济补偿或者赔偿金事项达成调解协议，用人单位在协"
            "议约定期限内不履行的，劳动者可以持调解协议书依法向人民法院申请支付令。人民法院应"
            "当依法发出支付令。",
        ),
    ),
    "labor_27": Article(
        "中华人民共和国劳动争议调解仲裁法",
        "第二十七条",
        (
            "劳动争议申请仲裁的时效期间为一年。仲裁时效期间从当事人知道或者应当知道其权利被侵害之日起计算。",
            "前款规定的仲裁时效，因当事人一方向对方当事人主张权利，或者向有关部门请求权利救济"
            "，或者对方当事人同意履行义务而中断。从中断时起，仲裁时效期间重新计算。",
            "因不可抗力或者有其他正当理由，当事人不能在本条第一款规定的仲裁时效期间申请仲裁的"
            "，仲裁时效中止。从中止时效的原因消除之日起，仲裁时效期间继续计算。",
            "劳动关系存续期间因拖欠劳动报酬发生争议的，劳动者申请仲裁不受本条第一款规定的仲裁"
            "时效期间的限制；但是，劳动关系终止的，应当自劳动关系终止之日起一年内提出。",
        ),
    ),
    "labor_27_2": Article(
        "中华人民共和国劳动争议调解仲裁法",
        "第二十七条",
        (
            "前款规定的仲裁时效，因当事人一方向对方当事人主张权利，或者向有关部门请求权利救济"
            "，或者对方当事人同意履行义务而中断。从中断时起，仲裁时效期间重新计算。",
        ),
        para=2,
    ),
    "cpl_205": Article(
        "中华人民共和国民事诉讼法",
        "第二百零五条",
        (
            "经依法设立的调解组织调解达成调解协议，申请司法确认的，由双方当事人自调解协议生效"
            "之日起三十日内，共同向下列人民法院提出：",
            "（一）人民法院邀请调解组织开展先行调解的，向作出邀请的人民法院提出；",
            "（二）调解组织自行开展调解的，向当事人住所地、标的物所在地、调解组织所在地的基层"
            "人民法院提出；调解协议所涉纠纷应当由中级人民法院管辖的，向相应的中级人民法院提出"
            "。",
        ),
    ),
    "cpl_206": Article(
        "中华人民共和国民事诉讼法",
        "第二百零六条",
        (
            "人民法院受理申请后，经审查，符合法律规定的，裁定调解协议有效，一方当事人拒绝履行"
            "或者未全部履行的，对方当事人可以向人民法院申请执行；不符合法律规定的，裁定驳回申"
            "请，当事人可以通过调解方式变更原调解协议或者达成新的调解协议，也可以向人民法院提"
            "起诉讼。",
        ),
    ),
    "cpl_interp_355": Article(
        "最高人民法院关于适用《中华人民共和国民事诉讼法》的解释",
        "第三百五十五条",
        (
            "当事人申请司法确认调解协议，有下列情形之一的，人民法院裁定不予受理：",
            "（一）不属于人民法院受理范围的；",
            "（二）不属于收到申请的人民法院管辖的；",
            "（三）申请确认婚姻关系、亲子关系、收养关系等身份关系无效、有效或者解除的；",
            "（四）涉及适用其他特别程序、公示催告程序、破产程序审理的；",
            "（五）调解协议内容涉及物权、知识产权确权的。",
            "人民法院受理申请后，发现有上述不予受理情形的，应当裁定驳回当事人的申请。",
        ),
    ),
    "cpl_interp_358": Article(
        "最高人民法院关于适用《中华人民共和国民事诉讼法》的解释",
        "第三百五十八条",
        (
            "经审查，调解协议有下列情形之一的，人民法院应当裁定驳回申请：",
            "（一）违反法律强制性规定的；",
            "（二）损害国家利益、社会公共利益、他人合法权益的；",
            "（三）违背公序良俗的；",
            "（四）违反自愿原则的；",
            "（五）内容不明确的；",
            "（六）其他不能进行司法确认的情形。",
        ),
    ),
    # Who is bound (models/binding.py): a party applies for 司法确认 in person or through an agent the law
    # allows (the agent needs 特别授权 to dispose of the claims: 民诉法 第62条, not in ../shared/law).
    "cpl_interp_351": Article(
        "最高人民法院关于适用《中华人民共和国民事诉讼法》的解释",
        "第三百五十一条",
        (
            "申请司法确认调解协议的，双方当事人应当本人或者由符合民事诉讼法第六十一条规定的代理人依照"
            "民事诉讼法第二百零一条的规定提出申请。",
        ),
    ),
    # Ten or more workers with a common claim may elect representatives to take part in mediation.
    "labor_7": Article(
        "中华人民共和国劳动争议调解仲裁法",
        "第七条",
        ("发生劳动争议的劳动者一方在十人以上，并有共同请求的，可以推举代表参加调解、仲裁或者诉讼活动。",),
    ),
    # Parties' representatives in a petition: at most 5 (第三款).
    "petition_20_3": Article(
        "信访工作条例",
        "第二十条",
        ("多人采用走访形式提出共同的信访事项的，应当推选代表，代表人数不得超过5人。",),
        para=3,
    ),
    # Recusal of a court-invited mediator: the panel proposal leaves out conflicted experts.
    "invited_15": Article(
        "最高人民法院关于人民法院特邀调解的规定",
        "第十五条",
        (
            "特邀调解员有下列情形之一的，当事人有权申请回避：",
            "（一）是一方当事人或者其代理人近亲属的；",
            "（二）与纠纷有利害关系的；",
            "（三）与纠纷当事人、代理人有其他关系，可能影响公正调解的。",
            "特邀调解员有上述情形的，应当自行回避；但是双方当事人同意由该调解员调解的除外。",
            "特邀调解员的回避由特邀调解组织或者人民法院决定。",
        ),
    ),
    # The item a court refuses an unclear agreement under (issue 10: every term names who, what, when).
    "cpl_interp_358_5": Article(
        "最高人民法院关于适用《中华人民共和国民事诉讼法》的解释",
        "第三百五十八条",
        ("内容不明确的",),
        item=5,
    ),
    "special_20": Article(
        "最高人民法院关于人民法院特邀调解的规定",
        "第二十条",
        (
            "委托调解达成调解协议，特邀调解员应当向人民法院提交调解协议，由人民法院审查并制作"
            "调解书结案。达成调解协议后，当事人申请撤诉的，人民法院应当依法作出裁定。",
        ),
    ),
    # --- from agreement to enforcement (issue 20: flows/enforcement.py, documents/enforcement.py) ---
    "cpl_205_1": Article(
        "中华人民共和国民事诉讼法",
        "第二百零五条",
        ("人民法院邀请调解组织开展先行调解的，向作出邀请的人民法院提出",),
        item=1,
    ),
    "cpl_205_2": Article(
        "中华人民共和国民事诉讼法",
        "第二百零五条",
        (
            "调解组织自行开展调解的，向当事人住所地、标的物所在地、调解组织所在地的基层人民法院提出；"
            "调解协议所涉纠纷应当由中级人民法院管辖的，向相应的中级人民法院提出",
        ),
        item=2,
    ),
    "cpl_interp_354": Article(
        "最高人民法院关于适用《中华人民共和国民事诉讼法》的解释",
        "第三百五十四条",
        (
            "当事人申请司法确认调解协议，应当向人民法院提交调解协议、调解组织主持调解的证明，以及与调解协议"
            "相关的财产权利证明等材料，并提供双方当事人的身份、住所、联系方式等基本信息。",
            "当事人未提交上述材料的，人民法院应当要求当事人限期补交。",
        ),
    ),
    "cpl_interp_355_3": Article(
        "最高人民法院关于适用《中华人民共和国民事诉讼法》的解释",
        "第三百五十五条",
        ("申请确认婚姻关系、亲子关系、收养关系等身份关系无效、有效或者解除的",),
        item=3,
    ),
    "cpl_interp_355_5": Article(
        "最高人民法院关于适用《中华人民共和国民事诉讼法》的解释",
        "第三百五十五条",
        ("调解协议内容涉及物权、知识产权确权的",),
        item=5,
    ),
    "jc2011_3": Article(
        "最高人民法院关于人民调解协议司法确认程序的若干规定",
        "第三条",
        (
            "当事人申请确认调解协议，应当向人民法院提交司法确认申请书、调解协议和身份证明、资格证明，以及与"
            "调解协议相关的财产权利证明等证明材料，并提供双方当事人的送达地址、电话号码等联系方式。委托他人"
            "代为申请的，必须向人民法院提交由委托人签名或者盖章的授权委托书。",
        ),
    ),
    "cpl_225": Article(
        "中华人民共和国民事诉讼法",
        "第二百二十五条",
        (
            "债权人请求债务人给付金钱、有价证券，符合下列条件的，可以向有管辖权的基层人民法院申请支付令：",
            "（一）债权人与债务人没有其他债务纠纷的；",
            "（二）支付令能够送达债务人的。",
            "申请书应当写明请求给付金钱或者有价证券的数量和所根据的事实、证据。",
        ),
    ),
    "invited_19": Article(
        "最高人民法院关于人民法院特邀调解的规定",
        "第十九条",
        (
            "委派调解达成调解协议，特邀调解员应当将调解协议送达双方当事人，并提交人民法院备案。",
            "委派调解达成的调解协议，当事人可以依照民事诉讼法、人民调解法等法律申请司法确认。当事人申请司法"
            "确认的，由调解组织所在地或者委派调解的基层人民法院管辖。",
        ),
    ),
}

CITATIONS = ARTICLES


def citation(key: str) -> Article:
    return ARTICLES[key]


def cite_together(*keys: str) -> str:
    """Several articles, each statute named once: 《人民调解法》第二十三条、第二十四条，《…》第十五条."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        entry = ARTICLES[key]
        groups.setdefault(entry.short, []).append(entry.article_label)
    return "，".join(f"《{short}》{'、'.join(labels)}" for short, labels in groups.items())


# --- Which citation backs which clock ----------------------------------------------------------

CLOCK_CITATIONS: dict[str, str] = {
    "people_mediation": "rules2002_33",
    "labor": "labor_14_3",
    "court_pre_filing": "invited_27_1",
    "court_post_filing": "invited_27_2",
    "court_post_filing_summary": "invited_27_2",
    "petition_handle": "petition_34",
    "medical": "medical_38",
    "judicial_confirmation": "pml_33",
}


def clock_citation(clock: str) -> Article | None:
    key = CLOCK_CITATIONS.get(clock)
    return ARTICLES[key] if key else None


# --- 不予受理: 2002 规定 第22条 (reasons) and 第24条 (routes matched to the reason) -------------------

REJECTION_ITEM: dict[RejectionReason, str] = {
    RejectionReason.specialized_organ: "rules2002_22_1",
    RejectionReason.mediation_forbidden: "rules2002_22_1",
    RejectionReason.forest_ownership: "rules2002_22_1",
    RejectionReason.land_ownership: "rules2002_22_1",
    RejectionReason.court_accepted: "rules2002_22_2",
    RejectionReason.police_accepted: "rules2002_22_2",
    RejectionReason.admin_accepted: "rules2002_22_2",
}

# Words in a free-text reason (a CONTRACT v1 client sends only `reason`) → the 第22条 reason they name.
_REASON_WORDS: list[tuple[RejectionReason, tuple[str, ...]]] = [
    (RejectionReason.court_accepted, ("法院", "起诉", "诉讼", "立案")),
    (RejectionReason.police_accepted, ("公安", "派出所", "治安")),
    (RejectionReason.forest_ownership, ("林权", "林木", "林地")),
    (RejectionReason.land_ownership, ("土地所有权", "土地使用权", "土地权属", "宅基地使用权", "权属")),
    (RejectionReason.admin_accepted, ("行政机关", "人民政府", "仲裁委", "信访")),
    (RejectionReason.mediation_forbidden, ("禁止",)),
    (RejectionReason.specialized_organ, ("专门机关",)),
]


def infer_rejection_reason(text: str) -> RejectionReason | None:
    for reason, words in _REASON_WORDS:
        if any(w in text for w in words):
            return reason
    return None


@dataclass(frozen=True)
class Route:
    name: str  # what the party may do
    body: str  # before whom
    note: str = ""
    basis: Article | None = None  # quoted under the routes
    also: tuple[Article, ...] = ()  # further articles quoted for the same route

    @property
    def bases(self) -> tuple[Article, ...]:
        return ((self.basis,) if self.basis else ()) + self.also


# The organ the reason names ("已由飞云派出所受理"): printed instead of a generic "受理该案的公安机关".
_ACCEPTING_BODY: dict[RejectionReason, re.Pattern[str]] = {
    RejectionReason.police_accepted: re.compile(
        r"[\u4e00-\u9fa5]{2,16}(?:派出所|公安分局|公安局|交通警察大队)"
    ),
    RejectionReason.court_accepted: re.compile(r"[\u4e00-\u9fa5]{2,16}(?:人民法院|人民法庭)"),
}
_NOT_A_NAME = re.compile(r"^.*(?:已由|已经|已在|由|经|向|被|在)")


def accepting_body(reason: RejectionReason, text: str | None) -> str | None:
    """The police station or court named in the free-text reason, if any."""
    pattern = _ACCEPTING_BODY.get(reason)
    match = pattern.search(text or "") if pattern else None
    if match is None:
        return None
    name = _NOT_A_NAME.sub("", match.group(0))
    return name if len(name) > 3 else None


def rejection_routes(
    reason: RejectionReason,
    *,
    category: str,
    court_name: str,
    town: str,
    all_organizations: bool,
    accepted_by: str | None = None,
) -> list[Route]:
    """The routes 2002 规定 第24条 tells, matched to the reason (issue 10):
    - a court already accepted the case: no new lawsuit to tell of; the case stays with that court;
    - no 行政复议 between private parties;
    - 林权 / land ownership: the people's government handles it first (森林法 第22条, 土地管理法 第14条)."""
    if reason == RejectionReason.court_accepted:
        return [
            Route(
                "由已受理的人民法院依法处理",
                accepted_by or "受理该案的人民法院",
                "可以在诉讼中向受理法院申请调解或者自行和解",
            )
        ]
    if reason == RejectionReason.police_accepted:
        return [
            Route("由已受理的公安机关依法处理", accepted_by or "受理该案的公安机关"),
            Route(
                "就其中的民事争议向人民法院提起民事诉讼",
                court_name,
                "公安机关调解不成或者不处理民事部分的",
            ),
        ]
    if reason == RejectionReason.admin_accepted:
        return [
            Route(
                "由已受理的行政机关依法处理",
                "受理该事项的行政机关",
                "对其处理不服的，按照该机关告知的途径依法主张权利",
            )
        ]
    if reason in (RejectionReason.forest_ownership, RejectionReason.land_ownership):
        basis = ARTICLES["forest_22" if reason == RejectionReason.forest_ownership else "land_14"]
        local = "乡镇人民政府" if reason == RejectionReason.forest_ownership else "乡级人民政府"
        government = "县级以上人民政府" if all_organizations else f"{town}{local}或者县级以上人民政府"
        return [
            Route("申请人民政府依法处理权属争议", government, basis=basis),
            Route(
                "对人民政府的处理决定不服的，向人民法院起诉",
                court_name,
                "自接到处理决定通知之日起三十日内",
            ),
        ]
    routes = []
    if category == Category.labor:
        routes.append(Route("申请劳动争议仲裁", "劳动人事争议仲裁委员会", basis=ARTICLES["labor_27"]))
    routes.append(Route("按照法律、法规规定提请有关机关处理", "依法有权处理该纠纷的机关"))
    if reason == RejectionReason.specialized_organ and category != Category.labor:
        routes.append(Route("依法向人民法院提起诉讼", court_name, "法律规定可以起诉的"))
    return routes


# --- 终止调解: the routes 人民调解法 第26条 tells, by regime -------------------------------------------


def termination_routes(
    *, category: str, referral_kind: str | None, court_name: str, town: str, all_organizations: bool
) -> list[Route]:
    """The parties' other routes when mediation failed or ended (人民调解法 第26条), matched to the regime
    (issue 10): a court's referral goes back to that court (特邀调解规定 第21条); a labor dispute goes to
    arbitration first; 林权 and land ownership to the people's government first (森林法 第22条, 土地管理法
    第14条); a medical dispute may go to the health authority's administrative mediation (医疗条例 第40条)
    or to court (第43条). Never 行政复议: the parties are private parties, there is no administrative act."""
    from models.enums import ReferralKind

    court_route = Route("向人民法院提起诉讼", court_name, "依照民事诉讼法的规定")
    if referral_kind == ReferralKind.court_pre_filing:
        return [
            Route(
                "由本委员会将起诉状等材料移送委派的人民法院，当事人坚持诉讼的，由人民法院依法登记立案",
                court_name,
                basis=ARTICLES["invited_21"],
            )
        ]
    if referral_kind == ReferralKind.court_post_filing:
        return [Route("由委托的人民法院转入审判程序审理", court_name, basis=ARTICLES["invited_21"])]
    if category == Category.labor:
        return [
            Route(
                "申请劳动争议仲裁",
                "劳动人事争议仲裁委员会",
                "对仲裁裁决不服的，依法向人民法院起诉",
                basis=ARTICLES["labor_27"],
            )
        ]
    if category in (Category.forest_land, Category.housing_land):
        keys = ("forest_22", "land_14") if category == Category.forest_land else ("land_14",)
        government = "县级以上人民政府" if all_organizations else f"{town}人民政府或者县级以上人民政府"
        return [
            Route(
                "属于林木、林地或者土地所有权、使用权争议的，申请人民政府依法处理"
                if category == Category.forest_land
                else "属于土地所有权、使用权争议的，申请人民政府依法处理",
                government,
                "对人民政府的处理决定不服的，自接到处理决定通知之日起三十日内向人民法院起诉",
                basis=ARTICLES[keys[0]],
                also=tuple(ARTICLES[k] for k in keys[1:]),
            ),
            Route("其他民事争议，向人民法院提起诉讼", court_name, "依照民事诉讼法的规定"),
        ]
    if category == Category.medical:
        return [
            Route(
                "申请医疗纠纷行政调解",
                "医疗纠纷发生地县级人民政府卫生主管部门",
                basis=ARTICLES["medical_40_1"],
            ),
            Route("向人民法院提起诉讼", court_name, basis=ARTICLES["medical_43"]),
        ]
    if category == Category.village_affairs:
        return [
            Route("就村务、集体资产事项请求乡镇人民政府依法处理", f"{town}人民政府"),
            court_route,
        ]
    return [court_route]


# --- Which case prints the limitation-interruption sentence (issue 19) ------------------------------

# A claim to have ownership or a use right confirmed (确权): "请求确认该片林木归申请人所有".
_OWNERSHIP_CLAIM = re.compile(r"确权|确认.{0,30}(所有|使用权|归属|权属)|权属争议")


def is_ownership_claim(claims: str | None, *, rights_confirmation: bool = False) -> bool:
    """A 确权 claim: no limitation period runs against it (民法典 第196条 lists the claims outside the
    limitation rules; a confirmation of ownership is not a 请求权 at all), so nothing is "interrupted"."""
    return rights_confirmation or bool(_OWNERSHIP_CLAIM.search(claims or ""))


def government_route(category: str, claims: str | None) -> Article | None:
    """The article that routes a 林权 or land ownership dispute to the people's government first (森林法
    第22条, 土地管理法 第14条): printed on acceptance so nobody takes mediation for the government's
    decision."""
    if not is_ownership_claim(claims):
        return None
    if category == Category.forest_land:
        return ARTICLES["forest_22"]
    if category == Category.housing_land:
        return ARTICLES["land_14"]
    return None


def prints_limitation_interruption(
    *, applied: bool, referral_kind: str | None, claims: str | None, rights_confirmation: bool = False
) -> bool:
    """Whether "申请人民调解之日起诉讼时效中断" (民法典 第195条第（四）项) may be printed: only where a party
    applied for people's mediation (not on the committee's own initiative, not on a court's referral:
    no party applied to us), and not on a 确权 claim (民法典 第196条: no limitation period)."""
    if referral_kind or not applied:
        return False
    return not is_ownership_claim(claims, rights_confirmation=rights_confirmation)
