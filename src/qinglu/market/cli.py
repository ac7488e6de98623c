"""`qinglu market ...`: listings, orders, payment confirmation, expiry, market data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qinglu.cli_common import (
    DbOption,
    JsonOption,
    actor,
    emit,
    emit_rows,
    handle_errors,
    session_for,
)
from qinglu.core.money import parse_price
from qinglu.core.quantities import parse_quantity
from qinglu.documents.signing import load_or_create_key
from qinglu.market import actions

app = typer.Typer(help="市场 Market: 挂牌、订单、付款确认、行情 / listings, orders, prices",
                  no_args_is_help=True)

Idempotency = Annotated[str | None, typer.Option(
    "--idempotency-key", help="重试不重复执行 / a retry with the same key does nothing twice")]


@app.command("list")
@handle_errors
def list_units(
    account: Annotated[int, typer.Option("--account", help="卖方账户 seller account id")],
    product: Annotated[str, typer.Option("--product", help="FCS | GEC")],
    quantity: Annotated[str, typer.Option("--quantity", help="数量，如 100.00 / e.g. 100.00")],
    price: Annotated[str, typer.Option("--price", help="单价 CNY per unit (e.g. per tCO2e)")],
    min_lot: Annotated[str | None, typer.Option("--min-lot", help="最小成交量")] = None,
    days: Annotated[int | None, typer.Option(
        "--days", help="挂牌天数 days open (1-365, 默认 default 30)")] = None,
    project: Annotated[int | None, typer.Option("--project", help="只卖此项目 / one project")
                       ] = None,
    key: Idempotency = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """挂牌 List units for sale; they go into escrow at once."""
    with session_for(db) as session:
        result = actions.create_listing(
            session, seller_account=account, product=product,
            quantity=parse_quantity(product, quantity), price=parse_price(price),
            min_lot=parse_quantity(product, min_lot) if min_lot else None,
            days_open=days, project_id=project, actor=actor(), idempotency_key=key)
    emit(result, as_json, f"挂牌 listing #{result['id']}")


@app.command("listings")
@handle_errors
def listings(product: Annotated[str | None, typer.Option("--product")] = None,
             db: DbOption = None, as_json: JsonOption = False) -> None:
    """在售挂牌 Active listings."""
    with session_for(db) as session:
        rows = actions.active_listings(session, product)
    if as_json:
        emit(rows, True)
    else:
        emit_rows(rows, "在售挂牌 active listings")


@app.command("buy")
@handle_errors
def buy(listing: Annotated[int, typer.Argument(help="挂牌 id")],
        account: Annotated[int, typer.Option("--account", help="买方账户 buyer account id")],
        quantity: Annotated[str, typer.Option("--quantity")],
        key: Idempotency = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """下单 Order units of a listing; pay before the order expires."""
    with session_for(db) as session:
        result = actions.place_order(session, listing_id=listing, buyer_account=account,
                                     quantity=actions.order_quantity(session, listing, quantity),
                                     actor=actor(), idempotency_key=key)
    emit(result, as_json, f"订单 order #{result['id']}, 应付 amount {result['amount']} CNY")


@app.command("pay")
@handle_errors
def pay(order: Annotated[int, typer.Argument(help="订单 id")],
        reference: Annotated[str, typer.Option("--reference", help="付款凭证号 payment ref")],
        key: Idempotency = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """确认到账 Confirm payment: the trade settles and its voucher is signed."""
    with session_for(db) as session:
        result = actions.confirm_payment(session, load_or_create_key(), order_id=order,
                                         reference=reference, actor=actor(),
                                         idempotency_key=key)
    emit(result, as_json, f"已结算 settled, 凭证 voucher {result['voucher_number']}")


@app.command("cancel")
@handle_errors
def cancel(listing: Annotated[int, typer.Argument(help="挂牌 id")], db: DbOption = None,
           as_json: JsonOption = False) -> None:
    """撤牌 Withdraw a listing; unreserved units go back to the seller."""
    with session_for(db) as session:
        result = actions.cancel_listing(session, listing_id=listing, actor=actor())
    emit(result, as_json, f"已撤牌 listing #{listing} cancelled")


@app.command("expire")
@handle_errors
def expire(db: DbOption = None, as_json: JsonOption = False) -> None:
    """到期处理 Expire unpaid orders and lapsed listings now (for cron)."""
    with session_for(db) as session:
        result = actions.expire_due(session)
    emit(result, as_json, f"过期订单 orders {len(result['orders'])}, "
                          f"到期挂牌 listings {len(result['listings'])}")


@app.command("prices")
@handle_errors
def market_prices(
    product: Annotated[str | None, typer.Option("--product")] = None,
    by: Annotated[str, typer.Option("--by", help="product | project | county")] = "product",
    csv_file: Annotated[Path | None, typer.Option("--csv", help="写入 CSV / write CSV")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """行情 Daily volume, VWAP, high and low of settled trades."""
    with session_for(db) as session:
        rows = actions.daily_prices(session, product=product, by=by)
    if csv_file is not None:
        csv_file.write_text(actions.prices_csv(rows), encoding="utf-8")
    if as_json:
        emit(rows, True)
    else:
        emit_rows(rows, "每日行情 daily prices")
