"""Listings, orders, negotiated transfers and their settlement on the ledger.

Every step is one ledger write (`run_write`): listing (units into escrow), order
(reserves part of the listing; nothing moves), payment (units out of escrow to the
buyer, a signed trade voucher), expiry and cancellation (units back to the seller).
The listing row is locked in each, so concurrent buyers queue on it and a listing
is never oversold; a refusal rolls the whole write back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.core.errors import Forbidden, InvalidInput, InvalidTransition, NotAuthenticated
from qinglu.core.ledger import WriteContext, run_write
from qinglu.core.principal import Actor, Principal
from qinglu.core.quantities import parse_quantity, product_spec
from qinglu.db.engine import on_postgres
from qinglu.documents import actions as documents
from qinglu.documents.signing import RegistryKey
from qinglu.market import on_postgres as server_side
from qinglu.market import prices
from qinglu.market.models import Listing, Order
from qinglu.market.views import (
    aware,
    below_min_lot,
    deadline_passed,
    fee_on,
    listing_closed,
    listing_view,
    not_enough_left,
    not_payable,
    not_the_agreed_buyer,
    order_record,
    order_view,
    own_listing,
    public_listing,
    settled_elsewhere,
    trade_amount,
    unknown_listing,
    unknown_order,
    voucher_facts,
)
from qinglu.registry import actions as registry
from qinglu.registry.actions import get_account

_Row = TypeVar("_Row", Listing, Order)
DEFAULT_ORDER_MINUTES = 30
DEFAULT_LISTING_DAYS, MAX_LISTING_DAYS = 30, 365


class _AlreadySettled(Exception):
    """A repeated confirmation of a settled order: answered, not written."""

    def __init__(self, view: dict[str, Any]) -> None:
        super().__init__(view["id"])
        self.view = view


def utc_now() -> datetime:
    return datetime.now(UTC)


def order_lifetime() -> timedelta:
    """How long a buyer has to pay (QINGLU_ORDER_MINUTES, default 30 minutes)."""
    return timedelta(minutes=int(os.environ.get("QINGLU_ORDER_MINUTES", DEFAULT_ORDER_MINUTES)))


def fee_rate() -> Decimal:
    """The exchange's fee on the trade amount (QINGLU_MARKET_FEE_RATE, default 0): a
    business setting of the exchange that runs Qinglu, not a published figure."""
    return Decimal(os.environ.get("QINGLU_MARKET_FEE_RATE", "0"))


def listing_expiry(moment: datetime, days_open: int | None) -> datetime:
    """When a listing opened at `moment` for `days_open` days (default 30, 1 to 365) ends."""
    days = DEFAULT_LISTING_DAYS if days_open is None else days_open
    if not 1 <= days <= MAX_LISTING_DAYS:
        raise InvalidInput(f"挂牌天数须在 1 与 {MAX_LISTING_DAYS} 之间：{days}",
                           f"a listing is open for 1 to {MAX_LISTING_DAYS} days: {days}")
    return moment + timedelta(days=days)


def get_listing(session: Session, listing_id: int, *, lock: bool = False) -> Listing:
    """A listing; with `lock`, its row locked for the rest of the write."""
    listing = _locked(session, Listing, listing_id) if lock else session.get(Listing, listing_id)
    if listing is None:
        raise unknown_listing(listing_id)
    return listing


def get_order(session: Session, order_id: int, *, lock: bool = False) -> Order:
    """An order; with `lock`, its row locked for the rest of the write."""
    order = _locked(session, Order, order_id) if lock else session.get(Order, order_id)
    if order is None:
        raise unknown_order(order_id)
    return order


def _locked(session: Session, model: type[_Row], row_id: int) -> _Row | None:
    # A locked read must see the row as it is now, not as this session cached it.
    return session.scalar(select(model).where(model.id == row_id).with_for_update()
                          .execution_options(populate_existing=True))


@dataclass(frozen=True)
class ListingTerms:
    """What a seller offers: checked once, then listed inside a ledger write."""

    seller_account: int
    product: str
    quantity: int
    price: Decimal
    min_lot: int
    expires_at: datetime
    project_id: int | None = None
    buyer_account: int | None = None
    kind: str = "listing"
    note: str = ""

    @classmethod
    def checked(cls, *, seller_account: int, product: str, quantity: int, price: Decimal,
                min_lot: int | None, expires_at: datetime, now: datetime,
                project_id: int | None = None, buyer_account: int | None = None,
                kind: str = "listing", note: str = "") -> ListingTerms:
        product_spec(product)
        lot = quantity if min_lot is None else min_lot
        if not 0 < lot <= quantity:
            raise InvalidInput("最小成交量须大于零且不超过挂牌数量",
                               "the minimum lot must be above zero and at most the quantity listed")
        expires_at = aware(expires_at)
        if expires_at <= now:
            raise InvalidInput("到期时间须在将来", "the expiry must be in the future")
        if buyer_account is not None and buyer_account == seller_account:
            raise InvalidInput("买卖双方不能是同一账户",
                               "buyer and seller must be different accounts")
        return cls(seller_account, product, quantity, price, lot, expires_at, project_id,
                   buyer_account, kind, note)

    def request(self) -> dict[str, Any]:
        return {"seller_account": self.seller_account, "product": self.product,
                "quantity": self.quantity, "price": str(self.price), "min_lot": self.min_lot,
                "expires_at": self.expires_at.isoformat(), "project_id": self.project_id,
                "buyer_account": self.buyer_account, "kind": self.kind}


def create_listing(session: Session, *, seller_account: int, product: str, quantity: int,
                   price: Decimal, min_lot: int | None, actor: Actor,
                   expires_at: datetime | None = None, days_open: int | None = None,
                   project_id: int | None = None, buyer_account: int | None = None,
                   kind: str = "listing", note: str = "", idempotency_key: str | None = None,
                   now: datetime | None = None) -> dict[str, Any]:
    """List units for sale: they go into escrow at once, so they cannot be sold twice.

    The listing ends at `expires_at`, or after `days_open` days (see `listing_expiry`).
    A signed-in `actor` lists only from its own accounts (an operator from any)."""
    name = registry.actor_name(session, actor, seller_account)
    moment = now or utc_now()
    terms = ListingTerms.checked(
        seller_account=seller_account, product=product, quantity=quantity, price=price,
        min_lot=min_lot, expires_at=expires_at or listing_expiry(moment, days_open),
        now=moment, project_id=project_id, buyer_account=buyer_account, kind=kind, note=note)
    return run_write(session, kind="listing", actor=name, request=terms.request(),
                     action=lambda ctx: list_in(ctx, terms, name),
                     idempotency_key=idempotency_key)


def list_in(ctx: WriteContext, terms: ListingTerms, actor: str) -> dict[str, Any]:
    """The listing itself, inside a caller's ledger write: units into escrow, the row."""
    if terms.buyer_account is not None:
        get_account(ctx.session, terms.buyer_account)
    held = registry.hold_in(ctx, from_account=terms.seller_account, product=terms.product,
                         quantity=terms.quantity, purpose=f"挂牌 listing ({terms.kind})",
                         project_id=terms.project_id)
    listing = Listing(kind=terms.kind, seller_account=terms.seller_account,
                      buyer_account=terms.buyer_account, product=terms.product,
                      project_id=terms.project_id, quantity=terms.quantity,
                      remaining=terms.quantity, min_lot=terms.min_lot, price=terms.price,
                      expires_at=terms.expires_at, status="active", hold_id=held["id"],
                      note=terms.note, created_by=actor)
    ctx.session.add(listing)
    ctx.session.flush()
    return {**listing_view(listing), "serials": held["serials"]}


def order_quantity(session: Session, listing_id: int, text: str) -> int:
    """A quantity to order, given as a decimal in the unit of the listing's product."""
    return parse_quantity(get_listing(session, listing_id).product, text)


def place_order(session: Session, *, listing_id: int, buyer_account: int, quantity: int,
                actor: Actor, idempotency_key: str | None = None,
                now: datetime | None = None) -> dict[str, Any]:
    """Reserve `quantity` of a listing for a buyer until paid or expired. A signed-in
    `actor` buys only into its own accounts (an operator into any)."""
    actor = registry.actor_name(session, actor, buyer_account)
    request = {"listing_id": listing_id, "buyer_account": buyer_account, "quantity": quantity}
    if on_postgres(session):
        return server_side.place_order(
            session, listing_id=listing_id, buyer_account=buyer_account, quantity=quantity,
            actor=actor, request=request, idempotency_key=idempotency_key,
            moment=now or utc_now(), lifetime=order_lifetime(), fee_rate=fee_rate())
    return run_write(session, kind="order", actor=actor, request=request,
                     action=lambda ctx: order_in(ctx, listing_id, buyer_account, quantity,
                                                 actor, now or utc_now()),
                     idempotency_key=idempotency_key)


def order_in(ctx: WriteContext, listing_id: int, buyer_account: int, quantity: int,
             actor: str, moment: datetime) -> dict[str, Any]:
    """The order itself, inside a caller's ledger write: the listing row is locked, so
    concurrent buyers queue on it and the listing is never oversold."""
    listing = get_listing(ctx.session, listing_id, lock=True)
    _check_orderable(listing, buyer_account, quantity, moment)
    get_account(ctx.session, buyer_account)
    amount = trade_amount(listing.product, quantity, listing.price)
    order = Order(listing_id=listing.id, buyer_account=buyer_account, quantity=quantity,
                  price=listing.price, amount=amount,
                  fee=fee_on(amount, fee_rate()),
                  status="pending", created_by=actor,
                  expires_at=min(moment + order_lifetime(), aware(listing.expires_at)))
    listing.remaining -= quantity
    ctx.session.add(order)
    ctx.session.flush()
    return order_view(order, listing)


def _check_orderable(listing: Listing, buyer_account: int, quantity: int,
                     moment: datetime) -> None:
    if listing.status != "active" or aware(listing.expires_at) <= moment:
        raise listing_closed(listing.id, listing.status)
    if buyer_account == listing.seller_account:
        raise own_listing()
    if listing.buyer_account is not None and buyer_account != listing.buyer_account:
        raise not_the_agreed_buyer()
    if quantity > listing.remaining:
        raise not_enough_left(listing.product, listing.remaining)
    if quantity < listing.min_lot and quantity != listing.remaining:
        raise below_min_lot(listing.product, listing.min_lot)


def confirm_payment(session: Session, key: RegistryKey, *, order_id: int, reference: str,
                    actor: str, idempotency_key: str | None = None,
                    now: datetime | None = None) -> dict[str, Any]:
    """Payment received: units leave escrow for the buyer and a voucher is signed.

    A second confirmation with the same payment reference answers as the first did
    (a gateway retries its callback); another reference for a settled order is refused."""
    reference = reference.strip()
    if not 0 < len(reference) <= 200:
        raise InvalidInput("付款凭证号不能为空（最多200字）",
                           "a payment reference is required (max 200 characters)")
    request = {"order_id": order_id, "reference": reference}
    if on_postgres(session):
        return server_side.confirm_payment(
            session, key, order_id=order_id, reference=reference, actor=actor, request=request,
            idempotency_key=idempotency_key, moment=now or utc_now())

    def action(ctx: WriteContext) -> dict[str, Any]:
        moment = now or utc_now()
        order = get_order(ctx.session, order_id, lock=True)
        listing = get_listing(ctx.session, order.listing_id, lock=True)
        if order.status == "settled" and order.payment_reference == reference:
            raise _AlreadySettled({**order_view(order, listing),
                                   "entry": order.entry_sequence})
        _check_payable(order, moment)
        moved = registry.settle_in(ctx, hold_id=listing.hold_id, to_account=order.buyer_account,
                                quantity=order.quantity)
        order.status, order.payment_reference = "settled", reference
        order.settled_at = moment
        order.serials = json.dumps(moved["serials"])
        if listing.status == "active" and listing.remaining == 0 \
                and not _has_pending(ctx.session, listing.id, order.id):
            # Sold out; a listing cancelled or expired meanwhile keeps that status.
            listing.status, listing.closed_at = "sold", order.settled_at
        voucher = _issue_voucher(ctx, key, order, listing, moved["serials"])
        order.voucher_number = voucher["number"]
        ctx.records["order"] = order_record(order)
        ctx.on_sequence.append(lambda sequence: setattr(order, "entry_sequence", sequence))
        return order_view(order, listing)

    try:
        return run_write(session, kind="trade", actor=actor, request=request, action=action,
                         idempotency_key=idempotency_key)
    except _AlreadySettled as settled:  # the write was rolled back; nothing moved
        return settled.view


def _check_payable(order: Order, moment: datetime) -> None:
    if order.status == "settled":
        raise settled_elsewhere(order.id)
    if order.status != "pending":
        raise not_payable(order.id, order.status)
    if aware(order.expires_at) <= moment:
        raise deadline_passed(order.id)


def _has_pending(session: Session, listing_id: int, other_than: int) -> bool:
    return session.scalar(select(Order.id).where(
        Order.listing_id == listing_id, Order.status == "pending", Order.id != other_than)
        .limit(1)) is not None


def _issue_voucher(ctx: WriteContext, key: RegistryKey, order: Order, listing: Listing,
                   serials: list[str]) -> dict[str, Any]:
    session = ctx.session
    project = registry.project_name(session, listing.project_id) if listing.project_id else None
    names = registry.party_names(session, listing.seller_account, order.buyer_account)
    facts = voucher_facts(order, listing, names, project, serials)
    return documents.issue_trade_voucher_in(ctx, key, order_id=order.id, facts=facts)


def cancel_listing(session: Session, *, listing_id: int, actor: Actor,
                   idempotency_key: str | None = None) -> dict[str, Any]:
    """Withdraw a listing: what no order has reserved goes back to the seller at once;
    pending orders stay payable until they settle or expire. A signed-in `actor` withdraws
    only its own listings (an operator any)."""
    actor = registry.actor_name(session, actor, get_listing(session, listing_id).seller_account)

    def action(ctx: WriteContext) -> dict[str, Any]:
        listing = get_listing(ctx.session, listing_id, lock=True)
        if listing.status != "active":
            raise InvalidTransition(f"挂牌 {listing.id} 已{listing.status}",
                                    f"listing {listing.id} is already {listing.status}")
        _close(ctx, listing, "cancelled", utc_now())
        return listing_view(listing)

    return run_write(session, kind="listing_cancel", actor=actor,
                     request={"listing_id": listing_id}, action=action,
                     idempotency_key=idempotency_key)


def _close(ctx: WriteContext, listing: Listing, status: str, moment: datetime) -> None:
    if listing.remaining:
        registry.release_in(ctx, hold_id=listing.hold_id, quantity=listing.remaining)
        listing.remaining = 0
    listing.status, listing.closed_at = status, moment


def expire_due(session: Session, *, now: datetime | None = None,
               actor: str = "system:market-clock") -> dict[str, Any]:
    """Expire unpaid orders and listings whose time has passed, in one ledger write.

    An expired order's units go back to its listing if that is still open, else to
    the seller; an expired listing releases what is left. Safe to run at any time
    (the web server runs it every minute; `qinglu market expire` from cron works too)."""
    moment = now or utc_now()
    due_orders = session.scalars(select(Order.id).where(
        Order.status == "pending", Order.expires_at <= moment).order_by(Order.id)).all()
    due_listings = session.scalars(select(Listing.id).where(
        Listing.status == "active", Listing.expires_at <= moment).order_by(Listing.id)).all()
    session.rollback()
    if not due_orders and not due_listings:
        return {"orders": [], "listings": []}

    def action(ctx: WriteContext) -> dict[str, Any]:
        orders = [oid for oid in due_orders if _expire_order(ctx, oid, moment)]
        listings = [lid for lid in due_listings if _expire_listing(ctx, lid, moment)]
        return {"orders": orders, "listings": listings}

    return run_write(session, kind="market_expiry", actor=actor,
                     request={"at": moment.isoformat()}, action=action)


def _expire_order(ctx: WriteContext, order_id: int, moment: datetime) -> bool:
    order = get_order(ctx.session, order_id, lock=True)
    if order.status != "pending" or aware(order.expires_at) > moment:
        return False  # paid or changed since it was found due
    listing = get_listing(ctx.session, order.listing_id, lock=True)
    order.status = "expired"
    if listing.status == "active":
        listing.remaining += order.quantity  # back on offer, or released below if lapsed
    else:
        registry.release_in(ctx, hold_id=listing.hold_id, quantity=order.quantity)
    return True


def _expire_listing(ctx: WriteContext, listing_id: int, moment: datetime) -> bool:
    listing = get_listing(ctx.session, listing_id, lock=True)
    if listing.status != "active" or aware(listing.expires_at) > moment:
        return False
    _close(ctx, listing, "expired", moment)
    return True


def negotiated_transfer(session: Session, *, seller_account: int, buyer_account: int,
                        product: str, quantity: int, price: Decimal, actor: Actor,
                        project_id: int | None = None, expires_at: datetime | None = None,
                        note: str = "", idempotency_key: str | None = None,
                        now: datetime | None = None) -> dict[str, Any]:
    """协议转让: two named parties agree quantity and price. In one ledger write the
    seller's units go into escrow for that buyer only and an order for all of them awaits
    payment: the same escrow → payment → settlement path as a listed trade."""
    name = registry.actor_name(session, actor, seller_account)
    moment = now or utc_now()
    terms = ListingTerms.checked(
        seller_account=seller_account, product=product, quantity=quantity, price=price,
        min_lot=quantity, expires_at=expires_at or moment + order_lifetime(), now=moment,
        project_id=project_id, buyer_account=buyer_account, kind="negotiated", note=note)

    def action(ctx: WriteContext) -> dict[str, Any]:
        listed = list_in(ctx, terms, name)
        order = order_in(ctx, listed["id"], buyer_account, quantity, name, moment)
        listing = listing_view(get_listing(ctx.session, listed["id"]))
        return {"listing": {**listing, "serials": listed["serials"]}, "order": order}

    return run_write(session, kind="negotiated_transfer", actor=name, request=terms.request(),
                     action=action, idempotency_key=idempotency_key)


def orders_of(session: Session, account_ids: list[int] | None) -> list[dict[str, Any]]:
    """Orders where the accounts buy or sell (all orders when `account_ids` is None)."""
    query = select(Order, Listing).join(Listing, Listing.id == Order.listing_id)
    if account_ids is not None:
        query = query.where((Order.buyer_account.in_(account_ids))
                            | (Listing.seller_account.in_(account_ids)))
    return [order_view(o, li) for o, li in session.execute(query.order_by(Order.id.desc()))]


ORDER_ROLES = ("operator", "holder")


def _order_accounts(session: Session, principal: Principal) -> list[int] | None:
    """Whose orders `principal` sees: an operator everyone's (None), a holder those of its
    accounts; the anonymous public is asked to sign in, other roles are refused."""
    if principal.role is None:
        raise NotAuthenticated("请先登录", "sign in first")
    if principal.role == "operator":
        return None
    if principal.role == "holder" and principal.holder_id is not None:
        return [account.id for account in registry.accounts_of(session, principal.holder_id)]
    raise Forbidden("只有持有人与运营方可查看订单", "only holders and operators see orders")


def orders_visible_to(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """The orders `principal` bought or sold, newest first (an operator sees all)."""
    return orders_of(session, _order_accounts(session, principal))


def order_visible_to(session: Session, principal: Principal, order_id: int) -> dict[str, Any]:
    """One order, if `principal` is its buyer or seller (or an operator)."""
    mine = _order_accounts(session, principal)
    order = get_order(session, order_id)
    listing = get_listing(session, order.listing_id)
    if mine is not None and order.buyer_account not in mine \
            and listing.seller_account not in mine:
        raise Forbidden(f"无权查看订单 {order_id}", f"you may not see order {order_id}")
    return order_view(order, listing)


def show_listing(session: Session, listing_id: int) -> dict[str, Any]:
    """A listing as the public sees it (no accounts: see `public_listing`)."""
    return public_listing(listing_view(get_listing(session, listing_id)))


def public_listings(session: Session, product: str | None = None) -> list[dict[str, Any]]:
    """Active listings as the public sees them, newest first."""
    return [public_listing(view) for view in active_listings(session, product)]


def active_listings(session: Session, product: str | None = None) -> list[dict[str, Any]]:
    query = select(Listing).where(Listing.status == "active", Listing.kind == "listing")
    if product:
        query = query.where(Listing.product == product)
    return [listing_view(li) for li in session.scalars(query.order_by(Listing.id.desc()))]


def market_overview(session: Session, principal: Principal | None) -> dict[str, Any]:
    """What the market page shows `principal`: open listings, recent prices, and for a
    signed-in holder or operator the orders it may see; a holder's own holding accounts
    are those it lists from and buys into."""
    orders = (orders_visible_to(session, principal)
              if principal is not None and principal.role in ORDER_ROLES else [])
    return {"listings": active_listings(session), "orders": orders,
            "my_accounts": registry.trading_accounts(session, principal),
            "daily": recent_prices(session)}


def daily_prices(session: Session, *, product: str | None = None, by: str = "product",
                 since: date | None = None) -> list[dict[str, Any]]:
    """Daily volume, VWAP, high and low of settled trades, per product, project or county
    (from `since`, a UTC day, when given)."""
    if by not in prices.GROUPINGS:
        raise InvalidInput(f"分组须为 {' | '.join(prices.GROUPINGS)}：{by}",
                           f"group by one of {' | '.join(prices.GROUPINGS)}: {by}")
    return prices.daily(session, product=product, by=by, since=since)


def recent_prices(session: Session) -> list[dict[str, Any]]:
    """The last days of prices per product, for the charts on the pages."""
    return prices.recent(session)


def prices_csv(rows: list[dict[str, Any]]) -> str:
    return prices.to_csv(rows)
