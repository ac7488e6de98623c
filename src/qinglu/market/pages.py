"""Market pages: listings and prices (public), listing and buying (holders), payment
confirmation (operators), a holder's orders with their vouchers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from qinglu.core.errors import Forbidden, NotAuthenticated, QingluError
from qinglu.core.money import parse_price
from qinglu.core.principal import Principal
from qinglu.core.quantities import parse_quantity
from qinglu.market import actions
from qinglu.web.auth import NowDep
from qinglu.web.pages import SessionDep, UserDep, check_csrf, language, render, require_user

router = APIRouter(include_in_schema=False)


@router.get("/market", response_class=HTMLResponse)
def market_page(request: Request, session: SessionDep, user: UserDep,
                message: str | None = None, error: str | None = None) -> HTMLResponse:
    return render(request, "market.html", user, **actions.market_overview(session, user),
                  message=message, error=error)


def _after(request: Request, session: SessionDep, user: Principal | None,
           action: Callable[[], dict[str, Any]], done: str) -> HTMLResponse:
    """Run a market action; show the page with its outcome, or the refusal in words. A
    caller not allowed to act at all gets the sign-in or error page, as for any page."""
    try:
        result = action()
    except (NotAuthenticated, Forbidden):
        raise
    except QingluError as exc:
        message = exc.zh if language(request) == "zh" else exc.en
        return market_page(request, session, user, error=message)
    return market_page(request, session, user, message=done.format(**result))


@router.post("/market/list", response_class=HTMLResponse)
def list_units(request: Request, session: SessionDep, user: UserDep,
               account_id: Annotated[int, Form()], product: Annotated[str, Form()],
               quantity: Annotated[str, Form()], price: Annotated[str, Form()],
               now: NowDep, min_lot: Annotated[str, Form()] = "",
               days: Annotated[int | None, Form()] = None,
               csrf: Annotated[str | None, Form()] = None) -> HTMLResponse:
    who = require_user(user, "holder", "operator")
    check_csrf(request, csrf)
    return _after(request, session, user, lambda: actions.create_listing(
        session, seller_account=account_id, product=product,
        quantity=parse_quantity(product, quantity), price=parse_price(price),
        min_lot=parse_quantity(product, min_lot) if min_lot.strip() else None,
        days_open=days, actor=who, now=now),
        "挂牌 #{id} 已上架 / listing #{id} is open")


@router.post("/market/buy/{listing_id}", response_class=HTMLResponse)
def buy(request: Request, listing_id: int, session: SessionDep, user: UserDep,
        account_id: Annotated[int, Form()], quantity: Annotated[str, Form()], now: NowDep,
        csrf: Annotated[str | None, Form()] = None) -> HTMLResponse:
    who = require_user(user, "holder", "operator")
    check_csrf(request, csrf)
    return _after(request, session, user, lambda: actions.place_order(
        session, listing_id=listing_id, buyer_account=account_id,
        quantity=actions.order_quantity(session, listing_id, quantity), actor=who, now=now),
        "订单 #{id} 已下，应付 {amount} 元 / order #{id} placed: pay {amount} CNY")


@router.post("/market/pay/{order_id}", response_class=HTMLResponse)
def pay(request: Request, order_id: int, session: SessionDep, user: UserDep,
        reference: Annotated[str, Form()], now: NowDep,
        csrf: Annotated[str | None, Form()] = None) -> HTMLResponse:
    who = require_user(user, "operator")
    check_csrf(request, csrf)
    return _after(request, session, user, lambda: actions.confirm_payment(
        session, request.app.state.registry_key, order_id=order_id, reference=reference,
        actor=who.actor, now=now),
        "订单 #{id} 已结算，凭证 {voucher_number} / order #{id} settled, voucher "
        "{voucher_number}")


@router.post("/market/cancel/{listing_id}", response_class=HTMLResponse)
def cancel(request: Request, listing_id: int, session: SessionDep, user: UserDep,
           csrf: Annotated[str | None, Form()] = None) -> HTMLResponse:
    who = require_user(user, "holder", "operator")
    check_csrf(request, csrf)
    return _after(request, session, user, lambda: actions.cancel_listing(
        session, listing_id=listing_id, actor=who),
        "挂牌 #{id} 已撤 / listing #{id} withdrawn")
