"""One money rule: 四舍五入 (half up) to the fen, wherever money appears.

60.50 CNY/t x 57.49 t = 3478.145 CNY. Rounded half up that is 3478.15; rounded half to
even (the default context's rounding) it would be 3478.14. The same figure must come out
of a case agreement, its transaction voucher and that voucher's PDF (with the amount in
capital numerals), and of a market order, its settlement and its trade voucher, on both
databases (on PostgreSQL the order's amount is computed by a server-side function).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session

from qinglu.cases import actions as cases
from qinglu.core.money import cny_capital, money_amount, round_fen
from qinglu.core.quantities import parse_quantity
from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.market import actions as market
from qinglu.registry import actions as registry
from tests import factories as f

PRICE = "60.50"  # CNY per tCO2e
QUANTITY = "57.49"  # tCO2e
EXPECTED = Decimal("3478.15")
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def test_the_rule_rounds_half_up_to_the_fen() -> None:
    exact = Decimal(PRICE) * Decimal(QUANTITY)
    assert exact == Decimal("3478.1450")
    assert round_fen(exact) == EXPECTED
    assert money_amount(Decimal(PRICE), parse_quantity("FCS", QUANTITY), "FCS") == EXPECTED
    assert round_fen(Decimal("0.005")) == Decimal("0.01")
    assert round_fen(Decimal("2.675")) == Decimal("2.68")


def test_capital_numerals_follow_the_rule() -> None:
    assert cny_capital(Decimal("3478.145")) == cny_capital(EXPECTED)
    assert cny_capital(EXPECTED).endswith("捌元壹角伍分")


def _pdf_text(data: bytes) -> str:
    """The PDF's text without whitespace (a long line may wrap)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "doc.pdf"
        path.write_bytes(data)
        if shutil.which("pdftotext"):
            text = subprocess.run(["pdftotext", str(path), "-"], check=True,
                                  capture_output=True, text=True).stdout
        else:  # pypdf leaves a NUL before each of fpdf2's two-byte CID characters
            text = "".join(page.extract_text() for page in PdfReader(path).pages)
    return "".join(text.replace("\x00", "").split())


def _states_the_amount(session: Session, number: str) -> None:
    """The document's facts, its table and its PDF all state 3478.15 and its capitals."""
    record = documents.get_certificate(session, number)
    assert record.facts["amount_cny"] == str(EXPECTED)
    rows = dict(documents.document_rows(record.facts))
    assert rows["金额 Amount (CNY)"] == str(EXPECTED)
    assert rows[documents.CAPITAL_LABEL] == cny_capital(EXPECTED)
    text = _pdf_text(documents.render_pdf(record))
    assert str(EXPECTED) in text
    assert cny_capital(EXPECTED) in text


def test_case_agreement_voucher_and_pdf(session: Session) -> None:
    key = load_or_create_key()
    seller, _project, _issued = f.issued_account(session, quantity=100_000)
    authority = f.org(session, name="麻江县人民检察院", region="522635")
    defendant = registry.add_holder(session, kind="person", name="钟某某",
                                    id_number=f.make_resident_id(), region="522635",
                                    actor="test")["id"]
    case = cases.open_case(
        session, number="麻检公益〔2026〕9号", authority_holder_id=authority,
        authority_kind="procuratorate", kind="criminal_public_interest",
        defendant_holder_id=defendant, incident_date=date(2026, 3, 14), region="522635",
        place="麻江县某村田边", incident={"area": "139.2", "unit": "mu",
                                       "vegetation": "extra_tropical_forest"}, actor="test")
    obligation, accounting = cases.external_report_accounting(
        firm="某环境咨询公司", report_ref="R-2026-09", stated_obligation=QUANTITY,
        approved_by="verifier:王某")
    cases.record_accounting(session, case_id=case["id"], obligation=obligation,
                            accounting=accounting, actor="verifier")

    agreed = cases.agree(session, case_id=case["id"], quantity=obligation,
                         seller_account_id=seller, price=PRICE, actor="test")
    assert agreed["agreement"]["amount_cny"] == str(EXPECTED)
    cases.pay(session, case_id=case["id"], reference="BANK-1", actor="operator")
    cases.retire_for_case(session, case_id=case["id"], actor="operator")
    certified = cases.certify(session, case_id=case["id"], key=key, actor="operator")
    _states_the_amount(session, certified["voucher_number"])


@pytest.fixture
def listed(session: Session) -> dict[str, Any]:
    seller, project, _issued = f.issued_account(session, quantity=100_000)
    buyer = f.account(session, f.org(session, name="贵州某公司", region="520100"))
    listing = market.create_listing(
        session, seller_account=seller, product="FCS",
        quantity=parse_quantity("FCS", "100"), price=Decimal(PRICE), min_lot=1,
        expires_at=T0 + timedelta(days=7), project_id=project, actor="test", now=T0)
    return {"listing": listing["id"], "buyer": buyer}


def test_market_order_settlement_voucher_and_pdf(session: Session, backend: str,
                                                 listed: dict[str, Any]) -> None:
    order = market.place_order(session, listing_id=listed["listing"],
                               buyer_account=listed["buyer"],
                               quantity=market.order_quantity(session, listed["listing"],
                                                              QUANTITY),
                               actor="test", now=T0)
    assert order["amount"] == str(EXPECTED), backend
    paid = market.confirm_payment(session, load_or_create_key(), order_id=order["id"],
                                  reference="PAY-1", actor="operator", now=T0)
    assert paid["amount"] == str(EXPECTED), backend
    _states_the_amount(session, paid["voucher_number"])
