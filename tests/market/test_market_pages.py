"""Market pages without a browser: listing, buying, refusals in words, operator payment,
forged forms refused (both backends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qinglu.accounts import actions as accounts
from qinglu.registry.actions import balance, get_account
from qinglu.web.app import create_app
from tests import factories as f
from tests.web.test_pages import csrf_of

PASSWORD = "correct horse"


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def sign_in(client: TestClient, name: str) -> str:
    client.cookies.clear()
    login = client.get("/login")
    client.post("/login", data={"username": name, "password": PASSWORD,
                                "csrf": csrf_of(login.text)})
    return client.get("/market").text


def test_list_buy_refuse_and_pay_through_pages(client: TestClient, session: Session) -> None:
    seller, _project, _issued = f.issued_account(session, quantity=10_000)
    buyer_holder = f.org(session, name="某公司")
    buyer = f.account(session, buyer_holder)
    accounts.add_user(session, name="seller", role="holder", password=PASSWORD,
                      holder_id=get_account(session, seller).holder_id)
    accounts.add_user(session, name="buyer", role="holder", password=PASSWORD,
                      holder_id=buyer_holder)
    accounts.add_user(session, name="op", role="operator", password=PASSWORD)

    page = sign_in(client, "seller")
    listed = client.post("/market/list", data={
        "account_id": seller, "product": "FCS", "quantity": "100", "price": "50",
        "min_lot": "10", "days": "7", "csrf": csrf_of(page)})
    assert 'id="message"' in listed.text and 'data-remaining="1">100.00 tCO2e' in listed.text
    forged = client.post("/market/list", data={
        "account_id": seller, "product": "FCS", "quantity": "1", "price": "1", "csrf": "x"})
    assert forged.status_code == 403

    page = sign_in(client, "buyer")
    too_small = client.post("/market/buy/1", data={"account_id": buyer, "quantity": "5",
                                                   "csrf": csrf_of(page)})
    assert 'id="error"' in too_small.text and "最小成交量" in too_small.text
    bought = client.post("/market/buy/1", data={"account_id": buyer, "quantity": "40",
                                                "csrf": csrf_of(page)})
    assert "2000.00" in bought.text and 'data-status="1" data-code="pending">待付款' in bought.text
    not_mine = client.post("/market/buy/1", data={"account_id": seller, "quantity": "10",
                                                  "csrf": csrf_of(page)})
    assert not_mine.status_code == 403
    assert client.post("/market/pay/1", data={"reference": "R", "csrf": csrf_of(page)}
                       ).status_code == 403

    page = sign_in(client, "op")
    paid = client.post("/market/pay/1", data={"reference": "ABC-1", "csrf": csrf_of(page)})
    assert 'data-status="1" data-code="settled">已结算' in paid.text and "QL-TD-" in paid.text
    assert balance(session, buyer)["FCS"]["held"] == "40.00"
    home = client.get("/")
    assert 'id="price-chart"' in home.text
