"""PDF signatures the PDF-standard way: PAdES baseline B (ETSI.CAdES.detached), by pyHanko.

The registry signs every issued PDF with an ECDSA P-256 key (the curve every PDF reader
and poppler's `pdfsig` accept; Ed25519 in PDF is too recent for most readers) and an
X.509 certificate for it. Both live beside the Ed25519 payload key under var/keys
(QINGLU_KEY_DIR): `registry_pdf_p256.key` and `registry_pdf.crt`. The certificate is
self-issued on first use unless an operator has installed one from a CA (replace the two
files). `/api/v1/keys` publishes it with its SHA-256 fingerprint.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from qinglu.documents.signing import key_dir

PDF_KEY_FILE = "registry_pdf_p256.key"
PDF_CERT_FILE = "registry_pdf.crt"
SUBJECT = "Qinglu Registry 青绿登记簿"
FIELD_NAME = "QingluRegistrySignature"


@dataclass(frozen=True)
class PdfSigningKey:
    """The registry's PDF signing key and its certificate (DER)."""

    private: ec.EllipticCurvePrivateKey
    certificate_der: bytes

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate's DER, hex: what a reader compares."""
        return hashlib.sha256(self.certificate_der).hexdigest()

    def certificate_pem(self) -> str:
        cert = x509.load_der_x509_certificate(self.certificate_der)
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def published(self) -> dict[str, str]:
        cert = x509.load_der_x509_certificate(self.certificate_der)
        return {"use": "pdf-signature", "format": "PAdES-B-B", "alg": "ES256",
                "subject": cert.subject.rfc4514_string(),
                "issuer": cert.issuer.rfc4514_string(),
                "not_after": cert.not_valid_after_utc.isoformat(),
                "sha256_fingerprint": self.fingerprint,
                "certificate_pem": self.certificate_pem()}

    def _signer(self) -> signers.SimpleSigner:
        key_der = self.private.private_bytes(serialization.Encoding.DER,
                                             serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())
        cert = asn1_x509.Certificate.load(self.certificate_der)
        return signers.SimpleSigner(
            signing_cert=cert, signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
            cert_registry=SimpleCertificateStore.from_certs([cert]))

    def sign(self, pdf_bytes: bytes) -> bytes:
        """The PDF with a PAdES baseline B signature covering the whole file."""
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes))
        meta = signers.PdfSignatureMetadata(
            field_name=FIELD_NAME, subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256", reason="签发 Issued by the Qinglu registry",
            name=SUBJECT)
        signed = _off_the_loop(lambda: signers.sign_pdf(writer, meta, signer=self._signer()))
        return bytes(signed.getvalue())


_T = TypeVar("_T")


@dataclass(frozen=True)
class PdfSignatureCheck:
    """What a PDF's signature says, checked against the registry's certificate."""

    signed: bool  # the file holds a signature at all
    ours: bool  # made with the registry's certificate
    intact: bool  # the signed bytes are unchanged
    whole_file: bool  # the signature covers the whole file: nothing added after signing
    signer: str = ""


def check_pdf(pdf_bytes: bytes, key: PdfSigningKey) -> PdfSignatureCheck:
    """Read and check a PDF's (first) signature; never raises on a damaged file."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf_bytes), strict=False)
        signatures = reader.embedded_signatures
    except Exception:  # noqa: BLE001 (a damaged or non-PDF file: unreadable, so unsigned)
        return PdfSignatureCheck(signed=False, ours=False, intact=False, whole_file=False)
    if not signatures:
        return PdfSignatureCheck(signed=False, ours=False, intact=False, whole_file=False)
    embedded = signatures[0]
    try:
        signer_cert = embedded.signer_cert
        ours = hashlib.sha256(signer_cert.dump()).hexdigest() == key.fingerprint
        signer = signer_cert.subject.human_friendly
    except Exception:  # noqa: BLE001 (an unreadable signature container)
        return PdfSignatureCheck(signed=True, ours=False, intact=False, whole_file=False)
    trust = asn1_x509.Certificate.load(key.certificate_der)
    try:
        status = _off_the_loop(lambda: validate_pdf_signature(
            embedded, ValidationContext(trust_roots=[trust])))
        intact = bool(status.intact and status.valid)
        whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    except Exception:  # noqa: BLE001 (bytes moved under the signature: not intact)
        intact, whole = False, False
    return PdfSignatureCheck(signed=True, ours=ours, intact=intact, whole_file=whole,
                             signer=signer)


def _off_the_loop(work: Callable[[], _T]) -> _T:
    """pyHanko's synchronous calls run their own event loop (asyncio.run), which Python
    refuses in a thread where a loop is already running (an async endpoint, a caller
    driving a browser): there the work runs in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_or_create_pdf_key(directory: Path | None = None) -> PdfSigningKey:
    """The registry's PDF signing key and certificate: loaded if present (an operator's
    CA-issued pair, or the one made before), else a key and self-issued certificate made
    once (key file mode 0600)."""
    directory = directory or key_dir()
    key_path, cert_path = directory / PDF_KEY_FILE, directory / PDF_CERT_FILE
    if key_path.exists() and cert_path.exists():
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path} is not an ECDSA key")
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        return PdfSigningKey(loaded, cert.public_bytes(serialization.Encoding.DER))
    directory.mkdir(parents=True, exist_ok=True)
    private = ec.generate_private_key(ec.SECP256R1())
    cert = _self_issued(private)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return PdfSigningKey(private, cert.public_bytes(serialization.Encoding.DER))


def _self_issued(private: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SUBJECT),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Qinglu Registry"),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "CN")])
    now = datetime.now(UTC)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(private.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(private.public_key()),
                           critical=False)
            .sign(private, hashes.SHA256()))
