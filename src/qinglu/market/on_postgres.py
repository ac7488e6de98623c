"""Orders and settlements on PostgreSQL: server-side functions (market/sql/*.sql).

Through the ORM a trade costs some forty statements and most of its time in Python.
Here an order is one function call in autocommit mode; a payment is one call that
locks the order, its listing and hold, and moves the units out of escrow, then the
voucher is signed in Python (the registry's key never reaches the database), then one
call stores the voucher and appends the ledger entry, and the transaction commits.

The functions refuse with SQLSTATEs of class QL; each is worded by market/views.py
exactly as the Python path (market/actions.py, the reference, and SQLite's) words it,
and each entry they append is the one the Python path appends, byte for byte
(tests/registry/test_parity.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Connection, DateTime, Numeric, text
from sqlalchemy.orm import Session

from qinglu.core.errors import QingluError
from qinglu.core.ledger import canonical_json, run_server_calls, run_server_write
from qinglu.documents.actions import sign_document
from qinglu.documents.signing import RegistryKey
from qinglu.market import views
from qinglu.market.models import Listing, Order
from qinglu.registry.actions import account_refusal, escrow_shortfall, hold_closed, public_name

_Row = TypeVar("_Row", Listing, Order)

PLACE_ORDER_SQL = ("SELECT qinglu_place_order(:listing_id, :buyer_account, :quantity, :actor, "
                   ":key, :request, :now, :lifetime, :fee_rate)")
SETTLE_SQL = text("SELECT qinglu_settle_order(:order_id, :reference, :now)")
FINISH_SQL = text("SELECT qinglu_finish_trade(:order_id, :certificate_id, :number, :facts, "
                  ":signature, :key_id, :actor, :key, :request, CAST(:moves AS jsonb), "
                  ":records, CAST(:result AS jsonb))")


def place_order(session: Session, *, listing_id: int, buyer_account: int, quantity: int,
                actor: str, request: dict[str, Any], idempotency_key: str | None,
                moment: datetime, lifetime: timedelta, fee_rate: Decimal) -> dict[str, Any]:
    """Reserve part of a listing in one server-side call; answers as actions.place_order
    (the function records and returns the order as views.order_view shows it)."""
    return run_server_write(
        session, kind="order", request=request, statement=PLACE_ORDER_SQL,
        params={"listing_id": listing_id, "buyer_account": buyer_account,
                "quantity": quantity, "actor": actor, "now": moment, "lifetime": lifetime,
                "fee_rate": fee_rate},
        translate=lambda state, detail: _order_refusal(state, detail, listing_id),
        idempotency_key=idempotency_key)


def _order_refusal(state: str, detail: str, listing_id: int) -> QingluError | None:
    product, _, figure = detail.partition(" ")
    refusals = {
        "QL010": lambda: views.unknown_listing(listing_id),
        "QL011": lambda: views.listing_closed(listing_id, detail),
        "QL012": views.own_listing,
        "QL013": views.not_the_agreed_buyer,
        "QL014": lambda: views.not_enough_left(product, int(figure)),
        "QL015": lambda: views.below_min_lot(product, int(figure)),
    }
    refusal = refusals.get(state)
    return refusal() if refusal else account_refusal(state, detail)


def confirm_payment(session: Session, key: RegistryKey, *, order_id: int, reference: str,
                    actor: str, request: dict[str, Any], idempotency_key: str | None,
                    moment: datetime) -> dict[str, Any]:
    """Settle a paid order and sign its voucher in one transaction of two server-side
    calls; answers as actions.confirm_payment, a repeat of the same reference included."""

    def call(connection: Connection, common: dict[str, Any]) -> dict[str, Any]:
        settled = json.loads(connection.execute(SETTLE_SQL, {
            "order_id": order_id, "reference": reference, "now": moment}).scalar_one(),
            parse_float=Decimal)
        order, listing = _row(Order, settled["order"]), _row(Listing, settled["listing"])
        if settled.get("already_settled"):
            return {**views.order_view(order, listing), "entry": order.entry_sequence}
        voucher = _signed_voucher(key, order, listing, settled)
        order.voucher_number = voucher["number"]
        # The entry's parts as the Python path's settlement records them.
        records = {"order": views.order_record(order), "certificates": [voucher]}
        return dict(json.loads(connection.execute(FINISH_SQL, {
            "order_id": order_id, "certificate_id": settled["certificate_id"],
            "number": voucher["number"], "facts": json.dumps(voucher["facts"]),
            "signature": voucher["signature"], "key_id": key.key_id, "actor": actor,
            "key": common["key"], "request": common["request"],
            "moves": json.dumps(settled["moves"]), "records": canonical_json(records),
            "result": json.dumps(views.order_view(order, listing))}).scalar_one()))

    return run_server_calls(
        session, kind="trade", request=request, call=call,
        translate=lambda state, detail: _payment_refusal(session, state, detail, order_id),
        idempotency_key=idempotency_key)


def _signed_voucher(key: RegistryKey, order: Order, listing: Listing,
                    settled: dict[str, Any]) -> dict[str, Any]:
    names = {int(account): public_name(party["kind"], party["name"])
             for account, party in settled["parties"].items()}
    facts = views.voucher_facts(order, listing, names, settled["project"],
                                json.loads(order.serials or "[]"))
    return sign_document(key, "trade", settled["certificate_id"], facts)


def _payment_refusal(session: Session, state: str, detail: str, order_id: int
                     ) -> QingluError | None:
    refusals = {
        "QL020": lambda: views.unknown_order(order_id),
        "QL021": lambda: views.settled_elsewhere(order_id),
        "QL022": lambda: views.not_payable(order_id, detail),
        "QL023": lambda: views.deadline_passed(order_id),
        "QL024": lambda: hold_closed(*detail.split(" ", 1)),
        "QL004": lambda: _escrow_short(session, order_id, detail),
    }
    refusal = refusals.get(state)
    return refusal() if refusal else account_refusal(state, detail)


def _escrow_short(session: Session, order_id: int, available: str) -> QingluError:
    """The listing's hold has fewer units than the order (some were settled or released
    from it directly, outside the market): refused as the Python path refuses it."""
    order = session.get_one(Order, order_id)
    listing = session.get_one(Listing, order.listing_id)
    return escrow_shortfall(listing.seller_account, listing.product, order.quantity, available)


def _row(model: type[_Row], raw: dict[str, Any]) -> _Row:
    """A row the functions returned (JSON: timestamps as ISO text, numerics as numbers or
    text), as a detached instance of its model; keys that are not columns are ignored."""
    values = {}
    for column in model.__table__.columns:
        value = raw.get(column.key)
        if value is not None and isinstance(column.type, DateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(column.type, Numeric):
            value = Decimal(str(value))
        values[column.key] = value
    return model(**values)
