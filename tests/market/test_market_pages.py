"""Market pages without a browser: listing, buying, refusals in words, operator payment,
forged forms refused (both backends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
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
    with TestClient(create_app(database_url), follow_redirects=False) as test_client:
        yield test_client


def entries(session: Session) -> int:
    """How many ledger entries there are, read in a transaction of its own (so that the
    session's next read sees what the pages write after it)."""
    count = int(session.execute(text("SELECT count(*) FROM ledger_entries")).scalar_one())
    session.rollback()
    return count


def shown_twice(client: TestClient, session: Session, location: str, *seen: str) -> None:
    """The page a redirect after a form names, shown twice (a refresh): each time with
    what it should say, and nothing more written to the ledger."""
    written = entries(session)
    for _ in range(2):
        shown = client.get(location)
        assert shown.status_code == 200
        for text_ in seen:
            assert text_ in shown.text
    assert entries(session) == written


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
    assert listed.status_code == 303
    assert listed.headers["location"] == "/market?message=listing-opened&listing=1"
    shown_twice(client, session, listed.headers["location"],
                '<p class="notice" id="message">挂牌 #1 已上架，100.00 tCO2e</p>',
                'data-remaining="1">100.00 tCO2e')
    forged = client.post("/market/list", data={
        "account_id": seller, "product": "FCS", "quantity": "1", "price": "1", "csrf": "x"})
    assert forged.status_code == 403

    page = sign_in(client, "buyer")
    too_small = client.post("/market/buy/1", data={"account_id": buyer, "quantity": "5",
                                                   "confirmed": "1", "csrf": csrf_of(page)})
    assert too_small.status_code == 422 and 'id="buy-1-error"' in too_small.text
    assert "最小成交量" in too_small.text and 'value="5"' in too_small.text
    written = entries(session)
    asked = client.post("/market/buy/1", data={"account_id": buyer, "quantity": "４0",
                                               "csrf": csrf_of(page)})
    assert asked.status_code == 200 and entries(session) == written  # asked, not done
    assert "从挂牌 #1 购买 40.00 tCO2e，单价 50.00 元/tCO2e" in asked.text
    assert 'name="confirmed" value="1"' in asked.text and 'value="40.00"' in asked.text
    bought = client.post("/market/buy/1", data={"account_id": buyer, "quantity": "40.00",
                                                "confirmed": "1", "csrf": csrf_of(asked.text)})
    assert bought.status_code == 303
    assert bought.headers["location"] == "/market?message=order-placed&order=1"
    shown_twice(client, session, bought.headers["location"], "订单 #1 已下，应付 2000.00 元",
                'data-status="1" data-code="pending">待付款')
    not_mine = client.post("/market/buy/1", data={"account_id": seller, "quantity": "10",
                                                  "confirmed": "1", "csrf": csrf_of(page)})
    assert not_mine.status_code == 403
    assert client.post("/market/pay/1", data={"reference": "R", "confirmed": "1",
                                              "csrf": csrf_of(page)}).status_code == 403

    page = sign_in(client, "op")
    written = entries(session)
    asked = client.post("/market/pay/1", data={"reference": " ABC-1 ", "csrf": csrf_of(page)})
    assert asked.status_code == 200 and entries(session) == written
    assert "确认订单 #1 已收到付款 2000.00 元，付款凭证号 ABC-1" in asked.text
    paid = client.post("/market/pay/1", data={"reference": "ABC-1", "confirmed": "1",
                                              "csrf": csrf_of(asked.text)})
    assert paid.status_code == 303
    shown_twice(client, session, paid.headers["location"], "订单 #1 已结算，凭证 QL-TD-",
                'data-status="1" data-code="settled">已结算')
    again = client.post("/market/pay/1", data={"reference": "XYZ-2", "confirmed": "1",
                                               "csrf": csrf_of(page)})
    assert again.status_code == 422 and 'id="error"' in again.text  # its row has no form
    assert balance(session, buyer)["FCS"]["held"] == "40.00"
    home = client.get("/")
    assert 'id="price-chart"' in home.text


def test_listing_refusals_beside_their_fields_and_withdrawal(
        client: TestClient, session: Session) -> None:
    seller, _project, _issued = f.issued_account(session, quantity=10_000)
    accounts.add_user(session, name="seller", role="holder", password=PASSWORD,
                      holder_id=get_account(session, seller).holder_id)
    page = sign_in(client, "seller")
    written = entries(session)
    refused = client.post("/market/list?lang=en", data={
        "account_id": seller, "product": "FCS", "quantity": "1,234", "price": "abc",
        "days": "x", "csrf": csrf_of(page)})
    assert refused.status_code == 422 and entries(session) == written
    for field, typed in (("quantity", "1,234"), ("price", "abc"), ("days", "x")):
        assert f'id="list-{field}-error"' in refused.text
        assert f'name="{field}" inputmode' in refused.text and f'value="{typed}"' in refused.text
    listed = client.post("/market/list", data={
        "account_id": seller, "product": "FCS", "quantity": "１０", "price": "5,5",
        "csrf": csrf_of(page)})
    assert listed.status_code == 303
    withdrawn = client.post("/market/cancel/1", data={"csrf": csrf_of(page)})
    assert withdrawn.status_code == 303
    assert withdrawn.headers["location"] == "/market?message=listing-withdrawn"
    # still in English: the language chosen above is kept (its cookie)
    shown_twice(client, session, withdrawn.headers["location"], "the listing is withdrawn")
    twice = client.post("/market/cancel/1", data={"csrf": csrf_of(page)})
    assert twice.status_code == 422 and 'id="error"' in twice.text
    forged_notice = client.get("/market", params={"message": "call 123"})
    assert "call 123" not in forged_notice.text  # fixed keys only
