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

import os
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.core.errors import NotFound
from qinglu.core.identifiers import region_name
from qinglu.core.ledger import WriteContext
from qinglu.core.money import cny_capital
from qinglu.core.serials import parse_serial
from qinglu.db.engine import var_dir
from qinglu.documents import pdf
from qinglu.documents.models import DOCUMENT_KINDS, Certificate
from qinglu.documents.qr import parse_verification_url, verification_url
from qinglu.documents.signing import RegistryKey, encode_payload
from qinglu.documents.verification import (  # noqa: F401 (callers verify through records)
    Verification,
    retirement_facts_of,
    verify_certificate,
)
from qinglu.registry.models import Project, Retirement

ISSUER = "青绿生态产品交易登记簿 Qinglu Ecological Product Registry"
class UnknownCertificate(NotFound):
    code = "unknown-certificate"


def base_url() -> str:
    return os.environ.get("QINGLU_BASE_URL", "http://127.0.0.1:8000")


def documents_dir() -> Path:
    return var_dir() / "documents"


def retirement_facts(session: Session, retirement: Retirement) -> dict[str, Any]:
    """The facts every certificate of a retirement states."""
    project = session.get(Project, parse_serial(retirement.serials[0]).project_id)
    return retirement_facts_of(
        retirement_id=retirement.id, product=retirement.product, quantity=retirement.quantity,
        beneficiary=retirement.beneficiary, purpose=retirement.purpose,
        serials=retirement.serials, project_name=project.name if project else "")


def issue_in(ctx: WriteContext, key: RegistryKey, *, kind: str, retirement_id: int,
             extra: dict[str, Any] | None = None, case_id: int | None = None,
             on: date | None = None) -> dict[str, Any]:
    """Sign and store a retirement's certificate inside a caller's ledger write."""
    retirement = ctx.session.get(Retirement, retirement_id)
    if retirement is None:
        raise NotFound(f"注销 {retirement_id} 不存在", f"retirement {retirement_id} does not exist")
    facts = {**retirement_facts(ctx.session, retirement), **(extra or {})}
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


def _rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    """The document's table: each fact it states, in reading order."""
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
        rows.append(("大写 In words", cny_capital(Decimal(str(facts["amount_cny"])))))
    rows.append(("签发日期 Date", facts["date"]))
    return rows


def render_pdf(record: Certificate) -> bytes:
    _prefix, title_zh, title_en = DOCUMENT_KINDS[record.kind]
    payload = encode_payload(record.facts, record.signature)
    return pdf.render_signed(pdf.SignedDoc(
        number=record.number, title_zh=title_zh, title_en=title_en,
        rows=_rows(record.facts), issuer=str(record.facts["issuer"]),
        verify_url=verification_url(base_url(), record.number, payload), payload=payload,
        serials=record.facts["serials"]))


def write_pdf(record: Certificate, directory: Path | None = None) -> Path:
    directory = directory or documents_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{record.number}.pdf"
    path.write_bytes(render_pdf(record))
    return path


def retire_with_certificate(session: Session, key: RegistryKey,
                            **retirement: Any) -> dict[str, Any]:
    """Retire units (the arguments of `units.retire`) and issue their retirement
    certificate in the same ledger write."""
    from qinglu.registry.actions import retire

    def certify(ctx: WriteContext, retired: dict[str, Any]) -> dict[str, Any]:
        certificate = issue_in(ctx, key, kind="retirement", retirement_id=retired["id"])
        return {**retired, "certificate_number": certificate["number"]}

    return retire(session, **retirement, then=certify)
