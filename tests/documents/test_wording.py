"""Each document says what it is and what the ledger says now: a retirement certificate's
units are retired; a trade voucher's units were transferred to the buyer on its date and
are now held, or retired once the buyer retires them; never "units retired" for a voucher
whose units the buyer still holds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.market import actions as market
from qinglu.web.app import create_app
from tests import factories as f
from tests.market.test_market import ACTOR, T0, _listing


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


@pytest.fixture
def voucher(session: Session) -> dict[str, Any]:
    _seller, buyer, listing = _listing(session)
    order = market.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                               quantity=2_596, actor=ACTOR, now=T0)
    paid = market.confirm_payment(session, load_or_create_key(), order_id=order["id"],
                                  reference="CCB-0001", actor=ACTOR,
                                  now=T0 + timedelta(minutes=5))
    return {"number": paid["voucher_number"], "buyer": buyer}


def verdict(client: TestClient, number: str) -> str:
    page = client.get(f"/verify/{number}")
    assert page.status_code == 200 and 'data-valid="true"' in page.text, page.text
    start = page.text.index('id="verdict"')
    return page.text[start:page.text.index("</p>", start)]


def test_a_held_vouchers_page_does_not_say_retired(client: TestClient,
                                                   voucher: dict[str, Any]) -> None:
    said = verdict(client, voucher["number"])
    assert "所载单位已注销" not in said and "units are retired" not in said
    assert "转让给买方" in said and "现仍持有、未注销" in said


def test_a_voucher_says_retired_once_the_buyer_retires(
        client: TestClient, session: Session, voucher: dict[str, Any]) -> None:
    documents.retire(session, load_or_create_key(), from_account=voucher["buyer"],
                     product="FCS", quantity=2_596, beneficiary="买方", purpose="抵消",
                     actor="test")
    result = documents.verify_certificate(session, load_or_create_key(),
                                          number=voucher["number"])
    assert result.valid and result.statement is not None
    assert "现已全部注销" in result.statement["zh"]
    assert "they are now retired" in result.statement["en"]


def test_a_retirement_certificate_says_its_units_are_retired(
        client: TestClient, session: Session) -> None:
    account, _project, _issued = f.issued_account(session, quantity=10_000)
    retired = documents.retire(session, load_or_create_key(), from_account=account,
                               product="FCS", quantity=1_000, beneficiary="钟某",
                               purpose="替代性修复", actor="test")
    said = verdict(client, retired["certificate_number"])
    assert "已为 钟某 注销" in said and "转让" not in said
