"""Hypothesis stateful test of the market against a model, on both backends.

Random sequences of listing, ordering, paying, cancelling and letting time pass (the
expiry sweep runs with a controlled clock). After every step each account holds and
escrows exactly what the model says and every listing's escrow is its unsold part plus
its pending orders; after every sequence the ledger audit (tiling, conservation,
states, replay of every recorded move) holds. On PostgreSQL orders and payments run in server-side
functions, on SQLite in Python: the same model must describe both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from qinglu.core.errors import InsufficientUnits, InvalidInput, InvalidTransition
from qinglu.documents.signing import load_or_create_key
from qinglu.market import actions as service
from qinglu.market import views
from qinglu.market.models import Listing
from qinglu.registry.audit import check_conservation, check_states, check_tiling, replay_moves
from qinglu.registry.models import Hold, UnitBlock
from tests import factories as f

A = f.ACTOR
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
ORDER_LIFETIME = timedelta(minutes=30)
pick = st.integers(min_value=0, max_value=50)


@dataclass
class ListingModel:
    seller: int
    remaining: int
    min_lot: int
    expires: datetime
    status: str = "active"


@dataclass
class OrderModel:
    listing: int
    buyer: int
    quantity: int
    expires: datetime
    status: str = "pending"
    reference: str = ""


def make_machine(factory: sessionmaker[Session]) -> type[RuleBasedStateMachine]:
    class MarketMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.session = factory()
            self.key = load_or_create_key()
            self.now = T0
            self.held: dict[int, int] = {}
            self.escrow: dict[int, int] = {}
            self.listings: dict[int, ListingModel] = {}
            self.orders: dict[int, OrderModel] = {}
            self.last_order: int | None = None

        @initialize()
        def setup(self) -> None:
            self.sellers = [f.issued_account(self.session, quantity=8_000)[0] for _ in range(2)]
            self.buyers = [f.account(self.session) for _ in range(2)]
            for account in self.sellers + self.buyers:
                self.held[account] = 8_000 if account in self.sellers else 0
                self.escrow[account] = 0

        def teardown(self) -> None:
            # The whole audit once a sequence ends (after every step it would cost most
            # of the test's time; the cheap invariants below run after every step).
            problems = (check_tiling(self.session) + check_conservation(self.session)
                        + check_states(self.session) + replay_moves(self.session)[0])
            self.session.close()
            assert not problems, problems

        @rule(seller=st.integers(0, 1), quantity=st.integers(1, 5_000),
              min_lot=st.integers(1, 800), hours=st.integers(1, 4))
        def list_units(self, seller: int, quantity: int, min_lot: int, hours: int) -> None:
            account = self.sellers[seller]
            terms = {"seller_account": account, "product": "FCS", "quantity": quantity,
                     "price": Decimal("48.50"), "min_lot": min(min_lot, quantity),
                     "expires_at": self.now + timedelta(hours=hours), "actor": A,
                     "now": self.now}
            if quantity > self.held[account]:
                with pytest.raises(InsufficientUnits):
                    service.create_listing(self.session, **terms)  # type: ignore[arg-type]
                return
            listed = service.create_listing(self.session, **terms)  # type: ignore[arg-type]
            self.listings[listed["id"]] = ListingModel(account, quantity, min(min_lot, quantity),
                                                       terms["expires_at"])  # type: ignore[arg-type]
            self.held[account] -= quantity
            self.escrow[account] += quantity

        @precondition(lambda self: bool(self.listings))
        @rule(which=pick, buyer=st.integers(0, 1), percent=st.integers(0, 110))
        def order(self, which: int, buyer: int, percent: int) -> None:
            listing_id = sorted(self.listings)[which % len(self.listings)]
            listing = self.listings[listing_id]
            # A share of what is left: mostly possible, sometimes too much or too little.
            quantity = max(1, listing.remaining * percent // 100)

            def place() -> dict[str, str]:
                return service.place_order(self.session, listing_id=listing_id,
                                           buyer_account=self.buyers[buyer],
                                           quantity=quantity, actor=A, now=self.now)

            refusal = self._order_refusal(listing, quantity)
            if refusal is not None:
                with pytest.raises(refusal):
                    place()
                return
            placed = place()
            listing.remaining -= quantity
            self.orders[int(placed["id"])] = OrderModel(
                listing_id, self.buyers[buyer], quantity,
                min(self.now + ORDER_LIFETIME, listing.expires))
            self.last_order = int(placed["id"])

        @precondition(lambda self: bool(self.listings))
        @rule(which=pick, buyer=st.integers(0, 1), percent=st.integers(0, 110))
        def buy_and_pay(self, which: int, buyer: int, percent: int) -> None:
            """An order paid at once, as a gateway's callback would settle it."""
            self.last_order = None
            self.order(which, buyer, percent)
            if self.last_order is not None:
                self._pay(self.last_order)

        def _order_refusal(self, listing: ListingModel, quantity: int) -> type[Exception] | None:
            if listing.status != "active" or listing.expires <= self.now:
                return views.ListingClosed
            if quantity > listing.remaining:
                return views.NotEnoughUnits
            if quantity < listing.min_lot and quantity != listing.remaining:
                return InvalidInput
            return None

        @precondition(lambda self: bool(self.orders))
        @rule(which=pick)
        def pay(self, which: int) -> None:
            self._pay(sorted(self.orders)[which % len(self.orders)])

        def _pay(self, order_id: int) -> None:
            order = self.orders[order_id]

            reference = f"R-{order_id}-{self.now:%H%M}"

            def confirm() -> dict[str, str]:
                return service.confirm_payment(self.session, self.key, order_id=order_id,
                                               reference=reference, actor=A, now=self.now)

            if order.status == "settled" and order.reference == reference:
                assert confirm()["status"] == "settled"  # a repeat, answered as the first
                return
            if order.status != "pending" or order.expires <= self.now:
                with pytest.raises(InvalidTransition):
                    confirm()
                return
            paid = confirm()
            assert paid["status"] == "settled" and paid["voucher_number"]
            order.status, order.reference = "settled", reference
            listing = self.listings[order.listing]
            self.escrow[listing.seller] -= order.quantity
            self.held[order.buyer] += order.quantity
            if listing.status == "active" and listing.remaining == 0 and not any(
                    o.status == "pending" and o.listing == order.listing
                    for o in self.orders.values()):
                listing.status = "sold"

        @precondition(lambda self: bool(self.listings))
        @rule(which=pick)
        def cancel(self, which: int) -> None:
            listing_id = sorted(self.listings)[which % len(self.listings)]
            listing = self.listings[listing_id]
            if listing.status != "active":
                with pytest.raises(InvalidTransition):
                    service.cancel_listing(self.session, listing_id=listing_id, actor=A)
                return
            service.cancel_listing(self.session, listing_id=listing_id, actor=A)
            self._release(listing, listing.remaining)
            listing.remaining, listing.status = 0, "cancelled"

        @rule(minutes=st.integers(1, 45))
        def time_passes(self, minutes: int) -> None:
            self.now += timedelta(minutes=minutes)
            service.expire_due(self.session, now=self.now)
            for order in (o for _, o in sorted(self.orders.items())):
                if order.status == "pending" and order.expires <= self.now:
                    order.status = "expired"
                    listing = self.listings[order.listing]
                    if listing.status == "active":
                        listing.remaining += order.quantity
                    else:
                        self._release(listing, order.quantity)
            for listing in self.listings.values():
                if listing.status == "active" and listing.expires <= self.now:
                    self._release(listing, listing.remaining)
                    listing.remaining, listing.status = 0, "expired"

        def _release(self, listing: ListingModel, quantity: int) -> None:
            self.escrow[listing.seller] -= quantity
            self.held[listing.seller] += quantity

        @invariant()
        def accounts_match_the_model(self) -> None:
            if not self.held:
                return
            rows = self.session.execute(
                select(UnitBlock.account_id, UnitBlock.state,
                       func.sum(UnitBlock.serial_end - UnitBlock.serial_start + 1))
                .where(UnitBlock.account_id.in_(list(self.held)))
                .group_by(UnitBlock.account_id, UnitBlock.state)).all()
            actual = {(account, state): int(total) for account, state, total in rows}
            for account in self.held:
                assert actual.get((account, "held"), 0) == self.held[account]
                assert actual.get((account, "escrow"), 0) == self.escrow[account]
            self.session.rollback()

        @invariant()
        def listings_match_the_model(self) -> None:
            for listing_id, model in self.listings.items():
                row = self.session.get(Listing, listing_id, populate_existing=True)
                assert row is not None
                assert (row.status, row.remaining) == (model.status, model.remaining)
                hold = self.session.get(Hold, row.hold_id, populate_existing=True)
                assert hold is not None
                pending = sum(o.quantity for o in self.orders.values()
                              if o.listing == listing_id and o.status == "pending")
                unsold = model.remaining if model.status == "active" else 0
                assert hold.quantity == unsold + pending
            self.session.rollback()

    return MarketMachine


@pytest.mark.slow
def test_random_market_sequences_match_the_model(
        session_factory: sessionmaker[Session]) -> None:
    run_state_machine_as_test(
        make_machine(session_factory),
        settings=settings(max_examples=30, stateful_step_count=25, deadline=None,
                          suppress_health_check=list(HealthCheck)))
