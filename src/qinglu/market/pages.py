"""Market pages: listings and prices (public), listing and buying (holders), payment
confirmation (operators), a holder's orders with their vouchers.

Every form answers a success with a redirect to /market and a fixed notice (a refresh
never lists, orders or settles twice); the figures the notice states (the new listing's
or order's number, the amount to pay, the voucher) are read from the row the address
names, never from words in the address. A refusal shows the page again, the message
beside the field it concerns, in the page's language, with what was typed kept."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qinglu.core.errors import Forbidden, InvalidInput, NotAuthenticated, QingluError
from qinglu.core.money import parse_price
from qinglu.core.principal import Principal
from qinglu.core.quantities import format_quantity, parse_quantity, typed_number
from qinglu.market import actions
from qinglu.web.auth import NowDep
from qinglu.web.pages import (
    NOTICES,
    SessionDep,
    UserDep,
    check_csrf,
    language,
    render,
    require_user,
)
from qinglu.web.problems import field_named, read_field

router = APIRouter(include_in_schema=False)

# The notices the market's redirects ask for (fixed keys: see web.pages.NOTICES) ...
NOTICES.update({
    "listing-opened": ("挂牌已上架", "the listing is open"),
    "order-placed": ("订单已下", "the order is placed"),
    "order-settled": ("订单已结算", "the order is settled"),
    "listing-withdrawn": ("挂牌已撤", "the listing is withdrawn"),
})
# ... and, when the row the address names is on the page, the notice with its figures.
DETAILED: dict[str, tuple[str, str, str]] = {
    "listing-opened": ("listings", "挂牌 #{id} 已上架，{remaining} {unit}",
                       "listing #{id} is open: {remaining} {unit}"),
    "order-placed": ("orders", "订单 #{id} 已下，应付 {amount} 元",
                     "order #{id} placed: pay {amount} CNY"),
    "order-settled": ("orders", "订单 #{id} 已结算，凭证 {voucher_number}",
                      "order #{id} settled, voucher {voucher_number}"),
}


def _notice(key: str | None, row_id: int | None, overview: Mapping[str, Any],
            lang: str) -> str | None:
    """A fixed key's notice, with the figures of the listing or order `row_id` when the
    page shows that row to this visitor (an order only to its parties or an operator)."""
    if key not in NOTICES:
        return None
    if key in DETAILED and row_id is not None:
        table, zh, en = DETAILED[key]
        row = next((r for r in overview[table] if r["id"] == row_id), None)
        if row is not None:
            return (en if lang == "en" else zh).format(**row)
    zh, en = NOTICES[key]
    return en if lang == "en" else zh


@router.get("/market", response_class=HTMLResponse)
def market_page(request: Request, session: SessionDep, user: UserDep,
                message: str | None = None, error: str | None = None,
                listing: int | None = None, order: int | None = None) -> HTMLResponse:
    overview = actions.market_overview(session, user)
    notice = _notice(message, order if order is not None else listing, overview,
                     language(request))
    return render(request, "market.html", user, **overview, message=notice, error=error,
                  form={}, errors={})


def _refused(request: Request, session: SessionDep, user: Principal | None,
             form: dict[str, str], errors: dict[str, str]) -> HTMLResponse:
    """The page again with each refusal beside its field and what was typed kept; a
    refusal that concerns no one field, or whose row has left the page (a listing
    closed, an order settled), is shown at the top."""
    overview = actions.market_overview(session, user)
    top = errors.get("form")
    if not top and not _row_shown(form, overview):
        top = next(iter(errors.values()), None)
    return render(request, "market.html", user, status=422, **overview, message=None,
                  error=top, form=form, errors=errors)


def _row_shown(form: Mapping[str, str], overview: Mapping[str, Any]) -> bool:
    """Whether the row whose form was refused is still on the page with its form."""
    if form.get("form") == "buy":
        return any(str(row["id"]) == form["listing"] for row in overview["listings"])
    if form.get("form") == "pay":
        return any(str(row["id"]) == form["order"] and row["status"] == "pending"
                   for row in overview["orders"])
    return True


def _attempt(errors: dict[str, str], field: Callable[[QingluError], str], lang: str,
             action: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """Run the one action; its refusal goes beside the field `field` names (a caller not
    allowed to act at all gets the sign-in or error page, as for any page)."""
    try:
        return action()
    except (NotAuthenticated, Forbidden):
        raise
    except QingluError as exc:
        errors[field(exc)] = exc.en if lang == "en" else exc.zh
        return None


def _whole_days(text: str) -> int | None:
    raw = "".join(unicodedata.normalize("NFKC", text).split())
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 5:
        raise InvalidInput(f"天数须为整数：“{text}”", f"days must be a whole number: “{text}”")
    return int(raw)


def _listing_field(exc: QingluError) -> str:
    """Which of the listing form's fields a refusal of create_listing concerns (the
    quantity unless the refusal names another)."""
    return field_named(exc, (("min_lot", "lot"), ("price", "price"), ("days", "day")),
                       "quantity")


@router.post("/market/list", response_model=None)
def list_units(request: Request, session: SessionDep, user: UserDep,
               account_id: Annotated[int, Form()], product: Annotated[str, Form()],
               quantity: Annotated[str, Form()], price: Annotated[str, Form()],
               now: NowDep, min_lot: Annotated[str, Form()] = "",
               days: Annotated[str, Form()] = "",
               csrf: Annotated[str | None, Form()] = None) -> Response:
    who = require_user(user, "holder", "operator")
    check_csrf(request, csrf)
    lang = language(request)
    errors: dict[str, str] = {}
    units = read_field(errors, "quantity", lang, lambda: parse_quantity(product, quantity))
    per_unit = read_field(errors, "price", lang, lambda: parse_price(
        typed_number(price, "单价", "price")))
    lot = read_field(errors, "min_lot", lang, lambda: parse_quantity(product, min_lot)
                     if min_lot.strip() else None)
    open_days = read_field(errors, "days", lang, lambda: _whole_days(days))
    made = None
    if not errors and units is not None and per_unit is not None:
        made = _attempt(errors, _listing_field, lang, lambda: actions.create_listing(
            session, seller_account=account_id, product=product, quantity=units,
            price=per_unit, min_lot=lot, days_open=open_days, actor=who, now=now))
    if made is None:
        typed = {"form": "list", "account_id": str(account_id), "product": product,
                 "quantity": quantity, "price": price, "min_lot": min_lot, "days": days}
        return _refused(request, session, user, typed, errors)
    return RedirectResponse(f"/market?message=listing-opened&listing={made['id']}",
                            status_code=303)


def _confirm(request: Request, user: Principal | None, step: str, action: str,
             hidden: dict[str, str], **facts: Any) -> HTMLResponse:
    """What a binding step will do, stated before it is done, with one button to do it
    (the same form again, confirmed); asking again does nothing."""
    return render(request, "market_confirm.html", user, step=step, action=action,
                  hidden=hidden, **facts)


@router.post("/market/buy/{listing_id}", response_model=None)
def buy(request: Request, listing_id: int, session: SessionDep, user: UserDep,
        account_id: Annotated[int, Form()], quantity: Annotated[str, Form()], now: NowDep,
        confirmed: Annotated[str, Form()] = "",
        csrf: Annotated[str | None, Form()] = None) -> Response:
    """Buy part of a listing: the order holds the units for the buyer until paid, so it
    is stated on a confirmation page first."""
    who = require_user(user, "holder", "operator")
    check_csrf(request, csrf)
    lang = language(request)
    errors: dict[str, str] = {}
    units = read_field(errors, "quantity", lang,
                       lambda: actions.order_quantity(session, listing_id, quantity))
    made = None
    if units is not None and confirmed != "1":
        listing = actions.show_listing(session, listing_id)
        return _confirm(request, user, "buy", f"/market/buy/{listing_id}",
                        {"account_id": str(account_id),
                         "quantity": format_quantity(listing["product"], units)},
                        listing=listing, account_id=account_id,
                        quantity=format_quantity(listing["product"], units))
    if units is not None:
        made = _attempt(errors, lambda _exc: "quantity", lang, lambda: actions.place_order(
            session, listing_id=listing_id, buyer_account=account_id, quantity=units,
            actor=who, now=now))
    if made is None:
        typed = {"form": "buy", "listing": str(listing_id), "account_id": str(account_id),
                 "quantity": quantity}
        return _refused(request, session, user, typed, errors)
    return RedirectResponse(f"/market?message=order-placed&order={made['id']}",
                            status_code=303)


@router.post("/market/pay/{order_id}", response_model=None)
def pay(request: Request, order_id: int, session: SessionDep, user: UserDep,
        reference: Annotated[str, Form()], now: NowDep,
        confirmed: Annotated[str, Form()] = "",
        csrf: Annotated[str | None, Form()] = None) -> Response:
    """Confirm a payment: settling moves the units to the buyer and issues the voucher,
    for good, so it is stated on a confirmation page first."""
    who = require_user(user, "operator")
    check_csrf(request, csrf)
    errors: dict[str, str] = {}
    reference = " ".join(reference.split())
    if reference and confirmed != "1":
        order = actions.order_visible_to(session, who, order_id)
        return _confirm(request, user, "pay", f"/market/pay/{order_id}",
                        {"reference": reference}, order=order, reference=reference)
    made = _attempt(errors, lambda _exc: "reference", language(request),
                    lambda: actions.confirm_payment(
                        session, request.app.state.registry_key, order_id=order_id,
                        reference=reference, actor=who.actor, now=now))
    if made is None:
        typed = {"form": "pay", "order": str(order_id), "reference": reference}
        return _refused(request, session, user, typed, errors)
    return RedirectResponse(f"/market?message=order-settled&order={order_id}",
                            status_code=303)


@router.post("/market/cancel/{listing_id}", response_model=None)
def cancel(request: Request, listing_id: int, session: SessionDep, user: UserDep,
           csrf: Annotated[str | None, Form()] = None) -> Response:
    who = require_user(user, "holder", "operator")
    check_csrf(request, csrf)
    errors: dict[str, str] = {}
    made = _attempt(errors, lambda _exc: "form", language(request),
                    lambda: actions.cancel_listing(session, listing_id=listing_id, actor=who))
    if made is None:
        return _refused(request, session, user, {"form": "cancel"}, errors)
    return RedirectResponse("/market?message=listing-withdrawn", status_code=303)
