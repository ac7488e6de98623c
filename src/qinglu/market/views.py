"""What both settlement paths share: the market's errors and their wording, money
arithmetic (by core.money's rule), and how listings, orders and trade vouchers are shown.

The Python path (market/service.py) and PostgreSQL's server-side functions
(market/on_postgres.py, migration 0011) check the same things; each refusal is worded
here once, so a buyer sees the same answer whichever database runs the exchange.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from qinglu.core.errors import Conflict, InvalidInput, InvalidTransition, NotFound
from qinglu.core.money import money_amount, price_text, round_fen
from qinglu.core.quantities import format_quantity, product_spec
from qinglu.market.models import Listing, Order


class NotEnoughUnits(Conflict):
    code = "not-enough-units"


class ListingClosed(Conflict):
    code = "listing-closed"


class UnknownListing(NotFound):
    code = "unknown-listing"


class UnknownOrder(NotFound):
    code = "unknown-order"


def aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def trade_amount(product: str, quantity: int, price: Decimal) -> Decimal:
    """Price × quantity in the product's unit, by the money rule (core.money)."""
    return money_amount(price, quantity, product)


def fee_on(amount: Decimal, rate: Decimal) -> Decimal:
    """The exchange's fee on a trade amount, by the money rule (core.money)."""
    return round_fen(amount * rate)


def _amount(product: str, quantity: int) -> str:
    return format_quantity(product, quantity) if quantity else "0"


def listing_view(listing: Listing) -> dict[str, Any]:
    return {
        "id": listing.id, "kind": listing.kind, "seller_account": listing.seller_account,
        "buyer_account": listing.buyer_account, "product": listing.product,
        "project_id": listing.project_id,
        "quantity": format_quantity(listing.product, listing.quantity),
        "remaining": _amount(listing.product, listing.remaining),
        "min_lot": format_quantity(listing.product, listing.min_lot),
        "price": price_text(listing.price), "unit": product_spec(listing.product).unit,
        "expires_at": aware(listing.expires_at).isoformat(), "status": listing.status,
        "hold_id": listing.hold_id, "note": listing.note,
    }


# What ties a listing to a holder: its accounts (a voucher names the parties of a trade,
# and an account number would link them to every other listing and order) and its hold.
PRIVATE_LISTING_FIELDS = ("seller_account", "buyer_account", "hold_id")


def public_listing(view: dict[str, Any]) -> dict[str, Any]:
    """A listing as the public sees it: what is offered, at what price, never by whom."""
    return {k: v for k, v in view.items() if k not in PRIVATE_LISTING_FIELDS}


def order_view(order: Order, listing: Listing) -> dict[str, Any]:
    return {
        "id": order.id, "listing_id": order.listing_id, "buyer_account": order.buyer_account,
        "seller_account": listing.seller_account, "product": listing.product,
        "quantity": format_quantity(listing.product, order.quantity),
        "price": price_text(order.price), "amount": str(order.amount), "fee": str(order.fee),
        "status": order.status, "expires_at": aware(order.expires_at).isoformat(),
        "payment_reference": order.payment_reference,
        "serials": json.loads(order.serials) if order.serials else [],
        "voucher_number": order.voucher_number,
    }


def order_record(order: Order) -> dict[str, Any]:
    """What a settlement's ledger entry records of its order, for the audit."""
    return {"id": order.id, "quantity": order.quantity, "amount": str(order.amount),
            "reference": order.payment_reference,
            "serials": json.loads(order.serials) if order.serials else []}


def voucher_facts(order: Order, listing: Listing, names: dict[int, str],
                  project_name: str | None, serials: list[str]) -> dict[str, Any]:
    """What a trade voucher states; `names` are the parties as the public may see them."""
    facts: dict[str, Any] = {
        "seller": names[listing.seller_account],
        "buyer": names[order.buyer_account],
        "product": listing.product,
        "quantity": format_quantity(listing.product, order.quantity),
        "unit": product_spec(listing.product).unit,
        "serials": serials,
        "price_cny_per_unit": price_text(order.price),
        "amount_cny": str(order.amount),
        "fee_cny": str(order.fee),
        "payment_reference": order.payment_reference or "",
        "purpose": "协议转让 negotiated transfer" if listing.kind == "negotiated"
        else "挂牌交易 listed trade",
        "order_id": order.id,
        "listing_id": listing.id,
    }
    if project_name is not None:
        facts["project"] = project_name
    return facts


# Refusals of an order and of a payment, each worded once for both paths.

def listing_closed(listing_id: int, status: str) -> ListingClosed:
    return ListingClosed(f"挂牌 {listing_id} 已结束（{status}）",
                         f"listing {listing_id} is closed ({status})")


def own_listing() -> InvalidInput:
    return InvalidInput("不能购买自己的挂牌", "a seller cannot buy its own listing")


def not_the_agreed_buyer() -> InvalidInput:
    return InvalidInput("此协议转让只对约定的买方开放",
                        "this negotiated transfer is open to the agreed buyer only")


def not_enough_left(product: str, remaining: int) -> NotEnoughUnits:
    left = _amount(product, remaining)
    return NotEnoughUnits(f"剩余数量不足：只剩 {left}", f"not enough units left: {left} remaining")


def below_min_lot(product: str, min_lot: int) -> InvalidInput:
    lot = format_quantity(product, min_lot)
    return InvalidInput(f"低于最小成交量 {lot}", f"below the minimum lot of {lot}")


def unknown_listing(listing_id: int) -> UnknownListing:
    return UnknownListing(f"挂牌 {listing_id} 不存在", f"listing {listing_id} does not exist")


def unknown_order(order_id: int) -> UnknownOrder:
    return UnknownOrder(f"订单 {order_id} 不存在", f"order {order_id} does not exist")


def settled_elsewhere(order_id: int) -> InvalidTransition:
    return InvalidTransition(f"订单 {order_id} 已用另一付款凭证结算",
                             f"order {order_id} was already settled with another reference")


def not_payable(order_id: int, status: str) -> InvalidTransition:
    return InvalidTransition(f"订单 {order_id} 已{status}，不能付款",
                             f"order {order_id} is {status}; it cannot be paid")


def deadline_passed(order_id: int) -> InvalidTransition:
    return InvalidTransition(f"订单 {order_id} 已过付款期限",
                             f"order {order_id} passed its payment deadline")
