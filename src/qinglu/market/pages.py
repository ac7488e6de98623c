"""Market pages: listings and prices (public), listing and buying (holders), payment
confirmation (operators), a holder's orders with their vouchers."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from qinglu.core.errors import QingluError
from qinglu.core.principal import Principal
from qinglu.core.quantities import parse_quantity
from qinglu.market import actions, prices
from qinglu.market.api import clock
from qinglu.registry.actions import accounts_of
from qinglu.web.auth import ensure_owns_account
from qinglu.web.pages import SessionDep, UserDep, check_csrf, language, render, require_user

router = APIRouter(include_in_schema=False)


def _own_accounts(session: Session, user: Principal | None) -> list[int]:
    if user is None or user.role != "holder" or user.holder_id is None:
        return []
    return [account.id for account in accounts_of(session, user.holder_id, "holding")]


@router.get("/market", response_class=HTMLResponse)
def market_page(request: Request, session: SessionDep, user: UserDep,
                message: str | None = None, error: str | None = None) -> HTMLResponse:
    mine = _own_accounts(session, user)
    if user is not None and user.role == "operator":
        orders = actions.orders_of(session, None)
    else:
        orders = actions.orders_of(session, mine) if mine else []
    return render(request, "market.html", user, listings=actions.active_listings(session),
                  orders=orders, my_accounts=mine, daily=prices.recent(session),
                  message=message, error=error)


def _after(request: Request, session: Session, user: Principal | None, action: Any,
           done: str) -> HTMLResponse:
    """Run a market action; show the page with its outcome, or the refusal in words."""
    try:
        result = action()
    except QingluError as exc:
        message = exc.zh if language(request) == "zh" else exc.en
        return market_page(request, session, user, error=message)
    return market_page(request, session, user, message=done.format(**result))


@router.post("/market/list", response_class=HTMLResponse)
def list_units(request: Request, session: SessionDep, user: UserDep,
               account_id: Annotated[int, Form()], product: Annotated[str, Form()],
               quantity: Annotated[str, Form()], price: Annotated[str, Form()],
               min_lot: Annotated[str, Form()] = "", days: Annotated[int, Form()] = 30,
               csrf: Annotated[str | None, Form()] = None) -> HTMLResponse:
    who = require_user(user, "holder", "operator")
    check_csrf(request, csrf)
    ensure_owns_account(session, who, account_id)
    now = clock(request)
    return _after(request, session, user, lambda: actions.create_listing(
        session, seller_account=account_id, product=product,
        quantity=parse_quantity(product, quantity), price=actions.parse_price(price),
        min_lot=parse_quantity(product, min_lot) if min_lot.strip() else None,
        expires_at=now + timedelta(days=max(1, min(days, 365))), actor=who.actor, now=now),
        "挂牌 #{id} 已上架 / listing #{id} is open")


@router.post("/market/buy/{listing_id}", response_class=HTMLResponse)
def buy(request: Request, listing_id: int, session: SessionDep, user: UserDep,
        account_id: Annotated[int, Form()], quantity: Annotated[str, Form()],
        csrf: Annotated[str | None, Form()] = None) -> HTMLResponse:
    who = require_user(user, "holder", "operator")
    check_csrf(request, csrf)
    ensure_owns_account(session, who, account_id)
    product = actions.get_listing(session, listing_id).product
    return _after(request, session, user, lambda: actions.place_order(
        session, listing_id=listing_id, buyer_account=account_id,
        quantity=parse_quantity(product, quantity), actor=who.actor, now=clock(request)),
        "订单 #{id} 已下，应付 {amount} 元 / order #{id} placed: pay {amount} CNY")


@router.post("/market/pay/{order_id}", response_class=HTMLResponse)
def pay(request: Request, order_id: int, session: SessionDep, user: UserDep,
        reference: Annotated[str, Form()], csrf: Annotated[str | None, Form()] = None
        ) -> HTMLResponse:
    who = require_user(user, "operator")
    check_csrf(request, csrf)
    return _after(request, session, user, lambda: actions.confirm_payment(
        session, request.app.state.registry_key, order_id=order_id, reference=reference,
        actor=who.actor, now=clock(request)),
        "订单 #{id} 已结算，凭证 {voucher_number} / order #{id} settled, voucher "
        "{voucher_number}")


@router.post("/market/cancel/{listing_id}", response_class=HTMLResponse)
def cancel(request: Request, listing_id: int, session: SessionDep, user: UserDep,
           csrf: Annotated[str | None, Form()] = None) -> HTMLResponse:
    who = require_user(user, "holder", "operator")
    check_csrf(request, csrf)
    ensure_owns_account(session, who, actions.get_listing(session, listing_id).seller_account)
    return _after(request, session, user, lambda: actions.cancel_listing(
        session, listing_id=listing_id, actor=who.actor),
        "挂牌 #{id} 已撤 / listing #{id} withdrawn")
