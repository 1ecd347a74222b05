"""Every kind renders from its example; the PDF carries the fields, page numbers and embedded CJK fonts."""

from __future__ import annotations

import hashlib
import io
import json
import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pypdf import PdfReader

from documents.render import KINDS, ContextError, html_to_pdf, render_html, render_pdf, template_environment
from documents.shapes import KIND_SHAPES, KIND_TITLES
from tests.documents.examples import example

# What each kind must show (compared with whitespace removed).
KEY_TEXT = {
    "application": [
        "人民调解申请书",
        "张建国",
        "瑞安市鼎泰建设工程有限公司",
        "320,000.00元",
        "来访",
        "受理意见",
        "522501197503120311",
        "郭长生",
        "群体性纠纷",
    ],
    "acceptance_notice": [
        "人民调解受理通知书",
        "予以受理",
        "若干规定》第二十三条第一款",
        "金学文",
        "2026年11月17日届满",
        "劳动争议调解仲裁法》第十四条",
        "第二十三条",
    ],
    "rejection_notice": ["不予受理通知书", "黄美玲", "不予受理", "第二十二条", "申请强制执行"],
    "respondent_notice": ["征询意见", "瑞安市鼎泰建设工程有限公司", "第十七条", "不同意调解"],
    "session_record": [
        "人民调解记录",
        "第2次调解",
        "瑞安市矛调中心第三调解室",
        "调解主持人",
        "记录人",
        "达成协议",
        "保障农民工工资支付条例",
    ],
    "agreement": [
        "人民调解协议书",
        "纠纷的主要事实",
        "争议事项",
        "各方当事人的责任",
        "协议内容",
        "履行方式、地点和期限",
        "人民币贰拾万元整",
        "人民币壹拾贰万元整",
        "200,000.00元",
        "2026年11月20日前履行完毕",
        "91330381MA2HK7Q34N",
        "陈立华",
        "法定代表人",
        "林晓东",
        "委托代理人",
        "本协议书一式20份",
        "自本协议生效之日起三十日内",
        "瑞安市人民法院",
        "本协议自各方当事人签名（盖章或按指印）、人民调解员签名并加盖人民调解委员会印章之日起生效",
        "调解主持人",
        "记录人",
        "蔡佳怡",
        "7K3M-9QXW-2D4F-H8RT",
        "签名（盖章或按指印）",
    ],
    "termination_notice": [
        "终止人民调解告知书",
        "第二十六条",
        "终止调解",
        "仲裁",
        "瑞安市劳动人事争议仲裁委员会",
        "瑞安市人民法院",
        "劳动保障监察",
    ],
    "follow_up_record": ["人民调解协议履行回访记录", "第一次回访", "第二次回访", "已履行", "建议结案归档"],
    "supervision_order": [
        "矛盾纠纷督办单",
        "镇街领导督办",
        "瑞调督〔2026〕第0042号",
        "超期天数",
        "19日",
        "2026年11月23日前",
    ],
    "clock_notice": [
        "调解期限中止、恢复计算告知书",
        "吴海燕、瑞安市某医院",
        "本委员会已于2026年1月26日恢复计算调解期限（已收到医疗损害鉴定意见）",
        "中止期间的10个工作日不计入调解期限，调解期限的最后一日为2026年3月6日",
        "需要鉴定的，鉴定时间不计入调解期限。",
    ],
    "backlog_report": [
        "矛盾纠纷积案情况报表",
        "486",
        "91.3%",
        "塘下镇",
        "90日以上",
        "在办",
        "超期",
        "瑞调〔2026〕00003号",
        "市领导包案",
    ],
    # CONTRACT v1.2 (issue 19): the notices addressed to one party and the 送达回证.
    "panel_notice": [
        "调解员（专班）告知书",
        "林国强",
        "调解主持人",
        "周明",
        "法律顾问",
        "申请回避",
        "第十九条",
    ],
    "session_notice": ["调解通知书", "调解改期通知", "2026年11月10日9时30分", "中心第一调解室", "请携带"],
    "delivery_receipt": [
        "送达回证",
        "调解通知书",
        "张建国",
        "直接送达",
        "2026年11月6日",
        "李秀英",
        "同住成年家属",
    ],
    # Issue 20: from agreement to enforcement.
    "judicial_confirmation_application": [
        "司法确认申请书",
        "请求事项",
        "第二百零五条第（二）项",
        "最后一日为2027年1月6日",
        "此致",
        "申请人签名",
    ],
    "mediation_certificate": ["调解组织主持调解的证明", "金学文", "共主持调解1次", "特此证明"],
    "payment_order_application": [
        "支付令申请书",
        "申请人（债权人）",
        "人民币壹万捌仟元整",
        "第二百二十五条",
        "第十六条",
    ],
    "court_filing": ["委派调解协议备案函", "(2026)浙0381民诉前调1234号", "K7M2-Q9XD-4TRA-8WEN", "第十九条"],
    "court_return": ["委派（委托）调解终结移交函", "起诉状等材料", "第二十一条"],
}


def test_every_contract_kind_has_a_template_shape_and_example() -> None:
    contract_kinds = {
        "application",
        "acceptance_notice",
        "rejection_notice",
        "respondent_notice",
        "clock_notice",  # issue 19: 调解期限中止、恢复计算告知书
        "session_record",
        "agreement",
        "termination_notice",
        "follow_up_record",
        "supervision_order",
        "backlog_report",
        "panel_notice",
        "session_notice",
        "delivery_receipt",
        # CONTRACT v1.2, issue 20 (the 卷宗 is another branch's)
        "judicial_confirmation_application",
        "mediation_certificate",
        "payment_order_application",
        "court_filing",
        "court_return",
    }
    assert set(KINDS) == contract_kinds == set(KIND_SHAPES) == set(KIND_TITLES) == set(KEY_TEXT)


@pytest.mark.parametrize("kind", KINDS)
def test_pdf_text_has_key_fields_case_number_and_page_numbers(rendered, kind: str) -> None:
    doc = rendered[kind]
    assert doc.pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(doc.pdf))
    pages = len(reader.pages)
    assert pages >= 1
    text = doc.compact_text()
    for needle in KEY_TEXT[kind]:
        assert needle in text, f"{kind}: {needle!r} missing"
    assert doc.context["case_no"] in text
    assert doc.context["committee"]["name"] in text
    # The footer "第 N 页 共 M 页" on each page, with that page's number (pdftotext separates pages with a
    # form feed and drops the thin spaces around CJK).
    page_texts = ["".join(t.split()) for t in doc.text().split("\f")[:pages]]
    assert [f"第{number}页共{pages}页" in t for number, t in enumerate(page_texts, 1)] == [True] * pages
    # pypdf reads the same text layer.
    assert KIND_TITLES[kind] in "".join(reader.pages[0].extract_text().split())


@pytest.mark.parametrize("kind", KINDS)
def test_cjk_fonts_are_embedded(rendered, kind: str) -> None:
    out = subprocess.run(
        ["pdffonts", str(rendered[kind].path)], check=True, capture_output=True, text=True
    ).stdout
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    assert rows, out
    for row in rows:
        # The print CSS's serif CJK stack everywhere, the page-number footer included: no fallback font
        # (a sans or Latin face would show up here). Subset names read "ABCDEF+Noto-Serif-CJK-SC".
        assert row[0].split("+")[-1] in ("Noto-Serif-CJK-SC", "Noto-Serif-CJK-SC-Bold"), out
        # columns: name type... encoding emb sub uni object ID; emb is 5th from the end
        assert row[-5] == "yes", f"font not embedded: {row}"


@pytest.mark.parametrize("kind", KINDS)
def test_every_page_is_a4_portrait(rendered, kind: str) -> None:
    a4 = (595.28, 841.89)  # 210 × 297 mm in PDF points
    for page in PdfReader(io.BytesIO(rendered[kind].pdf)).pages:
        size = (float(page.mediabox.width), float(page.mediabox.height))
        assert size == pytest.approx(a4, abs=0.5), kind


def test_agreement_states_what_the_law_requires(rendered) -> None:
    doc = rendered["agreement"]
    text = doc.compact_text()
    ctx = doc.context
    # 人民调解法 第29条 / 2002 规定 第35条: basic info of every party, each one signs.
    for party in ctx["parties"]:
        assert party["name"] in text
        if party["kind"] == "person":
            assert party["id_number"] in text
            assert party["phone"] in text
        else:
            assert party["org_code"] in text and party["legal_rep"] in text
    assert "郑晓雯" in text and "特别授权" in text  # agents
    # One copy per party plus the committee's.
    assert f"一式{len(ctx['parties']) + 1}份" in text
    # Every term: obligor, obligation, figures and capitals, due date.
    assert text.count("大写：人民币") == sum(1 for t in ctx["terms"] if t.get("amount"))
    assert "人民币120,000.00元（大写：人民币壹拾贰万元整）" in text
    assert "2026年12月15日前履行完毕" in text
    # Signature lines for each party, the presiding mediator and the recorder; the committee seal box.
    assert text.count("年月日") >= len(ctx["parties"]) + 2
    # Table cells come out of pdftotext in no reliable order: check the row in the HTML, the names in the PDF.
    assert re.search(r"调解主持人（人民调解员）</td><td[^>]*>金学文</td>", doc.html)
    assert re.search(r"记录人</td><td[^>]*>蔡佳怡</td>", doc.html)
    assert "金学文" in text and "蔡佳怡" in text
    assert "人民调解委员会印章" in text
    assert "不适用电子签名" not in text


def test_ink_only_agreement_says_it_is_signed_in_ink(rendered) -> None:
    text = rendered["ink_agreement"].compact_text()
    assert "不适用电子签名" in text
    assert "本协议书一式3份" in text
    assert "人民币壹拾伍万元整" in text
    assert "64岁" in text


def test_agreement_qr_code_decodes_to_the_verify_url(rendered, tmp_path) -> None:
    """The QR code on the agreement's last page, read back from the rendered page by a decoder."""
    import zxingcpp
    from PIL import Image

    doc = rendered["agreement"]
    url = "https://tiaojie.ruian.example/verify/7K3M-9QXW-2D4F-H8RT"  # the example's base URL and code
    assert url in doc.compact_text()  # printed next to the code too
    pages = len(PdfReader(io.BytesIO(doc.pdf)).pages)
    prefix = tmp_path / "page"
    subprocess.run(
        ["pdftoppm", "-r", "150", "-f", str(pages), "-l", str(pages), "-png", str(doc.path), str(prefix)],
        check=True,
    )
    image = Image.open(next(tmp_path.glob("page*.png")))
    results = zxingcpp.read_barcodes(image)
    assert [r.text for r in results if r.format == zxingcpp.BarcodeFormat.QRCode] == [url]


def test_rendering_is_deterministic(rendered) -> None:
    """Same context → same bytes → same sha256, so a retried flow archives nothing new."""
    from documents.render import render_pdf

    assert render_pdf("rejection_notice", example("rejection_notice")) == rendered["rejection_notice"].pdf


def test_missing_required_field_is_a_clear_error() -> None:
    context = example("agreement")
    del context["court_name"]
    with pytest.raises(ContextError, match="court_name"):
        render_html("agreement", context)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown document kind"):
        render_html("../../etc/passwd", example("agreement"))


def test_autoescape_is_on_for_every_template() -> None:
    env = template_environment()
    assert env.autoescape is True
    for name in env.list_templates():
        assert "<style" not in env.loader.get_source(env, name)[0], f"{name}: CSS belongs in print.css"


# --- many threads at once -----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
COMMITTEE = {"name": "瑞安市矛盾纠纷调处化解中心人民调解委员会"}
# Small real documents (each kind's required fields, short texts): 500 of them fit in about a minute.
SOAK_INPUTS: dict[str, tuple[str, dict]] = {
    "follow_up": (
        "follow_up_record",
        {
            "committee": COMMITTEE,
            "case_no": "瑞调〔2026〕00017号",
            "subject": "张某与李某相邻关系纠纷",
            "agreement_on": "2026-11-20",
            "visits": [],
            "conclusion": "已全部履行，建议结案",
            "all_performed": True,
        },
    ),
    "termination": (
        "termination_notice",
        {
            "committee": COMMITTEE,
            "case_no": "瑞调〔2026〕00018号",
            "addressees": ["张某"],
            "subject": "张某与李某借款纠纷",
            "accepted_on": "2026-11-02",
            "terminated_on": "2026-11-30",
            "reason": "一方当事人明确拒绝继续调解",
            "routes": [{"name": "提起诉讼", "body": "瑞安市人民法院"}],
        },
    ),
}
# One-line slips between the documents: the same shared fonts and layouts at a quarter of a document's
# cost, so that 500 renders fit in a minute on this 2-core machine (54 s idle). Without the renderer's lock
# this soak printed 357 GLib complaints.
SOAK_SLIP = "<h1>送达回证</h1><p>瑞调〔2026〕00019号　张某　2026年11月30日</p>"
SOAK_ORDER = ("follow_up", "slip", "slip", "termination", "slip", "slip")
SOAK_MARKERS = ("corrupted", "double free", "GLib", "CRITICAL", "WARNING **")


def _soak_render(name: str) -> bytes:
    if name == "slip":
        return html_to_pdf(SOAK_SLIP)
    kind, context = SOAK_INPUTS[name]
    return render_pdf(kind, context)


def soak(threads: int = 8, total: int = 500) -> None:
    """Render `total` documents on `threads` threads started together, cycling through SOAK_INPUTS, and
    print {input: [sha256 of every distinct output]} as JSON. Run in a child process by the test below:
    heap corruption there aborts the child or shows on its stderr, not in pytest's process."""
    jobs: queue.SimpleQueue[str] = queue.SimpleQueue()
    for n in range(total):
        jobs.put(SOAK_ORDER[n % len(SOAK_ORDER)])
    seen: dict[str, set[str]] = {name: set() for name in SOAK_ORDER}
    done: list[str] = []
    start = threading.Barrier(threads)

    def work() -> None:
        start.wait()
        while True:
            try:
                name = jobs.get_nowait()
            except queue.Empty:
                return
            pdf = _soak_render(name)
            seen[name].add(hashlib.sha256(pdf).hexdigest())  # set.add and list.append are atomic
            done.append(name)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # The soak runs in a child process; its parent reads this line.
    print(json.dumps({"rendered": len(done), "outputs": {name: sorted(shas) for name, shas in seen.items()}}))  # noqa: T201


@pytest.mark.slow
def test_eight_threads_render_500_documents_identically_without_heap_errors() -> None:
    """The relay renders on several threads: 8 threads × 500 documents in a child process exit 0, with no
    glibc or GLib complaint on stderr, and every output is byte-identical to this process's own render of
    the same input (so nothing to normalize: checked below that the PDF has no /ID and no date)."""
    env = {
        **os.environ,
        "LIBC_FATAL_STDERR_": "1",  # glibc's "corrupted ..." / "double free" to stderr, not the tty
        "MALLOC_ARENA_MAX": "2",  # as tiaojie serve and worker run (runtime.memory.limit_arenas)
    }
    code = "from tests.documents.test_render import soak; soak(threads=8, total=500)"
    try:
        child = subprocess.run(
            [sys.executable, "-X", "faulthandler", "-c", code],  # a crash prints every thread's stack
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=570,  # a hang fails here, inside pytest's own 600 s
        )
    except subprocess.TimeoutExpired as hung:
        stderr = hung.stderr.decode(errors="replace") if isinstance(hung.stderr, bytes) else hung.stderr
        pytest.fail(f"the soak did not end in {hung.timeout} s; its stderr: {(stderr or '')[-3000:]}")
    complaints = [line for line in child.stderr.splitlines() if any(m in line for m in SOAK_MARKERS)]
    assert complaints == [], child.stderr[-3000:]
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["rendered"] == 500
    for name in set(SOAK_ORDER):
        pdf = _soak_render(name)
        reader = PdfReader(io.BytesIO(pdf))
        assert "/ID" not in reader.trailer
        assert reader.metadata is None or not ({"/CreationDate", "/ModDate"} & set(reader.metadata))
        title = "送达回证" if name == "slip" else KIND_TITLES[SOAK_INPUTS[name][0]]
        assert title in "".join(reader.pages[0].extract_text().split())
        assert result["outputs"][name] == [hashlib.sha256(pdf).hexdigest()], name
