"""The market: listings, orders, payment confirmation, negotiated transfers, market data.

Listings and market data are public; a holder lists from and buys into its own
accounts only; payment is confirmed by an operator (or a payment gateway holding an
operator token). Every POST takes an Idempotency-Key header."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field

from qinglu.core.money import parse_price
from qinglu.core.quantities import parse_quantity
from qinglu.market import actions
from qinglu.web import schemas as s
from qinglu.web.auth import NowDep, OperatorDep, PrincipalDep, SessionDep
from qinglu.web.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["market"], responses=PROBLEM_RESPONSES)
Price = Annotated[str, Field(pattern=r"^[0-9]{1,7}(\.[0-9]{1,4})?$", examples=["50.00"],
                             description="CNY per unit of the product (e.g. per tCO2e)")]


class ListingIn(BaseModel):
    account_id: s.Id
    product: s.ProductCode
    quantity: s.Quantity
    price: Price
    min_lot: s.Quantity | None = None
    expires_at: AwareDatetime
    project_id: s.Id | None = None
    note: Annotated[str, Field(max_length=2000)] = ""


class OrderIn(BaseModel):
    buyer_account: s.Id
    quantity: s.Quantity


class PaymentIn(BaseModel):
    reference: s.Text200


class NegotiatedIn(BaseModel):
    seller_account: s.Id
    buyer_account: s.Id
    product: s.ProductCode
    quantity: s.Quantity
    price: Price
    project_id: s.Id | None = None
    expires_at: AwareDatetime | None = None
    note: Annotated[str, Field(max_length=2000)] = ""


@router.post("/listings", status_code=201)
def create_listing(body: ListingIn, session: SessionDep, who: PrincipalDep, now: NowDep,
                   key: s.IdempotencyKey = None) -> dict[str, Any]:
    return actions.create_listing(
        session, seller_account=body.account_id, product=body.product,
        quantity=parse_quantity(body.product, body.quantity), price=parse_price(body.price),
        min_lot=parse_quantity(body.product, body.min_lot) if body.min_lot else None,
        expires_at=body.expires_at, project_id=body.project_id, note=body.note,
        actor=who, idempotency_key=key, now=now)


@router.get("/listings")
def list_listings(session: SessionDep,
                  product: Annotated[s.ProductCode | None, Query()] = None
                  ) -> list[dict[str, Any]]:
    """Active listings, newest first (public: without the accounts behind them)."""
    return actions.public_listings(session, product)


@router.get("/listings/{listing_id}")
def get_listing(listing_id: s.Id, session: SessionDep) -> dict[str, Any]:
    return actions.show_listing(session, listing_id)


@router.post("/listings/{listing_id}/orders", status_code=201)
def place_order(listing_id: s.Id, body: OrderIn, session: SessionDep, who: PrincipalDep,
                now: NowDep, key: s.IdempotencyKey = None) -> dict[str, Any]:
    return actions.place_order(
        session, listing_id=listing_id, buyer_account=body.buyer_account,
        quantity=actions.order_quantity(session, listing_id, body.quantity),
        actor=who, idempotency_key=key, now=now)


@router.post("/listings/{listing_id}/cancellation")
def cancel_listing(listing_id: s.Id, session: SessionDep, who: PrincipalDep,
                   key: s.IdempotencyKey = None) -> dict[str, Any]:
    return actions.cancel_listing(session, listing_id=listing_id, actor=who,
                                  idempotency_key=key)


@router.get("/orders")
def list_orders(session: SessionDep, who: PrincipalDep) -> list[dict[str, Any]]:
    """The caller's orders, bought or sold (an operator sees all)."""
    return actions.orders_visible_to(session, who)


@router.get("/orders/{order_id}")
def get_order(order_id: s.Id, session: SessionDep, who: PrincipalDep) -> dict[str, Any]:
    return actions.order_visible_to(session, who, order_id)


@router.post("/orders/{order_id}/payment")
def confirm_payment(order_id: s.Id, body: PaymentIn, request: Request, session: SessionDep,
                    who: OperatorDep, now: NowDep,
                    key: s.IdempotencyKey = None) -> dict[str, Any]:
    """到账确认 The operator (or the payment gateway) confirms payment; the trade settles."""
    return actions.confirm_payment(session, request.app.state.registry_key, order_id=order_id,
                                   reference=body.reference, actor=who.actor,
                                   idempotency_key=key, now=now)


@router.post("/negotiated-transfers", status_code=201)
def negotiated_transfer(body: NegotiatedIn, session: SessionDep, who: PrincipalDep,
                        now: NowDep, key: s.IdempotencyKey = None) -> dict[str, Any]:
    """协议转让: the seller (or an operator) records the agreed quantity and price."""
    return actions.negotiated_transfer(
        session, seller_account=body.seller_account, buyer_account=body.buyer_account,
        product=body.product, quantity=parse_quantity(body.product, body.quantity),
        price=parse_price(body.price), project_id=body.project_id,
        expires_at=body.expires_at, note=body.note, actor=who, idempotency_key=key, now=now)


Grouping = Literal["product", "project", "county"]


@router.get("/market/prices")
def market_prices(session: SessionDep, product: Annotated[s.ProductCode | None, Query()] = None,
                  by: Annotated[Grouping, Query()] = "product",
                  since: Annotated[date | None, Query()] = None) -> list[dict[str, Any]]:
    """Daily volume, VWAP, high and low of settled trades, per product, project or county
    (from `since`, a UTC day, when given)."""
    return actions.daily_prices(session, product=product, by=by, since=since)


@router.get("/market/prices.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def market_prices_csv(session: SessionDep,
                      product: Annotated[s.ProductCode | None, Query()] = None,
                      by: Annotated[Grouping, Query()] = "product",
                      since: Annotated[date | None, Query()] = None) -> Response:
    rows = actions.daily_prices(session, product=product, by=by, since=since)
    return Response(actions.prices_csv(rows),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="prices.csv"'})
