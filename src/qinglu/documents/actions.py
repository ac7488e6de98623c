"""Issuing and verifying certificates and vouchers.

A certificate's facts (number, beneficiary as published, quantity, serial ranges,
project, region, purpose, date, issuer...) are signed with the registry's Ed25519
key and stored with the signature; the ledger entry that issues it records the
same facts. Verification says *valid*, or exactly what does not match: unknown
number, a field of the presented payload differing from the registry, a bad
signature, a retirement row changed behind the ledger's back, or units that are
not (or no longer) retired by that retirement.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from qinglu.core.errors import Conflict, InvalidInput, NotFound
from qinglu.core.identifiers import region_name
from qinglu.core.ledger import WriteContext, run_write
from qinglu.core.money import cny_capital
from qinglu.core.principal import Actor
from qinglu.core.serials import parse_serial
from qinglu.db.engine import var_dir
from qinglu.documents import pdf
from qinglu.documents.models import DOCUMENT_KINDS, Certificate, IssuedFile
from qinglu.documents.pdfsign import PdfSigningKey, check_pdf, load_or_create_pdf_key, sha256_hex
from qinglu.documents.qr import (
    OfflineCheck,
    document_address,
    document_qr,
    load_public_key,
    parse_verification_url,
    qr_claims,
    sign_claims,
    verify_offline,
)
from qinglu.documents.signing import RegistryKey, encode_payload, load_or_create_key
from qinglu.documents.verification import (  # noqa: F401 (callers verify through records)
    Verification,
    certificate_verification,
    document_entry,
    retirement_facts_of,
    verify_certificate,
)
from qinglu.registry import actions as registry

logger = logging.getLogger(__name__)
ISSUER = "青绿生态产品交易登记簿 Qinglu Ecological Product Registry"
CAPITAL_LABEL = "大写 In words"


class UnknownCertificate(NotFound):
    code = "unknown-certificate"


# What `qinglu serve` listens on by default: the address of last resort, used only where
# there is neither a configured address nor a request (the command line says so).
LOCAL_SERVE_URL = "http://127.0.0.1:8000"


def base_url(served: str | None = None) -> str:
    """The public address links and QR codes point to: QINGLU_BASE_URL when the operator
    configured one, else the address the request actually reached (or the command line's
    --base-url), else the local `qinglu serve` address."""
    configured = os.environ.get("QINGLU_BASE_URL", "").strip()
    if configured:
        return configured.rstrip("/")
    return (served or LOCAL_SERVE_URL).rstrip("/")


def address_note(served: str | None = None) -> str:
    """Which address a document's links use, and why: what the command line prints."""
    if os.environ.get("QINGLU_BASE_URL", "").strip():
        return f"链接地址 links: {base_url()} (QINGLU_BASE_URL)"
    if served:
        return f"链接地址 links: {base_url(served)} (--base-url)"
    return (f"链接地址 links: {LOCAL_SERVE_URL}（未设定 QINGLU_BASE_URL，仅本机可用 / "
            "QINGLU_BASE_URL not set: a local address only)")


def pdf_key() -> PdfSigningKey:
    """The registry's PDF signing key and certificate (made once under var/keys)."""
    return load_or_create_pdf_key()


def published_keys(key: RegistryKey) -> dict[str, Any]:
    """What /api/v1/keys publishes: the Ed25519 key of the QR payloads (a JWK) and the
    certificate of the PDF signatures with its SHA-256 fingerprint."""
    return {"keys": [key.jwk()], "pdf_signing": pdf_key().published()}


def documents_dir() -> Path:
    return var_dir() / "documents"


def retirement_facts(session: Session, retirement_id: int) -> dict[str, Any]:
    """The facts every certificate of a retirement states."""
    retirement = registry.get_retirement(session, retirement_id)
    return retirement_facts_of(
        retirement_id=retirement.id, product=retirement.product, quantity=retirement.quantity,
        beneficiary=retirement.beneficiary, purpose=retirement.purpose,
        serials=retirement.serials, project_name=registry.project_name(
            session, parse_serial(retirement.serials[0]).project_id))


def issue_in(ctx: WriteContext, key: RegistryKey, *, kind: str, retirement_id: int,
             extra: dict[str, Any] | None = None, case_id: int | None = None,
             on: date | None = None) -> dict[str, Any]:
    """Sign and store a retirement's certificate inside a caller's ledger write."""
    facts = {**retirement_facts(ctx.session, retirement_id), **(extra or {})}
    return _sign_in(ctx, key, Certificate(kind=kind, retirement_id=retirement_id,
                                          case_id=case_id), facts, on)


def issue_trade_voucher_in(ctx: WriteContext, key: RegistryKey, *, order_id: int,
                           facts: dict[str, Any], on: date | None = None) -> dict[str, Any]:
    """Sign and store a market trade's voucher (交易凭证) inside its settlement write."""
    return _sign_in(ctx, key, Certificate(kind="trade", order_id=order_id), facts, on)


def _sign_in(ctx: WriteContext, key: RegistryKey, record: Certificate, facts: dict[str, Any],
             on: date | None) -> dict[str, Any]:
    # A unique placeholder until the id is known: concurrent writes never collide on it.
    record.number, record.facts = f"pending-{uuid.uuid4().hex[:24]}", {}
    record.signature, record.key_id = "", key.key_id
    ctx.session.add(record)
    ctx.session.flush()
    signed = sign_document(key, record.kind, record.id, facts, on)
    record.number, record.facts, record.signature = (signed["number"], signed["facts"],
                                                     signed["signature"])
    ctx.records.setdefault("certificates", []).append(signed)
    return {"number": record.number, "kind": record.kind, "facts": record.facts}


def sign_document(key: RegistryKey, kind: str, record_id: int, facts: dict[str, Any],
                  on: date | None = None) -> dict[str, Any]:
    """A document's number, its facts as signed (number, kind, date and issuer added) and
    the signature: what the certificates row and the ledger entry's record both hold."""
    day = on or date.today()
    number = f"QL-{DOCUMENT_KINDS[kind][0]}-{day.year}-{record_id:06d}"
    signed = {"number": number, "kind": kind, **facts, "date": day.isoformat(),
              "issuer": ISSUER}
    return {"number": number, "facts": signed, "signature": key.sign(signed)}


def resolve(reference: str) -> tuple[str | None, str | None]:
    """A number, a verification URL (from the QR) or a PDF path -> (number, payload)."""
    if reference.startswith(("http://", "https://")):
        return parse_verification_url(reference)
    path = Path(reference)
    if path.suffix.lower() == ".pdf" and path.is_file():
        return pdf.extract_payload(path.read_bytes())
    return reference, None


def get_certificate(session: Session, number: str) -> Certificate:
    record = session.scalar(select(Certificate).where(Certificate.number == number))
    if record is None:
        raise UnknownCertificate(f"编号 {number} 未登记", f"unknown certificate number {number}")
    return record


def certificate_view(session: Session, number: str) -> dict[str, Any]:
    """A certificate or voucher as the registry holds it: its facts and signature."""
    record = get_certificate(session, number)
    return {"number": record.number, "kind": record.kind, "facts": record.facts,
            "signature": record.signature, "key_id": record.key_id}


def certificate_of_order(session: Session, order_id: int) -> Certificate | None:
    """A market trade's voucher, if it has one."""
    return session.scalar(select(Certificate).where(Certificate.order_id == order_id))


def document_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    """The document's table: each fact it states, in reading order, and the amount in
    capital numerals (大写) beside an amount of money."""
    unit = facts.get("unit", "")
    labels = (
        ("beneficiary", "受益人 Beneficiary"), ("seller", "卖方 Seller"), ("buyer", "买方 Buyer"),
        ("quantity", "数量 Quantity"), ("project", "来源项目 Source project"),
        ("region", "项目地区 Region"), ("purpose", "用途 Purpose"), ("case", "案件 Case"),
        ("price_cny_per_t", "单价 Price (CNY/t)"),
        ("price_cny_per_unit", f"单价 Price (CNY/{unit})"),
        ("amount_cny", "金额 Amount (CNY)"), ("fee_cny", "手续费 Fee (CNY)"),
        ("payment_reference", "付款凭证 Payment reference"),
    )
    shown = {"quantity": f"{facts.get('quantity')} {unit}",
             "region": f"{region_name(facts['region'])} ({facts['region']})"
             if facts.get("region") else ""}
    rows = [(label, shown.get(name, str(facts.get(name, ""))))
            for name, label in labels if facts.get(name)]
    if facts.get("amount_cny"):
        rows.append((CAPITAL_LABEL, cny_capital(Decimal(str(facts["amount_cny"])))))
    rows.append(("签发日期 Date", facts["date"]))
    return rows


def render_pdf(record: Certificate, served_url: str | None = None) -> bytes:
    """The document's PDF, signed PAdES-B-B by the registry's certificate, stating the
    log checkpoint it was issued under. Made once (per link address and checkpoint): that
    first time is the file's issue, its SHA-256 recorded (and committed, in the record's
    session) before it is handed out; afterwards the same bytes are read back and nothing
    is written (making and signing a PDF takes about a second)."""
    session = object_session(record)
    if session is None:
        raise ValueError("the certificate is not attached to a session")
    address = document_address(base_url(served_url), record.number)
    entry = document_entry(session, record.number)
    issued_under = registry.checkpoint_covering(session, entry) if entry else None
    recorded = registry.log_entries(session, entry, entry)["entries"] if entry else []
    kept = _issued_copy(record, address, issued_under,
                        recorded[0]["hash"] if recorded else str(record.issued_at))
    if kept.exists():
        return kept.read_bytes()
    signed = _make_pdf(record, address, issued_under)
    key = pdf_key()
    session.add(IssuedFile(certificate_id=record.id, sha256=sha256_hex(signed),
                           size=len(signed), signer_fingerprint=key.fingerprint))
    session.commit()
    kept.parent.mkdir(parents=True, exist_ok=True)
    partial = kept.with_suffix(f".{uuid.uuid4().hex[:8]}.part")
    partial.write_bytes(signed)
    partial.replace(kept)  # atomic: a concurrent reader sees the whole file or none
    return signed


def _make_pdf(record: Certificate, address: str, issued_under: dict[str, Any] | None) -> bytes:
    _prefix, title_zh, title_en = DOCUMENT_KINDS[record.kind]
    unsigned = pdf.render_signed(pdf.SignedDoc(
        number=record.number, title_zh=title_zh, title_en=title_en,
        rows=document_rows(record.facts), issuer=str(record.facts["issuer"]),
        verify_url=address, payload=encode_payload(record.facts, record.signature),
        serials=record.facts["serials"], qr=document_qr(address, offline_text(record)),
        checkpoint=_checkpoint_line(issued_under)))
    return pdf_key().sign(unsigned)


def _issued_copy(record: Certificate, address: str, issued_under: dict[str, Any] | None,
                 entry_hash: str) -> Path:
    """Where the file issued for this document, address and checkpoint is kept: named by
    what it states (its signature, address, checkpoint) and its ledger entry's hash, so
    another database's document of the same number and facts never shares it."""
    stated = "|".join([record.number, record.signature, address, entry_hash,
                       (issued_under or {}).get("signature", ""), pdf_key().fingerprint])
    digest = sha256_hex(stated.encode("utf-8"))[:32]
    return documents_dir() / "issued" / f"{record.number}-{digest}.pdf"


def _checkpoint_line(checkpoint: dict[str, Any] | None) -> str:
    if checkpoint is None:
        return ("日志检查点待签（约一分钟内）/ log checkpoint to follow (within about a "
                "minute): /api/v1/log/checkpoint")
    return (f"{checkpoint['origin']} #{checkpoint['sequence']} {checkpoint['hash']} "
            f"{checkpoint['time']} root {checkpoint.get('root', '')}")


def checkpoint_at_issue(session: Session) -> None:
    """At a document's issue, a checkpoint of the ledger with the document's entry in it
    (the write is committed: a failure here is logged and the next minute's checkpoint
    covers the document)."""
    try:
        registry.issuing_checkpoint(session)
    except Exception:  # the document stands; only its checkpoint waits
        # The failed flush leaves the session's transaction dead; the caller's next write
        # (a clerk's next transfer on the same session) must start a clean one.
        session.rollback()
        logger.warning("checkpoint at a document's issue failed", exc_info=True)


def check_in_log(session: Session, result: Verification,
                 key: RegistryKey | None = None) -> Verification:
    """The document's ledger entry is in the tree of the checkpoint it was issued under
    (inclusion proof against the signed root), and today's tree extends that one."""
    entry = document_entry(session, result.number) if result.number else None
    if entry is None:
        return result
    checkpoint = registry.checkpoint_covering(session, entry)
    if checkpoint is None:
        result.log = {"entry": entry, "checkpoint": None}
        return result
    problems = registry.check_log_inclusion(session, entry, checkpoint, key)
    for problem in problems:
        result.valid = False
        result.problems.append(problem)
    result.log = {"entry": entry, "checkpoint": {
        "origin": checkpoint["origin"], "tree_size": checkpoint["sequence"],
        "root": checkpoint["root"], "time": checkpoint["time"]}, "included": not problems}
    return result


def offline_text(record: Certificate, key: RegistryKey | None = None) -> str:
    """The QR's offline-checkable text of a document (COSE_Sign1 over its CBOR claims)."""
    return sign_claims(key or load_or_create_key(), qr_claims(record.facts))


def document_qr_text(session: Session, number: str, served_url: str | None = None) -> str:
    """Exactly what a document's QR code holds: its page's address, "#", the offline text."""
    record = get_certificate(session, number)
    return f"{document_address(base_url(served_url), number)}#{offline_text(record)}"


def verify_qr_offline(text: str, public_key_file: bytes) -> OfflineCheck:
    """A scanned QR checked with the published key alone: no network, no database."""
    return verify_offline(text, load_public_key(public_key_file))


def certificate_pdf(session: Session, number: str, served_url: str | None = None) -> bytes:
    return render_pdf(get_certificate(session, number), served_url)


def write_pdf(record: Certificate, directory: Path | None = None,
              served_url: str | None = None) -> Path:
    """Write a loaded certificate's signed PDF (its own session records the file)."""
    session = object_session(record)
    if session is None:
        raise ValueError("the certificate is not attached to a session")
    return write_certificate_pdf(session, record.number, directory, served_url)


def write_certificate_pdf(session: Session, number: str, directory: Path | None = None,
                          served_url: str | None = None) -> Path:
    """Write a certificate's or voucher's signed PDF (under var/documents unless told)."""
    record = get_certificate(session, number)
    directory = directory or documents_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{record.number}.pdf"
    path.write_bytes(render_pdf(record, served_url))
    return path


def verify_file(session: Session, key: RegistryKey, data: bytes) -> Verification:
    """A presented PDF: the file this registry issued (its signature holds, by the
    registry's certificate, over the whole file, and its SHA-256 is one the registry
    recorded) and facts that match the ledger now; else exactly what differs."""
    try:
        number, payload = pdf.extract_payload(data)
    except InvalidInput:
        number, payload = None, None
    signature = check_pdf(data, pdf_key())
    digest = sha256_hex(data)
    recorded = session.scalar(select(IssuedFile).where(IssuedFile.sha256 == digest))
    result = (verify_certificate(session, key, number=number, payload=payload)
              if number else Verification(None))
    problems = list(result.problems)
    result.problems, result.valid = [], True
    if not signature.signed:
        result.fail("文件没有签名：不是本登记簿签发的文件",
                    "the file carries no signature: not a file this registry issued")
    elif not signature.ours:
        result.fail(f"由其他密钥签名（{signature.signer}）",
                    f"signed by another key ({signature.signer})")
    elif not (signature.intact and signature.whole_file):
        result.fail("文件在签名后被改动", "changed after signing")
    elif recorded is None:
        result.fail("不是本登记簿签发的文件（登记簿无此文件的 SHA-256）",
                    "not a file this registry issued (its SHA-256 is not on record)")
    if number is None:
        result.fail("文件中没有凭证编号", "the file names no document number")
    for problem in problems:
        result.valid = False
        result.problems.append(problem)
    result.file = {"sha256": digest, "signed": signature.signed, "signer": signature.signer,
                   "signature_intact": signature.intact, "covers_whole_file":
                   signature.whole_file, "issued_by_registry": recorded is not None}
    return result


def retire(session: Session, key: RegistryKey, *, from_account: int, product: str,
           quantity: int, beneficiary: str, purpose: str, actor: Actor,
           case_ref: str | None = None, project_id: int | None = None,
           idempotency_key: str | None = None) -> dict[str, Any]:
    """Retire units for a beneficiary and purpose, and issue their retirement certificate
    in the same ledger write: the one way to retire units (API, CLI and pages call it), so
    every retirement can be shown and verified. Retired units never move again.

    `actor` is a signed-in caller, who may retire only from its own accounts (an operator
    from any), or the name of a trusted caller such as the operator's console."""
    request = registry.retirement_request(
        from_account=from_account, product=product, quantity=quantity,
        beneficiary=beneficiary, purpose=purpose, case_ref=case_ref, project_id=project_id)
    name = registry.actor_name(session, actor, from_account)

    def action(ctx: WriteContext) -> dict[str, Any]:
        retired = registry.retire_in(ctx, **request)
        certificate = issue_in(ctx, key, kind="retirement", retirement_id=retired["id"])
        return {**retired, "certificate_number": certificate["number"]}

    retired = run_write(session, kind="retire", actor=name, request=request, action=action,
                        idempotency_key=idempotency_key)
    checkpoint_at_issue(session)
    return retired


def certify_retirement(session: Session, key: RegistryKey, *, retirement_id: int, actor: str,
                       idempotency_key: str | None = None) -> dict[str, Any]:
    """Issue the retirement certificate of a retirement recorded without one (retired
    before every retirement carried its certificate); refused if it has a certificate."""

    def action(ctx: WriteContext) -> dict[str, Any]:
        registry.get_retirement(ctx.session, retirement_id)
        existing = ctx.session.scalar(
            select(Certificate.number).where(Certificate.retirement_id == retirement_id)
            .order_by(Certificate.id).limit(1))
        if existing is not None:
            raise Conflict(f"注销 {retirement_id} 已有证书 {existing}",
                           f"retirement {retirement_id} already has certificate {existing}")
        certificate = issue_in(ctx, key, kind="retirement", retirement_id=retirement_id)
        return {"retirement_id": retirement_id, "certificate_number": certificate["number"]}

    issued = run_write(session, kind="certificate.issue", actor=actor,
                       request={"retirement_id": retirement_id}, action=action,
                       idempotency_key=idempotency_key)
    checkpoint_at_issue(session)
    return issued


def verify_upload(session: Session, key: RegistryKey, data: bytes,
                  limit: int) -> Verification:
    """An uploaded file, refused unread when larger than any document the registry makes."""
    if len(data) > limit:
        result = Verification(None)
        result.fail("文件过大，不是本登记簿签发的文件",
                    "the file is too large: not a file this registry issued")
        return result
    return verify_file(session, key, data)


def ledger_checkpoints(session: Session, key: RegistryKey) -> dict[str, Any]:
    """The registry's signed checkpoints of the ledger head, oldest first (a fresh one
    made when the head has moved and the latest is over a minute old)."""
    return registry.published_checkpoints(session, key)
