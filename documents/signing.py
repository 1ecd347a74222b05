"""The center's PDF digital signature (PAdES, pyHanko) on every issued PDF, and its check.

A reader's PDF viewer shows the signature and any change made after issue, with or without our server
(电子签名法 第十三、十四条: a reliable electronic signature, any change after signing detectable).
The certificate is the PKCS#12 file TIAOJIE_SIGNING_CERT (password TIAOJIE_SIGNING_CERT_PASSWORD), else
the center's self-signed one that `tiaojie init` (or the first issue) makes in {data_dir}/signing/ (0600).
The signer is loaded once per process and per certificate file: signing costs a few milliseconds more than
writing the PDF, not a key load per document.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from models.settings import Settings, get_settings

SIGNATURE_FIELD = "CenterSignature"
SELF_SIGNED_NAME = "center.p12"
_lock = threading.Lock()
_signers: dict[tuple[str, float, bytes | None], Any] = {}
_side: ThreadPoolExecutor | None = None


def self_signed_path(settings: Settings) -> Path:
    return settings.data_dir / "signing" / SELF_SIGNED_NAME


def make_self_signed(path: Path, *, common_name: str, now: datetime | None = None) -> bool:
    """Create the center's self-signed signing certificate (PKCS#12, no password: the file is 0600 in
    the 0700 data dir, like the secret key). False when one is already there (never replaced: documents
    already issued name it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if path.exists():
        return False
    now = now or datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, common_name),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .sign(key, hashes.SHA256())
    )
    data = pkcs12.serialize_key_and_certificates(
        common_name.encode(), key, cert, None, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Written aside, then linked in: two processes making it at once end with one certificate, whole.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True


def certificate_source(settings: Settings | None = None) -> tuple[Path, bytes | None]:
    """The PKCS#12 file to sign with and its password; the self-signed one is made when missing."""
    settings = settings or get_settings()
    if settings.signing_cert:
        password = settings.signing_cert_password
        return settings.signing_cert, password.encode() if password else None
    path = self_signed_path(settings)
    if not path.exists():
        settings.ensure_data_dir()
        make_self_signed(path, common_name=settings.center_name)
    return path, None


def _key_keeping_signer() -> type:
    """pyHanko's SimpleSigner parses the private key again for every signature (≈ 35 ms for RSA, the
    key's consistency checks): this one parses it once."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ec import ECDSA
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from pyhanko.sign.general import get_pyca_cryptography_hash
    from pyhanko.sign.signers import SimpleSigner

    class KeyKeepingSigner(SimpleSigner):
        _private_key: Any = None

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
            if mechanism not in ("rsassa_pkcs1v15", "ecdsa"):
                return super().sign_raw(data, digest_algorithm)
            if self._private_key is None:
                self._private_key = serialization.load_der_private_key(self.signing_key.dump(), None)
            digest = get_pyca_cryptography_hash(digest_algorithm)
            if mechanism == "ecdsa":
                return self._private_key.sign(data, ECDSA(digest))
            return self._private_key.sign(data, PKCS1v15(), digest)

    return KeyKeepingSigner


def signer(settings: Settings | None = None) -> Any:
    """The loaded signer (a pyHanko SimpleSigner), kept while its file is unchanged."""
    from pyhanko.sign import signers

    path, password = certificate_source(settings)
    key = (str(path.resolve()), path.stat().st_mtime, password)
    with _lock:
        loaded = _signers.get(key)
        if loaded is None:
            try:
                plain = signers.SimpleSigner.load_pkcs12_data(path.read_bytes(), (), passphrase=password)
            except ValueError as exc:
                raise ValueError(f"无法读取签名证书 {path}（文件或密码不对）") from exc
            loaded = _key_keeping_signer()(
                signing_key=plain.signing_key,
                signing_cert=plain.signing_cert,
                cert_registry=plain.cert_registry,
                signature_mechanism=plain.signature_mechanism,
            )
            _signers.clear()
            _signers[key] = loaded
        return loaded


def _run(coro_factory: Any) -> Any:
    """Run pyHanko's coroutine from synchronous code, also where this thread already runs an event loop
    (a Prefect task inside an async flow): then on a side thread of its own."""
    global _side
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro_factory())
    with _lock:
        if _side is None:
            _side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tiaojie-sign")
    return _side.submit(lambda: asyncio.run(coro_factory())).result()


def sign_pdf(pdf: bytes, *, settings: Settings | None = None) -> bytes:
    """The PDF with the center's PAdES signature over the whole file (an incremental update)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    settings = settings or get_settings()
    the_signer = signer(settings)
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        name=settings.center_name,
        reason="出具文书",
    )

    async def sign() -> bytes:
        writer = IncrementalPdfFileWriter(BytesIO(pdf))
        # Room reserved up front: no trial signature to measure it (half the signing time). 16 KiB holds
        # the signature and a CA chain of several certificates.
        out = await signers.async_sign_pdf(writer, meta, signer=the_signer, bytes_reserved=16384)
        return out.getvalue()

    return _run(sign)


@dataclass(frozen=True)
class SignatureCheck:
    signed: bool  # a signature of the center's field is there
    intact: bool  # the signed bytes are unchanged and cover the whole file (nothing added after)
    ours: bool  # made with this installation's signing certificate
    signer_name: str | None
    signed_at: datetime | None


NOT_SIGNED = SignatureCheck(signed=False, intact=False, ours=False, signer_name=None, signed_at=None)


def check_signature(pdf: bytes, *, settings: Settings | None = None) -> SignatureCheck:
    """What pyHanko's validation says of the center's signature on `pdf`, trusting our certificate."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        embedded = [s for s in reader.embedded_signatures if s.field_name == SIGNATURE_FIELD]
    except Exception:  # not a PDF, or one too broken to read: nothing signed to speak of
        return NOT_SIGNED
    if not embedded:
        return NOT_SIGNED
    own_cert = signer(settings).signing_cert
    context = ValidationContext(trust_roots=[own_cert], allow_fetching=False)

    async def validate() -> Any:
        return await async_validate_pdf_signature(embedded[-1], context)

    try:
        status = _run(validate)
    except Exception:  # a malformed signature dictionary: there, but not intact
        return SignatureCheck(signed=True, intact=False, ours=False, signer_name=None, signed_at=None)
    intact = bool(status.intact and status.valid and status.coverage == SignatureCoverageLevel.ENTIRE_FILE)
    cert = status.signing_cert
    name = None
    with contextlib.suppress(Exception):
        name = cert.subject.native.get("common_name")
    return SignatureCheck(
        signed=True,
        intact=intact,
        ours=bool(cert is not None and cert.dump() == own_cert.dump()),
        signer_name=name,
        signed_at=status.signer_reported_dt,
    )
