"""Every refusal of an order or a payment, word for word, on both backends.

On PostgreSQL orders and payments run in server-side functions (migration 0011) that
refuse with SQLSTATEs; on SQLite the Python checks refuse. A buyer must get the same
answer from either, and a refused request must leave the listing and the ledger as
they were. Retries with an idempotency key answer exactly as the first request did."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from qinglu.core.errors import (
    AccountKindNotAllowed,
    InvalidInput,
    InvalidTransition,
    QingluError,
    UnknownAccount,
)
from qinglu.core.ledger import ledger_head
from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.market import actions as market
from qinglu.market import views
from qinglu.registry.actions import system_account
from qinglu.registry.audit import audit
from tests import factories as f

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
ACTOR = "operator:test"


def _listing(session: Session, **terms: Any) -> tuple[int, int, dict[str, Any]]:
    seller, _project, _issued = f.issued_account(session, quantity=10_000)
    buyer = f.account(session)
    listing = market.create_listing(
        session, seller_account=seller, product="FCS", quantity=terms.pop("quantity", 10_000),
        price=Decimal("50.00"), min_lot=terms.pop("min_lot", 100),
        expires_at=T0 + timedelta(days=7), actor=ACTOR, now=T0, **terms)
    return seller, buyer, listing


def _refused(session: Session, attempt: Callable[[], Any], kind: type[QingluError],
             zh: str, en: str) -> None:
    """`attempt` fails with exactly this message and writes nothing to the ledger."""
    before = ledger_head(session)
    session.rollback()
    with pytest.raises(kind) as refused:
        attempt()
    assert (refused.value.zh, refused.value.en) == (zh, en)
    assert ledger_head(session) == before


def _order(session: Session, listing_id: int, buyer: int, quantity: int) -> Callable[[], Any]:
    return lambda: market.place_order(session, listing_id=listing_id, buyer_account=buyer,
                                       quantity=quantity, actor=ACTOR, now=T0)


def test_order_refusals_are_worded_alike(session: Session) -> None:
    seller, buyer, listing = _listing(session, quantity=5_000)
    lid = listing["id"]
    _refused(session, _order(session, 999_999, buyer, 100), views.UnknownListing,
             "挂牌 999999 不存在", "listing 999999 does not exist")
    _refused(session, _order(session, lid, seller, 100), InvalidInput,
             "不能购买自己的挂牌", "a seller cannot buy its own listing")
    _refused(session, _order(session, lid, buyer, 5_001), views.NotEnoughUnits,
             "剩余数量不足：只剩 50.00", "not enough units left: 50.00 remaining")
    _refused(session, _order(session, lid, buyer, 99), InvalidInput,
             "低于最小成交量 1.00", "below the minimum lot of 1.00")
    _refused(session, _order(session, lid, 999_999, 100), UnknownAccount,
             "账户 999999 不存在", "account 999999 does not exist")
    market.cancel_listing(session, listing_id=lid, actor=ACTOR)
    _refused(session, _order(session, lid, buyer, 100), views.ListingClosed,
             f"挂牌 {lid} 已结束（cancelled）", f"listing {lid} is closed (cancelled)")
    assert market.get_listing(session, lid).remaining == 0
    assert audit(session).ok


def test_a_negotiated_listing_refuses_anyone_but_the_agreed_buyer(session: Session) -> None:
    seller, _project, _issued = f.issued_account(session, quantity=1_000)
    buyer, stranger = f.account(session), f.account(session)
    listing = market.create_listing(
        session, seller_account=seller, buyer_account=buyer, kind="negotiated",
        product="FCS", quantity=1_000, price=Decimal("50"), min_lot=None,
        expires_at=T0 + timedelta(days=1), actor=ACTOR, now=T0)
    _refused(session, _order(session, listing["id"], stranger, 1_000), InvalidInput,
             "此协议转让只对约定的买方开放",
             "this negotiated transfer is open to the agreed buyer only")
    assert _order(session, listing["id"], buyer, 1_000)()["status"] == "pending"


def _pay(session: Session, order_id: int, reference: str,
         now: datetime = T0) -> Callable[[], Any]:
    key = load_or_create_key()
    return lambda: market.confirm_payment(session, key, order_id=order_id,
                                           reference=reference, actor=ACTOR, now=now)


def test_payment_refusals_are_worded_alike(session: Session) -> None:
    _seller, buyer, listing = _listing(session)
    order = _order(session, listing["id"], buyer, 500)()
    oid = order["id"]
    _refused(session, _pay(session, 999_999, "R-1"), views.UnknownOrder,
             "订单 999999 不存在", "order 999999 does not exist")
    late = datetime.fromisoformat(order["expires_at"])
    _refused(session, _pay(session, oid, "R-1", now=late), InvalidTransition,
             f"订单 {oid} 已过付款期限", f"order {oid} passed its payment deadline")
    _pay(session, oid, "R-1")()
    _refused(session, _pay(session, oid, "R-2"), InvalidTransition,
             f"订单 {oid} 已用另一付款凭证结算",
             f"order {oid} was already settled with another reference")
    market.expire_due(session, now=late)
    other = _order(session, listing["id"], buyer, 500)()
    market.expire_due(session, now=datetime.fromisoformat(other["expires_at"]))
    _refused(session, _pay(session, other["id"], "R-3"), InvalidTransition,
             f"订单 {other['id']} 已expired，不能付款",
             f"order {other['id']} is expired; it cannot be paid")
    assert audit(session).ok


def test_units_cannot_be_settled_into_a_retirement_account(session: Session) -> None:
    _seller, _buyer, listing = _listing(session)
    retirement = system_account(session, "retirement").id
    order = _order(session, listing["id"], retirement, 100)()
    _refused(session, _pay(session, order["id"], "R-1"), AccountKindNotAllowed,
             f"不能直接转入 retirement 账户 {retirement}（请用注销或核销）",
             f"cannot transfer into retirement account {retirement} (retire or cancel instead)")
    assert market.get_order(session, order["id"]).status == "pending"


def test_retries_with_one_key_answer_as_the_first_did(session: Session) -> None:
    _seller, buyer, listing = _listing(session)
    key = load_or_create_key()

    def order() -> dict[str, Any]:
        return market.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                                   quantity=700, actor=ACTOR, idempotency_key="order-1", now=T0)

    first = order()
    assert order() == first
    assert first["quantity"] == "7.00" and first["amount"] == "350.00"
    assert first["price"] == "50.00" and first["status"] == "pending"

    def pay() -> dict[str, Any]:
        return market.confirm_payment(session, key, order_id=first["id"], reference="R-7",
                                       actor=ACTOR, idempotency_key="pay-1", now=T0)

    paid = pay()
    assert pay() == paid
    assert paid["status"] == "settled" and paid["quantity"] == "7.00"
    assert market.get_listing(session, listing["id"]).remaining == 10_000 - 700
    voucher = documents.verify_certificate(session, key, number=paid["voucher_number"])
    assert voucher.valid, voucher.problems
    assert voucher.facts is not None and voucher.facts["serials"] == paid["serials"]
    assert voucher.facts["amount_cny"] == "350.00"
    assert audit(session).ok
