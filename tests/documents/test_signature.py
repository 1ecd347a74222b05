"""Issue 21 point 6: every issued PDF carries the center's PAdES signature. Checked with pyHanko's own
validation against the certificate read from the data dir (not through documents/signing.py's check):
each document the test cases issue (tests/documents/test_wording.py calls assert_every_issued_pdf_signed)
is signed over the whole file and intact, the recorded SHA-256 is of the signed bytes, and one changed
byte breaks it. /verify takes an uploaded file (JSON and page)."""

from __future__ import annotations

import hashlib
from io import BytesIO
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from sqlmodel import Session, col, select

from models.document import Document
from models.settings import get_settings

pytestmark = pytest.mark.postgres


def center_certificate():
    """The certificate the self-signed PKCS#12 in the data dir holds, as pyHanko's validation takes it."""
    from asn1crypto import x509

    data = (get_settings().data_dir / "signing" / "center.p12").read_bytes()
    _key, cert, _chain = pkcs12.load_key_and_certificates(data, None)
    assert cert is not None
    return x509.Certificate.load(cert.public_bytes(Encoding.DER))


def validate_signature(pdf: bytes, trust) -> tuple[bool, bool, SignatureCoverageLevel | None]:
    """pyHanko's own validation; on a thread of its own, since its synchronous API refuses to run where
    an event loop is running (an earlier browser test's Playwright may leave one in this worker)."""
    from concurrent.futures import ThreadPoolExecutor

    def check() -> tuple[bool, bool, SignatureCoverageLevel | None]:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        (signature,) = reader.embedded_signatures
        context = ValidationContext(trust_roots=[trust], allow_fetching=False)
        status = validate_pdf_signature(signature, context)
        return status.intact, status.valid, status.coverage

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(check).result()


def _flip_a_content_byte(pdf: bytes) -> bytes:
    """One byte changed inside the first page content stream (covered by the signature)."""
    start = pdf.index(b"stream\n") + len(b"stream\n") + 20
    changed = bytearray(pdf)
    changed[start] ^= 0x01
    return bytes(changed)


def assert_every_issued_pdf_signed(engine) -> None:
    """Called by tests/documents/test_wording.py on the documents of its driven cases (issuing that world
    once serves both: it takes minutes): each is signed over the whole file and intact, its recorded
    SHA-256 is of the signed bytes, and one changed byte breaks the signature."""
    with Session(engine) as session:
        docs = session.exec(select(Document).order_by(col(Document.id))).all()
    assert len({d.kind for d in docs}) >= 12
    trust = center_certificate()
    for doc in docs:
        pdf = (Path(get_settings().data_dir) / doc.path).read_bytes()
        assert hashlib.sha256(pdf).hexdigest() == doc.sha256, doc.kind
        assert validate_signature(pdf, trust) == (True, True, SignatureCoverageLevel.ENTIRE_FILE), doc.kind
    agreement = next(d for d in docs if d.kind == "agreement")
    pdf = (Path(get_settings().data_dir) / agreement.path).read_bytes()
    intact, _valid, _coverage = validate_signature(_flip_a_content_byte(pdf), trust)
    assert intact is False


def _one_issued(engine) -> tuple[Document, bytes]:
    """A document issued through the one issuing path (the weekly backlog report needs no case)."""
    from documents.issue import issue_document
    from models.db import session_scope

    settings = get_settings()
    with session_scope(engine, write=True) as session:
        doc = issue_document(
            session,
            case_id=None,
            kind="backlog_report",
            subject_key="backlog:2026-W49",
            data_dir=settings.data_dir,
            base_url=settings.public_base_url,
        )
        session.expunge(doc)
    return doc, (Path(settings.data_dir) / doc.path).read_bytes()


def test_verify_upload_matches_the_issued_file_and_refuses_a_changed_one(engine, client) -> None:
    doc, pdf = _one_issued(engine)

    ok = client.post("/api/v1/verify", files={"file": ("协议书.pdf", pdf, "application/pdf")})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["match"] is True and body["sha256"] == doc.sha256
    assert body["document"]["kind"] == "backlog_report" and body["document"]["sha256"] == doc.sha256
    assert body["signature"] | {"signed_at": None} == {
        "signed": True,
        "intact": True,
        "ours": True,
        "signer": get_settings().center_name,
        "signed_at": None,
    }
    assert "原件" in body["verdict"] and "完好" in body["verdict"]

    changed = _flip_a_content_byte(pdf)
    bad = client.post("/api/v1/verify", files={"file": ("协议书.pdf", changed, "application/pdf")})
    assert bad.status_code == 200
    body = bad.json()
    assert body["match"] is False and body["document"] is None
    assert (body["signature"]["signed"], body["signature"]["intact"]) == (True, False)
    assert "改动" in body["verdict"]

    # Something appended after signing (an incremental update) is not the issued file either.
    appended = client.post("/api/v1/verify", files={"file": ("a.pdf", pdf + b"\n%%EOF\n", "application/pdf")})
    assert appended.json()["match"] is False and appended.json()["signature"]["intact"] is False

    # Not a PDF at all: an answer, not an error.
    junk = client.post("/api/v1/verify", files={"file": ("a.txt", b"hello", "text/plain")})
    assert junk.status_code == 200 and junk.json()["signature"]["signed"] is False

    # The page: the form is offered, the upload answered in Chinese.
    form = client.get("/verify", headers={"Accept": "text/html"})
    assert 'enctype="multipart/form-data"' in form.text and 'name="file"' in form.text
    page = client.post(
        "/verify", files={"file": ("协议书.pdf", pdf, "application/pdf")}, headers={"Accept": "text/html"}
    )
    assert page.status_code == 200 and "文书原件核验通过" in page.text and doc.sha256 in page.text
    page = client.post(
        "/verify", files={"file": ("协议书.pdf", changed, "application/pdf")}, headers={"Accept": "text/html"}
    )
    assert "文书原件核验未通过" in page.text and "签名后内容已被改动" in page.text


def test_a_configured_pkcs12_certificate_signs_and_a_wrong_password_is_said(tmp_path: Path) -> None:
    """TIAOJIE_SIGNING_CERT (PKCS#12, with its password) is used instead of the self-signed one."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption
    from cryptography.x509.oid import NameOID

    from documents.render import html_to_pdf
    from documents.signing import check_signature, sign_pdf
    from models.settings import Settings

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "测试调解委员会")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "center.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(b"c", key, cert, None, BestAvailableEncryption(b"pw"))
    )
    settings = Settings(data_dir=tmp_path / "data", signing_cert=path, signing_cert_password="pw")
    signed = sign_pdf(html_to_pdf("<p>调解</p>"), settings=settings)
    check = check_signature(signed, settings=settings)
    assert (check.signed, check.intact, check.ours, check.signer_name) == (True, True, True, "测试调解委员会")
    # Not the self-signed one: none was made.
    assert not (tmp_path / "data" / "signing").exists()
    wrong = Settings(data_dir=tmp_path / "data", signing_cert=path, signing_cert_password="nope")
    with pytest.raises(ValueError, match="无法读取签名证书"):
        sign_pdf(b"%PDF-1.7", settings=wrong)
