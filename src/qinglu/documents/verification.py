"""Verifying a certificate or voucher: *valid*, or exactly what does not match.

Checked: the number is registered; the registry's copy matches its signature; a
presented payload (from the QR code or the PDF) is signed by this registry and says
what the registry says; the retirement row, its ledger entry and its units still say
what was signed (a row changed behind the ledger's back, units no longer retired).

This is the registry's busiest public read, so a retirement's certificate is checked
with one hand-written SQL statement (portable between SQLite and PostgreSQL) run at
the driver level (see `qinglu.db.raw`) on whatever connection it is given.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from qinglu.core.errors import InvalidSerial
from qinglu.core.identifiers import public_beneficiary
from qinglu.core.money import round_fen
from qinglu.core.quantities import format_quantity, product_spec
from qinglu.core.serials import parse_serial
from qinglu.db import raw
from qinglu.db.raw import Db, RawQuery, Read, json_value
from qinglu.documents.signing import (
    InvalidPayload,
    RegistryKey,
    canonical_bytes,
    decode_payload,
    verify_bytes,
)

FIELD_NAMES = {
    "quantity": "数量 quantity", "beneficiary": "受益人 beneficiary", "serials": "序列号 serials",
    "purpose": "用途 purpose", "date": "日期 date", "project": "项目 project",
    "region": "地区 region", "issuer": "签发机构 issuer", "case": "案件 case",
    "buyer": "买方 buyer", "seller": "卖方 seller", "amount_cny": "金额 amount",
    "price_cny_per_t": "单价 price", "payment_reference": "付款凭证 payment reference",
    "price_cny_per_unit": "单价 price", "fee_cny": "手续费 fee",
}

# The certificate with its retirement and ledger entry, then one row per retired block
# (the JSON columns once, not repeated on every block's row: a retirement over 282
# blocks spent 60 ms of a verification decoding the same facts again and again).
CERTIFICATE_SQL = RawQuery("""
    SELECT 0 AS part, c.facts, c.signature, c.order_id, r.id AS retirement_id, r.product,
           r.quantity, r.beneficiary, r.purpose, r.serials, e.body AS entry_body,
           NULL AS serial_start, NULL AS serial_end, NULL AS block_product,
           NULL AS project_id, NULL AS vintage, NULL AS region, NULL AS project_name
    FROM certificates c
    LEFT JOIN retirements r ON r.id = c.retirement_id
    LEFT JOIN ledger_entries e ON e.sequence = r.entry_sequence
    WHERE c.number = :number
    UNION ALL
    SELECT 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           b.serial_start, b.serial_end, i.product, i.project_id, i.vintage, p.region,
           p.name
    FROM certificates c
    JOIN unit_blocks b ON b.retirement_id = c.retirement_id AND b.state = 'retired'
         AND b.retirement_id IS NOT NULL  -- the partial index of retired blocks applies
    JOIN issuances i ON i.id = b.issuance_id
    JOIN projects p ON p.id = i.project_id
    WHERE c.number = :number
    ORDER BY 1
""")

PROJECT_NAME_SQL = RawQuery("SELECT name FROM projects WHERE id = :id")

# The ledger entry that recorded a document's retirement or trade: the leaf the public
# log's inclusion proof is of.
DOCUMENT_ENTRY_SQL = RawQuery("""
    SELECT COALESCE(r.entry_sequence, o.entry_sequence) AS entry
    FROM certificates c
    LEFT JOIN retirements r ON r.id = c.retirement_id
    LEFT JOIN orders o ON o.id = c.order_id
    WHERE c.number = :number
""")

# The states of the unit blocks a trade's serial range now lies in (by project, vintage,
# product and overlap), to say whether the units a voucher transferred are held or retired.
RANGE_STATES_SQL = RawQuery("""
    SELECT b.state, b.serial_start, b.serial_end
    FROM unit_blocks b
    JOIN issuances i ON i.id = b.issuance_id
    WHERE i.project_id = :project_id AND i.vintage = :vintage AND i.product = :product
      AND b.serial_end >= :start AND b.serial_start <= :end
""")

TRADE_SQL = RawQuery("""
    SELECT o.id, o.quantity, o.amount, o.payment_reference, o.serials, o.status,
           l.product, e.body AS entry_body
    FROM orders o
    JOIN listings l ON l.id = o.listing_id
    LEFT JOIN ledger_entries e ON e.sequence = o.entry_sequence
    WHERE o.id = :order_id
""")


@dataclass(frozen=True)
class RetiredBlock:
    serial_start: int
    serial_end: int
    product: str
    project_id: int
    vintage: int
    region: str
    name: str


@dataclass
class Verification:
    number: str | None
    valid: bool = True
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] | None = None
    file: dict[str, Any] | None = None  # a presented PDF: its hash and signature
    # What the document is and what the ledger says of its units now (only when valid).
    statement: dict[str, str] | None = None
    # The public log: the document's entry, its checkpoint, whether the proof held.
    log: dict[str, Any] | None = None

    def fail(self, zh: str, en: str) -> None:
        self.valid = False
        self.problems.append(f"{zh} / {en}")

    def as_dict(self) -> dict[str, Any]:
        answer = {"number": self.number, "valid": self.valid, "problems": self.problems,
                  "facts": self.facts}
        if self.file is not None:
            answer["file"] = self.file
        if self.statement is not None and self.valid:
            answer["statement"] = self.statement
        if self.log is not None:
            answer["log"] = self.log
        return answer


def document_entry(db: Db, number: str) -> int | None:
    """The ledger entry of a document's retirement or trade (None if unknown)."""
    rows = DOCUMENT_ENTRY_SQL.rows(db, {"number": number})
    return int(rows[0]["entry"]) if rows and rows[0]["entry"] is not None else None


def retirement_facts_of(*, retirement_id: int, product: str, quantity: int, beneficiary: str,
                        purpose: str, serials: Sequence[str], project_name: str
                        ) -> dict[str, Any]:
    """The facts every certificate of a retirement states (signed at issue, re-derived
    from the rows at verification). The beneficiary as the public sees it: a person's
    name masked, never an identifier (`public_beneficiary`)."""
    return {
        "beneficiary": public_beneficiary(beneficiary),
        "quantity": format_quantity(product, quantity),
        "unit": product_spec(product).unit,
        "product": product,
        "serials": list(serials),
        "project": project_name,
        "region": parse_serial(serials[0]).region,
        "purpose": purpose,
        "retirement_id": retirement_id,
    }


@lru_cache(maxsize=4096)
def _signature_holds(canonical: bytes, signature: str, key: RegistryKey) -> bool:
    # Keyed by the exact signed bytes, so a cached answer is the answer.
    return verify_bytes(canonical, signature, key.public)


def _signed_by(facts: dict[str, Any], signature: str, key: RegistryKey) -> bool:
    try:
        canonical = canonical_bytes(facts)
    except TypeError:
        return False
    return _signature_holds(canonical, signature, key)


@lru_cache(maxsize=4096)
def _stored_text_signed(text: str, signature: str, key: RegistryKey) -> bool:
    # The canonical bytes follow from the stored text alone, so a cached answer is the
    # answer, and a verification is spared re-serialising them.
    return _signed_by(json_value(text), signature, key)


def _registry_copy_signed(column: Any, stored: dict[str, Any], signature: str,
                          key: RegistryKey) -> bool:
    """The registry's copy of the facts matches its signature: checked by the JSON text
    where the driver hands that back (SQLite), else by the parsed facts."""
    if isinstance(column, str):
        return _stored_text_signed(column, signature, key)
    return _signed_by(stored, signature, key)


def _compare(result: Verification, presented: dict[str, Any], stored: dict[str, Any]) -> None:
    for name in sorted(set(presented) | set(stored)):
        if presented.get(name) != stored.get(name):
            label = FIELD_NAMES.get(name, name)
            result.fail(f"{label} 与登记簿不符：凭证为 {presented.get(name)!r}，"
                        f"登记簿为 {stored.get(name)!r}",
                        f"{label} differs: document says {presented.get(name)!r}, "
                        f"registry says {stored.get(name)!r}")


def _check_retirement(result: Verification, stored: dict[str, Any],
                      rows: list[dict[str, Any]]) -> Read[None]:
    """The retirement row, its ledger entry and its units still say what was signed."""
    row = rows[0]
    if row["retirement_id"] is None:
        result.fail("注销记录缺失", "the retirement record is missing")
        return
    serials = json_value(row["serials"])
    blocks = [RetiredBlock(r["serial_start"], r["serial_end"], r["block_product"],
                           r["project_id"], r["vintage"], r["region"], r["project_name"])
              for r in rows if r["serial_start"] is not None]
    yield from _check_retirement_row(result, stored, row, serials, blocks)
    recorded = (json_value(row["entry_body"]).get("records", {}).get("retirement")
                if row["entry_body"] else None)
    if recorded is None or recorded["id"] != row["retirement_id"]:
        result.fail("账本中没有此注销", "the ledger does not record this retirement")
    elif (recorded["quantity"], recorded["beneficiary"], recorded["serials"]) != (
            row["quantity"], row["beneficiary"], serials):
        result.fail("注销记录与账本不符", "the retirement record differs from the ledger")
    by_issue = _blocks_by_issue(blocks)
    for serial in stored.get("serials", []):
        if not _retired_by(serial, by_issue):
            result.fail(f"单位 {serial} 未按此注销", f"units {serial} are not retired by it")


def _check_retirement_row(result: Verification,
                          stored: dict[str, Any], row: dict[str, Any], serials: list[str],
                          blocks: Sequence[RetiredBlock]) -> Read[None]:
    project_id = parse_serial(serials[0]).project_id
    project_name = next((b.name for b in blocks if b.project_id == project_id), None)
    if project_name is None:  # no retired block names it: look the project up
        found = yield PROJECT_NAME_SQL, {"id": project_id}
        project_name = found[0]["name"] if found else ""
    now = retirement_facts_of(retirement_id=row["retirement_id"], product=row["product"],
                              quantity=row["quantity"], beneficiary=row["beneficiary"],
                              purpose=row["purpose"], serials=serials,
                              project_name=project_name)
    for name, value in now.items():
        if stored.get(name) != value:
            result.fail(f"注销记录的{FIELD_NAMES.get(name, name)}已被改动",
                        f"the retirement record's {name} was changed after issue")


IssueKey = tuple[str, int, int, str]  # product, project, vintage, region


def _blocks_by_issue(blocks: Sequence[RetiredBlock]
                     ) -> dict[IssueKey, tuple[list[int], list[RetiredBlock]]]:
    """The retired blocks of each product, project, vintage and region in serial order,
    with their starts, so that each serial finds its blocks by bisection (a retirement
    over hundreds of blocks: every serial against every block took 80 ms)."""
    grouped: dict[IssueKey, list[RetiredBlock]] = {}
    for block in blocks:
        key = (block.product, block.project_id, block.vintage, block.region)
        grouped.setdefault(key, []).append(block)
    ordered = {}
    for key, group in grouped.items():
        group.sort(key=lambda block: block.serial_start)
        ordered[key] = ([block.serial_start for block in group], group)
    return ordered


def _retired_by(serial: str,
                by_issue: dict[IssueKey, tuple[list[int], list[RetiredBlock]]]) -> bool:
    """Every unit of `serial` lies in one of the retirement's retired blocks (blocks never
    overlap, so covering the whole range with them means each unit is retired by it)."""
    try:
        wanted = parse_serial(serial)
    except InvalidSerial:
        return False
    starts, group = by_issue.get(
        (wanted.product, wanted.project_id, wanted.vintage, wanted.region), ([], []))
    # The block before the first one starting after the range's start may reach into it.
    first = max(0, bisect_right(starts, wanted.start) - 1)
    covered = 0
    for block in group[first:]:
        if block.serial_start > wanted.end:
            break
        covered += max(0, min(block.serial_end, wanted.end)
                       - max(block.serial_start, wanted.start) + 1)
    return covered == wanted.end - wanted.start + 1


def verify_certificate(db: Db, key: RegistryKey, *,
                       number: str | None = None, payload: str | None = None) -> Verification:
    """Check a certificate by number, by signed payload (QR or PDF), or both."""
    return raw.run(db, certificate_verification(key, number=number, payload=payload))


def certificate_verification(key: RegistryKey, *, number: str | None = None,
                             payload: str | None = None) -> Read[Verification]:
    """`verify_certificate` as a `qinglu.db.raw.Read`, for the server's event loop."""
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
    rows = yield CERTIFICATE_SQL, {"number": number}
    if not rows:
        result.fail(f"编号 {number} 未登记", f"unknown certificate number {number}")
        return result
    stored: dict[str, Any] = json_value(rows[0]["facts"])
    result.facts = stored
    if not _registry_copy_signed(rows[0]["facts"], stored, rows[0]["signature"], key):
        result.fail("登记簿中的证书内容与签名不符",
                    "the registry's copy does not match its signature")
    if presented is not None and signature is not None:
        if not _signed_by(presented, signature, key):
            result.fail("签名无效：凭证内容被改动或非本登记簿签发",
                        "bad signature: the document was altered or not signed by this registry")
        _compare(result, presented, stored)
    if rows[0]["order_id"] is not None:
        yield from _check_trade(result, stored, rows[0]["order_id"])
        result.statement = yield from _trade_statement(stored)
    else:
        yield from _check_retirement(result, stored, rows)
        result.statement = retirement_statement(stored)
    return result


def retirement_statement(facts: dict[str, Any]) -> dict[str, str]:
    """A retirement's document (a retirement certificate, a carbon-neutral certificate, a
    case's voucher, a green-power claim): its units were retired, for its beneficiary."""
    if facts.get("product") == "GEC":
        return {"zh": f"有效：此凭证由青绿登记簿签发，所载绿证 {facts.get('quantity')} "
                      f"{facts.get('unit', '')} 已为 {facts.get('beneficiary')} 核销。",
                "en": f"Valid: issued by the Qinglu registry; its green certificates "
                      f"({facts.get('quantity')} {facts.get('unit', '')}) were cancelled "
                      f"for {facts.get('beneficiary')}."}
    return {"zh": f"有效：此凭证由青绿登记簿签发，所载 {facts.get('quantity')} "
                  f"{facts.get('unit', '')} 已为 {facts.get('beneficiary')} 注销。",
            "en": f"Valid: issued by the Qinglu registry; its units ({facts.get('quantity')} "
                  f"{facts.get('unit', '')}) are retired for {facts.get('beneficiary')}."}


def _trade_statement(facts: dict[str, Any]) -> Read[dict[str, str]]:
    """A trade voucher: its units were transferred to the buyer on its date; whether they
    are now still held or retired is what the ledger says now."""
    states = yield from _range_states(facts.get("serials", []))
    retired = states.get("retired", 0)
    total = sum(states.values())
    if total and retired == total:
        now_zh, now_en = "现已全部注销", "they are now retired"
    elif retired:
        now_zh, now_en = (f"其中 {retired} 个基本单位现已注销，其余未注销",
                          f"{retired} base units of them are now retired, the rest not")
    else:
        now_zh, now_en = "现仍持有、未注销", "they are held, not retired"
    buyer, day = facts.get("buyer"), facts.get("date")
    quantity = f"{facts.get('quantity')} {facts.get('unit', '')}".strip()
    return {"zh": f"有效：此交易凭证由青绿登记簿签发。所载 {quantity} 已于 {day} 转让给买方 "
                  f"{buyer}，{now_zh}；交易凭证本身不表示单位已注销。",
            "en": f"Valid: a trade voucher issued by the Qinglu registry. Its {quantity} "
                  f"were transferred to the buyer {buyer} on {day}; {now_en}. A trade "
                  "voucher does not by itself mean the units are retired."}


def _range_states(serials: Sequence[str]) -> Read[dict[str, int]]:
    """Base units of these serial ranges in each state, as the unit blocks say now."""
    counts: dict[str, int] = {}
    for text in serials:
        try:
            wanted = parse_serial(text)
        except InvalidSerial:
            continue
        blocks = yield RANGE_STATES_SQL, {
            "project_id": wanted.project_id, "vintage": wanted.vintage,
            "product": wanted.product, "start": wanted.start, "end": wanted.end}
        for block in blocks:
            overlap = (min(block["serial_end"], wanted.end)
                       - max(block["serial_start"], wanted.start) + 1)
            counts[block["state"]] = counts.get(block["state"], 0) + max(0, overlap)
    return counts


def _check_trade(result: Verification, stored: dict[str, Any],
                 order_id: int) -> Read[None]:
    """A trade voucher: the settled order and its ledger entry still say what was signed
    (the units themselves may since have moved on, as bought units do)."""
    found = yield TRADE_SQL, {"order_id": order_id}
    if not found or found[0]["status"] != "settled":
        result.fail("成交记录缺失或未结算", "the trade is missing or not settled")
        return
    order = found[0]
    serials = json_value(order["serials"] or "[]")
    amount = round_fen(Decimal(str(order["amount"])))  # as stored, shown to the fen
    now = {"quantity": format_quantity(order["product"], order["quantity"]),
           "amount_cny": str(amount), "payment_reference": order["payment_reference"],
           "serials": serials, "product": order["product"]}
    for name, value in now.items():
        if stored.get(name) != value:
            result.fail(f"成交记录的{FIELD_NAMES.get(name, name)}已被改动",
                        f"the trade record's {name} was changed after issue")
    recorded = (json_value(order["entry_body"]).get("records", {}).get("order")
                if order["entry_body"] else None)
    if recorded is None or (recorded["id"], recorded["quantity"], recorded["serials"]) != (
            order["id"], order["quantity"], serials):
        result.fail("账本中没有此成交", "the ledger does not record this trade")
