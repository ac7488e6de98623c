"""The market on the ledger: listing escrow, orders, payment, vouchers, expiry and
cancellation with a controlled clock, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.core.errors import InvalidInput, InvalidTransition
from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.market import actions as service
from qinglu.market import prices, views
from qinglu.market.models import Listing, Order
from qinglu.registry.actions import balance
from qinglu.registry.audit import audit
from qinglu.registry.models import Hold
from tests import factories as f

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
ACTOR = "operator:test"


def _listing(session: Session, quantity: int = 10_000, min_lot: int = 100,
             price: str = "50.00") -> tuple[int, int, dict]:  # type: ignore[type-arg]
    seller, _project, _issued = f.issued_account(session, quantity=quantity)
    buyer = f.account(session)
    listing = service.create_listing(
        session, seller_account=seller, product="FCS", quantity=quantity,
        price=Decimal(price), min_lot=min_lot, expires_at=T0 + timedelta(days=7),
        actor=ACTOR, now=T0)
    return seller, buyer, listing


def _escrow_matches_listing(session: Session, listing_id: int) -> None:
    """hold = remaining + pending orders while the listing is open; nothing otherwise."""
    session.expire_all()
    listing = session.get(Listing, listing_id)
    assert listing is not None
    hold = session.get(Hold, listing.hold_id)
    assert hold is not None
    pending = sum(o.quantity for o in session.scalars(select(Order).where(
        Order.listing_id == listing_id, Order.status == "pending")))
    assert hold.quantity == listing.remaining + pending


def test_listing_puts_units_in_escrow(session: Session) -> None:
    seller, _buyer, listing = _listing(session)
    assert balance(session, seller)["FCS"] == {"held": "0.00", "escrow": "100.00"}
    assert listing["remaining"] == "100.00" and listing["status"] == "active"
    _escrow_matches_listing(session, listing["id"])


def test_partial_purchase_settles_on_payment_with_a_verifiable_voucher(
        session: Session) -> None:
    seller, buyer, listing = _listing(session)
    order = service.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                                quantity=2_596, actor=ACTOR, now=T0)
    assert order["amount"] == "1298.00"  # 25.96 t × 50.00 CNY/t
    _escrow_matches_listing(session, listing["id"])
    assert service.listing_view(service.get_listing(session, listing["id"]))["remaining"] \
        == "74.04"
    key = load_or_create_key()
    paid = service.confirm_payment(session, key, order_id=order["id"], reference="CCB-0001",
                                   actor=ACTOR, now=T0 + timedelta(minutes=5))
    assert paid["status"] == "settled" and paid["voucher_number"].startswith("QL-TD-")
    assert balance(session, buyer)["FCS"]["held"] == "25.96"
    assert balance(session, seller)["FCS"]["escrow"] == "74.04"
    _escrow_matches_listing(session, listing["id"])
    result = documents.verify_certificate(session, key, number=paid["voucher_number"])
    assert result.valid, result.problems
    assert result.facts is not None and result.facts["amount_cny"] == "1298.00"
    assert result.facts["serials"] == paid["serials"]
    pdf = documents.render_pdf(documents.get_certificate(session, paid["voucher_number"]))
    assert pdf.startswith(b"%PDF")
    assert audit(session).ok


def test_overselling_is_refused_with_what_is_left(session: Session) -> None:
    _seller, buyer, listing = _listing(session, quantity=1_000)
    service.place_order(session, listing_id=listing["id"], buyer_account=buyer, quantity=900,
                        actor=ACTOR, now=T0)
    with pytest.raises(views.NotEnoughUnits) as refused:
        service.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                            quantity=200, actor=ACTOR, now=T0)
    assert "not enough units left: 1.00 remaining" in refused.value.en
    _escrow_matches_listing(session, listing["id"])


def test_minimum_lot_except_for_the_last_units(session: Session) -> None:
    _seller, buyer, listing = _listing(session, quantity=1_000, min_lot=300)
    with pytest.raises(InvalidInput, match="minimum lot"):
        service.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                            quantity=100, actor=ACTOR, now=T0)
    service.place_order(session, listing_id=listing["id"], buyer_account=buyer, quantity=800,
                        actor=ACTOR, now=T0)
    last = service.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                               quantity=200, actor=ACTOR, now=T0)
    assert last["quantity"] == "2.00"


def test_unpaid_order_expires_and_its_units_return_to_the_listing(session: Session) -> None:
    seller, buyer, listing = _listing(session)
    order = service.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                                quantity=1_000, actor=ACTOR, now=T0)
    assert service.expire_due(session, now=T0 + timedelta(minutes=29))["orders"] == []
    swept = service.expire_due(session, now=T0 + timedelta(minutes=30))
    assert swept["orders"] == [order["id"]]
    assert service.get_listing(session, listing["id"]).remaining == 10_000
    with pytest.raises(InvalidTransition, match="expired"):
        service.confirm_payment(session, load_or_create_key(), order_id=order["id"],
                                reference="late", actor=ACTOR, now=T0 + timedelta(hours=1))
    _escrow_matches_listing(session, listing["id"])
    assert balance(session, seller)["FCS"]["escrow"] == "100.00"


def test_expired_listing_strands_nothing_in_escrow(session: Session) -> None:
    seller, buyer, listing = _listing(session)
    key = load_or_create_key()
    paid = service.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                               quantity=1_000, actor=ACTOR, now=T0)
    service.confirm_payment(session, key, order_id=paid["id"], reference="R1", actor=ACTOR,
                            now=T0)
    # An order placed near the end cannot outlive its listing.
    late = service.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                               quantity=500, actor=ACTOR,
                               now=T0 + timedelta(days=7) - timedelta(minutes=1))
    assert late["expires_at"] == (T0 + timedelta(days=7)).isoformat()
    swept = service.expire_due(session, now=T0 + timedelta(days=7))
    assert (swept["orders"], swept["listings"]) == ([late["id"]], [listing["id"]])
    assert balance(session, seller)["FCS"] == {"held": "90.00", "escrow": "0.00"}
    assert balance(session, buyer)["FCS"]["held"] == "10.00"
    session.expire_all()
    assert session.get(Hold, service.get_listing(session, listing["id"]).hold_id).quantity == 0
    assert service.expire_due(session, now=T0 + timedelta(days=8)) == {
        "orders": [], "listings": []}
    assert audit(session).ok


def test_cancelled_listing_releases_what_no_order_reserved(session: Session) -> None:
    seller, buyer, listing = _listing(session)
    order = service.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                                quantity=1_000, actor=ACTOR, now=T0)
    cancelled = service.cancel_listing(session, listing_id=listing["id"], actor=ACTOR)
    assert cancelled["status"] == "cancelled"
    assert balance(session, seller)["FCS"] == {"held": "90.00", "escrow": "10.00"}
    with pytest.raises(views.ListingClosed):
        service.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                            quantity=100, actor=ACTOR, now=T0)
    service.expire_due(session, now=T0 + timedelta(hours=1))
    assert balance(session, seller)["FCS"] == {"held": "100.00", "escrow": "0.00"}
    assert session.get(Order, order["id"]).status == "expired"  # type: ignore[union-attr]


def test_paying_the_last_order_of_a_cancelled_listing_leaves_it_cancelled(
        session: Session) -> None:
    seller, buyer, listing = _listing(session)
    order = service.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                                quantity=1_000, actor=ACTOR, now=T0)
    service.cancel_listing(session, listing_id=listing["id"], actor=ACTOR)
    paid = service.confirm_payment(session, load_or_create_key(), order_id=order["id"],
                                   reference="R-1", actor=ACTOR, now=T0)
    assert paid["status"] == "settled"
    assert service.get_listing(session, listing["id"]).status == "cancelled"
    assert balance(session, seller)["FCS"] == {"held": "90.00", "escrow": "0.00"}
    assert balance(session, buyer)["FCS"]["held"] == "10.00"


def test_payment_is_settled_once(session: Session) -> None:
    _seller, buyer, listing = _listing(session)
    key = load_or_create_key()
    order = service.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                                quantity=1_000, actor=ACTOR, now=T0)
    first = service.confirm_payment(session, key, order_id=order["id"], reference="R-9",
                                    actor=ACTOR, now=T0)
    again = service.confirm_payment(session, key, order_id=order["id"], reference="R-9",
                                    actor=ACTOR, now=T0)
    assert again == first
    with pytest.raises(InvalidTransition, match="another reference"):
        service.confirm_payment(session, key, order_id=order["id"], reference="R-10",
                                actor=ACTOR, now=T0)
    assert balance(session, buyer)["FCS"]["held"] == "10.00"


def test_negotiated_transfer_is_for_the_named_buyer_only(session: Session) -> None:
    seller, _project, _issued = f.issued_account(session, quantity=5_396)
    buyer, stranger = f.account(session), f.account(session)
    deal = service.negotiated_transfer(session, seller_account=seller, buyer_account=buyer,
                                       product="FCS", quantity=5_396, price=Decimal("50"),
                                       actor=ACTOR, now=T0)
    assert deal["order"]["amount"] == "2698.00"
    assert deal["listing"]["remaining"] == "0"  # all of it ordered by the named buyer
    with pytest.raises(views.NotEnoughUnits):
        service.place_order(session, listing_id=deal["listing"]["id"], buyer_account=buyer,
                            quantity=1, actor=ACTOR, now=T0)
    session.execute(select(1))
    listing = service.get_listing(session, deal["listing"]["id"])
    with pytest.raises(InvalidInput, match="agreed buyer"):
        service._check_orderable(listing, stranger, 1, T0)
    paid = service.confirm_payment(session, load_or_create_key(),
                                   order_id=deal["order"]["id"], reference="AGR-1",
                                   actor=ACTOR, now=T0)
    assert balance(session, buyer)["FCS"]["held"] == "53.96"
    assert service.get_listing(session, deal["listing"]["id"]).status == "sold"
    assert paid["voucher_number"]


def test_daily_prices_vwap_high_low(session: Session) -> None:
    _seller, buyer, listing = _listing(session, price="40.00")
    key = load_or_create_key()
    for quantity, when in ((1_000, T0), (3_000, T0 + timedelta(hours=1))):
        order = service.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                                    quantity=quantity, actor=ACTOR, now=when)
        service.confirm_payment(session, key, order_id=order["id"], reference=f"P{quantity}",
                                actor=ACTOR, now=when)
    _s2, buyer2, dear = _listing(session, price="60.00")
    order = service.place_order(session, listing_id=dear["id"], buyer_account=buyer2,
                                quantity=1_000, actor=ACTOR, now=T0)
    service.confirm_payment(session, key, order_id=order["id"], reference="P-dear",
                            actor=ACTOR, now=T0)
    rows = prices.daily(session, product="FCS")
    assert len(rows) == 1
    day = rows[0]
    # 10 t at 40 + 30 t at 40 + 10 t at 60 = 50 t for 2,200 CNY: VWAP 44.
    assert (day["fills"], day["volume"], day["amount_cny"]) == (3, "50.00", "2200.00")
    assert (day["vwap"], day["high"], day["low"]) == ("44.0000", "60.0000", "40.0000")
    csv_text = prices.to_csv(rows)
    assert csv_text.splitlines()[0].startswith("day,product,group")
