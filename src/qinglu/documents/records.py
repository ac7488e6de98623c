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

import json
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.db.engine import var_dir
from qinglu.documents import pdf
from qinglu.documents.models import DOCUMENT_KINDS, Certificate
from qinglu.documents.qr import parse_verification_url, verification_url
from qinglu.documents.signing import (
    InvalidPayload,
    RegistryKey,
    decode_payload,
    encode_payload,
    verify,
)
from qinglu.registry.errors import NotFound
from qinglu.registry.identifiers import region_name
from qinglu.registry.ledger import WriteContext
from qinglu.registry.models import LedgerEntry, Project, Retirement
from qinglu.registry.quantities import format_quantity, product_spec
from qinglu.registry.serials import parse_serial
from qinglu.registry.units import find_serial

ISSUER = "青绿生态产品交易登记簿 Qinglu Ecological Product Registry"
FIELD_NAMES = {
    "quantity": "数量 quantity", "beneficiary": "受益人 beneficiary", "serials": "序列号 serials",
    "purpose": "用途 purpose", "date": "日期 date", "project": "项目 project",
    "region": "地区 region", "issuer": "签发机构 issuer", "case": "案件 case",
    "buyer": "买方 buyer", "seller": "卖方 seller", "amount_cny": "金额 amount",
    "price_cny_per_t": "单价 price", "payment_reference": "付款凭证 payment reference",
}


class UnknownCertificate(NotFound):
    code = "unknown-certificate"


def base_url() -> str:
    return os.environ.get("QINGLU_BASE_URL", "http://127.0.0.1:8000")


def documents_dir() -> Path:
    return var_dir() / "documents"


def retirement_facts(session: Session, retirement: Retirement) -> dict[str, Any]:
    """The facts every certificate of a retirement states."""
    first = parse_serial(retirement.serials[0])
    project = session.get(Project, first.project_id)
    unit = product_spec(retirement.product).unit
    return {
        "beneficiary": retirement.beneficiary,
        "quantity": format_quantity(retirement.product, retirement.quantity),
        "unit": unit,
        "product": retirement.product,
        "serials": list(retirement.serials),
        "project": project.name if project else "",
        "region": first.region,
        "purpose": retirement.purpose,
        "retirement_id": retirement.id,
    }


def issue_in(ctx: WriteContext, key: RegistryKey, *, kind: str, retirement_id: int,
             extra: dict[str, Any] | None = None, case_id: int | None = None,
             on: date | None = None) -> dict[str, Any]:
    """Sign and store a certificate inside a caller's ledger write."""
    retirement = ctx.session.get(Retirement, retirement_id)
    if retirement is None:
        raise NotFound(f"注销 {retirement_id} 不存在", f"retirement {retirement_id} does not exist")
    prefix = DOCUMENT_KINDS[kind][0]
    day = on or date.today()
    record = Certificate(number="pending", kind=kind, retirement_id=retirement_id,
                         case_id=case_id, facts={}, signature="", key_id=key.key_id)
    ctx.session.add(record)
    ctx.session.flush()
    number = f"QL-{prefix}-{day.year}-{record.id:06d}"
    facts = {"number": number, "kind": kind, **retirement_facts(ctx.session, retirement),
             "date": day.isoformat(), "issuer": ISSUER, **(extra or {})}
    record.number, record.facts, record.signature = number, facts, key.sign(facts)
    ctx.records.setdefault("certificates", []).append(
        {"number": number, "facts": facts, "signature": record.signature})
    return {"number": number, "kind": kind, "facts": facts}


@dataclass
class Verification:
    number: str | None
    valid: bool = True
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] | None = None

    def fail(self, zh: str, en: str) -> None:
        self.valid = False
        self.problems.append(f"{zh} / {en}")

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "valid": self.valid, "problems": self.problems,
                "facts": self.facts}


def _compare(result: Verification, presented: dict[str, Any], stored: dict[str, Any]) -> None:
    for name in sorted(set(presented) | set(stored)):
        if presented.get(name) != stored.get(name):
            label = FIELD_NAMES.get(name, name)
            result.fail(f"{label} 与登记簿不符：凭证为 {presented.get(name)!r}，"
                        f"登记簿为 {stored.get(name)!r}",
                        f"{label} differs: document says {presented.get(name)!r}, "
                        f"registry says {stored.get(name)!r}")


def _check_retirement(session: Session, result: Verification, record: Certificate) -> None:
    retirement = session.get(Retirement, record.retirement_id)
    if retirement is None:
        result.fail("注销记录缺失", "the retirement record is missing")
        return
    now = retirement_facts(session, retirement)
    for name, value in now.items():
        if record.facts.get(name) != value:
            result.fail(f"注销记录的{FIELD_NAMES.get(name, name)}已被改动",
                        f"the retirement record's {name} was changed after issue")
    entry = (session.get(LedgerEntry, retirement.entry_sequence)
             if retirement.entry_sequence is not None else None)
    recorded = json.loads(entry.body).get("records", {}).get("retirement") if entry else None
    if recorded is None or recorded["id"] != retirement.id:
        result.fail("账本中没有此注销", "the ledger does not record this retirement")
    elif (recorded["quantity"], recorded["beneficiary"], recorded["serials"]) != (
            retirement.quantity, retirement.beneficiary, retirement.serials):
        result.fail("注销记录与账本不符", "the retirement record differs from the ledger")
    for serial in record.facts.get("serials", []):
        rows = find_serial(session, serial)
        if any(r["state"] != "retired" or r["retirement_id"] != retirement.id for r in rows):
            result.fail(f"单位 {serial} 未按此注销", f"units {serial} are not retired by it")


def verify_certificate(session: Session, key: RegistryKey, *, number: str | None = None,
                       payload: str | None = None) -> Verification:
    """Check a certificate by number, by signed payload (QR or PDF), or both."""
    presented: dict[str, Any] | None = None
    signature: str | None = None
    if payload:
        try:
            presented, signature = decode_payload(payload)
        except InvalidPayload as exc:
            result = Verification(number)
            result.fail(exc.zh, exc.en)
            return result
        number = number or str(presented.get("number", ""))
    result = Verification(number)
    record = session.scalar(select(Certificate).where(Certificate.number == number))
    if record is None:
        result.fail(f"编号 {number} 未登记", f"unknown certificate number {number}")
        return result
    result.facts = record.facts
    if not verify(record.facts, record.signature, key.public):
        result.fail("登记簿中的证书内容与签名不符",
                    "the registry's copy does not match its signature")
    if presented is not None and signature is not None:
        if not verify(presented, signature, key.public):
            result.fail("签名无效：凭证内容被改动或非本登记簿签发",
                        "bad signature: the document was altered or not signed by this registry")
        _compare(result, presented, record.facts)
    _check_retirement(session, result, record)
    return result


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
    rows = [("受益人 Beneficiary", facts["beneficiary"]),
            ("数量 Quantity", f"{facts['quantity']} {facts['unit']}"),
            ("来源项目 Source project", facts["project"]),
            ("项目地区 Region", f"{region_name(facts['region'])} ({facts['region']})"),
            ("用途 Purpose", facts["purpose"])]
    if facts.get("case"):
        rows.append(("案件 Case", facts["case"]))
    for name, label in (("seller", "卖方 Seller"), ("buyer", "买方 Buyer"),
                        ("price_cny_per_t", "单价 Price (CNY/t)"),
                        ("amount_cny", "金额 Amount (CNY)"),
                        ("payment_reference", "付款凭证 Payment reference")):
        if facts.get(name):
            rows.append((label, str(facts[name])))
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
    from qinglu.registry.units import retire

    def certify(ctx: WriteContext, retired: dict[str, Any]) -> dict[str, Any]:
        certificate = issue_in(ctx, key, kind="retirement", retirement_id=retired["id"])
        return {**retired, "certificate_number": certificate["number"]}

    return retire(session, **retirement, then=certify)
