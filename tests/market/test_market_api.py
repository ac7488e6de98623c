"""The market through the HTTP API: shapes, roles, idempotency, and 50 buyers racing
for the last units of one listing on PostgreSQL through a live server."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qinglu.accounts import actions as accounts
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.market.models import Listing, Order
from qinglu.registry.actions import balance
from qinglu.registry.audit import audit
from qinglu.registry.models import Hold, UnitBlock
from qinglu.web.app import create_app
from tests import factories as f
from tests.live import serving

PASSWORD = "correct horse"
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _people(session: Session, quantity: int = 10_000) -> dict[str, int]:
    seller_holder = f.org(session, name="剑河县碳汇交易运营中心")
    buyer_holder = f.org(session, name="贵州某电力公司")
    seller = f.account(session, seller_holder)
    buyer = f.account(session, buyer_holder)
    proj = f.project(session)
    from qinglu.registry import actions as registry
    registry.issue(session, project_id=proj, vintage=2023, quantity=quantity, to_account=seller,
                actor=f.ACTOR)
    accounts.add_user(session, name="op", role="operator", password=PASSWORD)
    accounts.add_user(session, name="seller", role="holder", password=PASSWORD,
                      holder_id=seller_holder)
    accounts.add_user(session, name="buyer", role="holder", password=PASSWORD,
                      holder_id=buyer_holder)
    return {"seller": seller, "buyer": buyer, "project": proj, "buyer_holder": buyer_holder}


def _token(client: TestClient | httpx.Client, name: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def market(database_url: str) -> Iterator[tuple[TestClient, dict[str, int]]]:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        people = _people(session)
    engine.dispose()
    app = create_app(database_url)
    app.state.clock = lambda: T0
    with TestClient(app) as client:
        yield client, people


def _list(client: TestClient, people: dict[str, int], **overrides: Any) -> dict[str, Any]:
    body = {"account_id": people["seller"], "product": "FCS", "quantity": "100.00",
            "price": "50.00", "min_lot": "1.00",
            "expires_at": (T0 + timedelta(days=7)).isoformat(), **overrides}
    response = client.post("/api/v1/listings", json=body, headers=_token(client, "seller"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_list_buy_pay_and_see_the_trade(market: tuple[TestClient, dict[str, int]]) -> None:
    client, people = market
    listing = _list(client, people)
    buyer = _token(client, "buyer")
    response = client.post(f"/api/v1/listings/{listing['id']}/orders", headers=buyer,
                           json={"buyer_account": people["buyer"], "quantity": "25.96"})
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["amount"] == "1298.00" and order["status"] == "pending"
    assert client.get(f"/api/v1/listings/{listing['id']}").json()["remaining"] == "74.04"
    # Only an operator confirms payment.
    refused = client.post(f"/api/v1/orders/{order['id']}/payment", headers=buyer,
                          json={"reference": "CCB-1"})
    assert refused.status_code == 403
    paid = client.post(f"/api/v1/orders/{order['id']}/payment", headers=_token(client, "op"),
                       json={"reference": "CCB-1"})
    assert paid.status_code == 200, paid.text
    voucher = paid.json()["voucher_number"]
    for who in ("buyer", "seller"):
        mine = client.get("/api/v1/orders", headers=_token(client, who)).json()
        assert [o["voucher_number"] for o in mine] == [voucher]
    check = client.get(f"/api/v1/certificates/{voucher}/verify").json()
    assert check["valid"] is True, check
    pdf = client.get(f"/api/v1/certificates/{voucher}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    prices = client.get("/api/v1/market/prices", params={"by": "county"}).json()
    assert prices[0]["group_name"].startswith("剑河县") and prices[0]["vwap"] == "50.0000"
    csv_text = client.get("/api/v1/market/prices.csv").text
    assert csv_text.splitlines()[1].startswith(f"{T0.date().isoformat()},FCS,")


def test_overselling_answers_409_problem(market: tuple[TestClient, dict[str, int]]) -> None:
    client, people = market
    listing = _list(client, people, quantity="10.00")
    response = client.post(f"/api/v1/listings/{listing['id']}/orders",
                           headers=_token(client, "buyer"),
                           json={"buyer_account": people["buyer"], "quantity": "10.01"})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert "not enough units left: 10.00 remaining" in problem["detail"]
    assert "剩余数量不足" in problem["detail"]


def test_roles_are_enforced_and_nothing_is_written(
        market: tuple[TestClient, dict[str, int]]) -> None:
    client, people = market
    buyer = _token(client, "buyer")
    # A holder cannot list another holder's units, nor buy into another's account.
    response = client.post("/api/v1/listings", headers=buyer, json={
        "account_id": people["seller"], "product": "FCS", "quantity": "1.00", "price": "1",
        "expires_at": (T0 + timedelta(days=1)).isoformat()})
    assert response.status_code == 403
    listing = _list(client, people)
    response = client.post(f"/api/v1/listings/{listing['id']}/orders", headers=buyer,
                           json={"buyer_account": people["seller"], "quantity": "1.00"})
    assert response.status_code == 403
    anonymous = client.post(f"/api/v1/listings/{listing['id']}/orders",
                            json={"buyer_account": people["buyer"], "quantity": "1.00"})
    assert anonymous.status_code == 401
    assert client.get(f"/api/v1/listings/{listing['id']}").json()["remaining"] == "100.00"
    assert client.get("/api/v1/orders").status_code == 401


def test_retried_requests_with_one_key_buy_and_settle_once(
        market: tuple[TestClient, dict[str, int]]) -> None:
    client, people = market
    listing = _list(client, people)
    buyer = {**_token(client, "buyer"), "Idempotency-Key": "buy-7f3a"}
    body = {"buyer_account": people["buyer"], "quantity": "10.00"}
    first = client.post(f"/api/v1/listings/{listing['id']}/orders", headers=buyer, json=body)
    again = client.post(f"/api/v1/listings/{listing['id']}/orders", headers=buyer, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert client.get(f"/api/v1/listings/{listing['id']}").json()["remaining"] == "90.00"
    operator = {**_token(client, "op"), "Idempotency-Key": "pay-91c2"}
    order_id = first.json()["id"]
    paid = [client.post(f"/api/v1/orders/{order_id}/payment", headers=operator,
                        json={"reference": "ICBC-77"}) for _ in range(3)]
    assert {r.status_code for r in paid} == {200}
    assert len({r.json()["voucher_number"] for r in paid}) == 1
    orders = client.get("/api/v1/orders", headers=_token(client, "buyer")).json()
    assert len(orders) == 1
    # Reusing the key for a different purchase is refused, not silently replayed.
    other = client.post(f"/api/v1/listings/{listing['id']}/orders", headers=buyer,
                        json={**body, "quantity": "11.00"})
    assert other.status_code == 409


def test_negotiated_transfer_through_the_api(
        market: tuple[TestClient, dict[str, int]]) -> None:
    client, people = market
    response = client.post("/api/v1/negotiated-transfers", headers=_token(client, "seller"),
                           json={"seller_account": people["seller"],
                                 "buyer_account": people["buyer"], "product": "FCS",
                                 "quantity": "53.96", "price": "50"})
    assert response.status_code == 201, response.text
    deal = response.json()
    assert deal["order"]["amount"] == "2698.00"
    paid = client.post(f"/api/v1/orders/{deal['order']['id']}/payment",
                       headers=_token(client, "op"), json={"reference": "AGR-2026-1"})
    assert paid.status_code == 200


# --- 50 buyers racing on PostgreSQL through a live server -------------------------------


@pytest.fixture
def live_pg(pg_database_url: str, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[tuple[str, str]]:
    monkeypatch.setenv("QINGLU_THREADS", "50")  # all 50 buyers inside the server at once
    with serving(pg_database_url) as base:
        yield base, pg_database_url


@pytest.mark.slow
def test_fifty_buyers_race_for_the_last_units(live_pg: tuple[str, str]) -> None:
    base, url = live_pg
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session:
        seller_holder = f.org(session)
        seller = f.account(session, seller_holder)
        accounts.add_user(session, name="seller", role="holder", password=PASSWORD,
                          holder_id=seller_holder)
        accounts.add_user(session, name="op", role="operator", password=PASSWORD)
        proj = f.project(session)
        from qinglu.registry import actions as registry
        registry.issue(session, project_id=proj, vintage=2023, quantity=1_000, to_account=seller,
                    actor=f.ACTOR)
        buyers = []
        for n in range(50):
            holder = f.org(session, name=f"买方{n}")
            buyers.append(f.account(session, holder))
            accounts.add_user(session, name=f"b{n}", role="holder", password=PASSWORD,
                              holder_id=holder)
    with httpx.Client(base_url=base, timeout=60) as client:
        listing = client.post("/api/v1/listings", headers=_token(client, "seller"), json={
            "account_id": seller, "product": "FCS", "quantity": "10.00", "price": "48.50",
            "min_lot": "0.01",
            "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}).json()
        tokens = [_token(client, f"b{n}") for n in range(50)]
        operator = _token(client, "op")

    def buy(n: int) -> httpx.Response:
        # 50 buyers want 0.30 t each of 10.00 t: at most 33 can be served.
        with httpx.Client(base_url=base, timeout=60) as own:
            return own.post(f"/api/v1/listings/{listing['id']}/orders", headers=tokens[n],
                            json={"buyer_account": buyers[n], "quantity": "0.30"})

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(buy, range(50)))
    won = [r for r in answers if r.status_code == 201]
    lost = [r for r in answers if r.status_code != 201]
    assert len(won) == 33
    assert {r.status_code for r in lost} == {409}
    assert all("not enough units left: 0.10 remaining" in r.json()["detail"] for r in lost)
    with httpx.Client(base_url=base, timeout=60) as client:
        for response in won:
            paid = client.post(f"/api/v1/orders/{response.json()['id']}/payment",
                               headers=operator, json={"reference": f"R{response.json()['id']}"})
            assert paid.status_code == 200, paid.text
        assert client.get(f"/api/v1/listings/{listing['id']}").json()["remaining"] == "0.10"
    with factory() as session:
        assert balance(session, seller)["FCS"] == {"held": "0.00", "escrow": "0.10"}
        bought = sum(int(balance(session, b).get("FCS", {"held": "0"})["held"]
                         .replace(".", "")) for b in buyers)
        assert bought == 990
        total = session.scalar(select(func.sum(UnitBlock.serial_end - UnitBlock.serial_start
                                               + 1)))
        assert total == 1_000  # every unit in exactly one place
        hold = session.get(Hold, session.get(Listing, listing["id"]).hold_id)  # type: ignore[union-attr]
        pending = session.scalar(select(func.count()).select_from(Order).where(
            Order.status == "pending"))
        assert hold is not None and hold.quantity == 10 and pending == 0
        assert audit(session).ok
    engine.dispose()
