"""Hypothesis stateful test: random issue/transfer/hold/settle/release/retire/cancel
sequences, with the ledger invariants checked after every step, on both backends."""

from __future__ import annotations

from typing import Any

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
from sqlalchemy.orm import Session, sessionmaker

from qinglu.core.errors import InsufficientUnits
from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.registry import actions as registry
from qinglu.registry.audit import check_conservation, check_states, check_tiling, replay_moves
from tests import factories as f

A = f.ACTOR
N_ACCOUNTS = 4
amounts = st.integers(min_value=1, max_value=3000)
account_index = st.integers(min_value=0, max_value=N_ACCOUNTS - 1)


def make_machine(factory: sessionmaker[Session]) -> type[RuleBasedStateMachine]:
    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.session = factory()
            self.held: dict[int, int] = {}
            self.escrow: dict[int, int] = {}
            self.holds: dict[int, tuple[int, int]] = {}  # hold id -> (account, remaining)
            self.terminal: dict[str, tuple[str, int]] = {}  # serial -> (state, record id)

        @initialize()
        def setup(self) -> None:
            self.accounts = [f.account(self.session) for _ in range(N_ACCOUNTS)]
            self.project = f.project(self.session)
            for acct in self.accounts:
                self.held[acct] = 0
                self.escrow[acct] = 0

        def teardown(self) -> None:
            self.session.close()

        @rule(to=account_index, quantity=amounts, vintage=st.sampled_from([2021, 2022, 2023]))
        def issue(self, to: int, quantity: int, vintage: int) -> None:
            acct = self.accounts[to]
            registry.issue(self.session, project_id=self.project, vintage=vintage,
                        quantity=quantity, to_account=acct, actor=A)
            self.held[acct] += quantity

        @rule(src=account_index, dst=account_index, quantity=amounts)
        def transfer(self, src: int, dst: int, quantity: int) -> None:
            a, b = self.accounts[src], self.accounts[dst]
            if a == b:
                return
            if quantity > self.held[a]:
                try:
                    registry.transfer(self.session, from_account=a, to_account=b, product="FCS",
                                   quantity=quantity, actor=A)
                except InsufficientUnits:
                    return
                raise AssertionError("a transfer beyond the balance went through")
            registry.transfer(self.session, from_account=a, to_account=b, product="FCS",
                           quantity=quantity, actor=A)
            self.held[a] -= quantity
            self.held[b] += quantity

        def _take(self, src: int, quantity: int) -> int | None:
            acct = self.accounts[src]
            return acct if 0 < quantity <= self.held[acct] else None

        @rule(src=account_index, quantity=amounts)
        def hold(self, src: int, quantity: int) -> None:
            acct = self._take(src, quantity)
            if acct is None:
                return
            result = registry.hold(self.session, from_account=acct, product="FCS",
                                quantity=quantity, purpose="listing", actor=A)
            self.holds[result["id"]] = (acct, quantity)
            self.held[acct] -= quantity
            self.escrow[acct] += quantity

        @precondition(lambda self: bool(self.holds))
        @rule(data=st.data(), dst=account_index, partial=st.booleans())
        def settle(self, data: Any, dst: int, partial: bool) -> None:
            hold_id = data.draw(st.sampled_from(sorted(self.holds)))
            acct, remaining = self.holds[hold_id]
            amount = data.draw(st.integers(1, remaining)) if partial else remaining
            to = self.accounts[dst]
            registry.settle(self.session, hold_id=hold_id, to_account=to, quantity=amount, actor=A)
            self._hold_done(hold_id, acct, remaining, amount)
            self.held[to] += amount

        @precondition(lambda self: bool(self.holds))
        @rule(data=st.data())
        def release(self, data: Any) -> None:
            hold_id = data.draw(st.sampled_from(sorted(self.holds)))
            acct, remaining = self.holds[hold_id]
            registry.release(self.session, hold_id=hold_id, actor=A)
            self._hold_done(hold_id, acct, remaining, remaining)
            self.held[acct] += remaining

        def _hold_done(self, hold_id: int, acct: int, remaining: int, amount: int) -> None:
            self.escrow[acct] -= amount
            if amount == remaining:
                del self.holds[hold_id]
            else:
                self.holds[hold_id] = (acct, remaining - amount)

        @rule(src=account_index, quantity=amounts)
        def retire(self, src: int, quantity: int) -> None:
            acct = self._take(src, quantity)
            if acct is None:
                return
            result = documents.retire(self.session, load_or_create_key(), from_account=acct,
                                      product="FCS", quantity=quantity, beneficiary="钟某",
                                      purpose="case", actor=A)
            self.held[acct] -= quantity
            for serial in result["serials"]:
                self.terminal[serial] = ("retired", result["id"])

        @rule(src=account_index, quantity=amounts)
        def cancel(self, src: int, quantity: int) -> None:
            acct = self._take(src, quantity)
            if acct is None:
                return
            result = registry.cancel(self.session, from_account=acct, product="FCS",
                                  quantity=quantity, reason="reversal", actor=A)
            self.held[acct] -= quantity
            for serial in result["serials"]:
                self.terminal[serial] = ("cancelled", result["id"])

        @invariant()
        def blocks_tile_and_balance(self) -> None:
            if not hasattr(self, "accounts"):
                return
            self.session.expire_all()
            assert check_tiling(self.session) == []
            assert check_conservation(self.session) == []
            assert check_states(self.session) == []
            for acct in self.accounts:
                got = registry.balance(self.session, acct).get("FCS", {})
                held = int(got.get("held", "0").replace(".", ""))
                escrow = int(got.get("escrow", "0").replace(".", ""))
                assert (held, escrow) == (self.held[acct], self.escrow[acct]), acct

        @invariant()
        def terminal_units_never_move(self) -> None:
            for serial, (state, record_id) in self.terminal.items():
                for row in registry.find_serial(self.session, serial):
                    key = "retirement_id" if state == "retired" else "cancellation_id"
                    assert row["state"] == state and row[key] == record_id, serial

    return LedgerMachine


@pytest.mark.slow
def test_random_sequences_keep_the_invariants(session_factory: sessionmaker[Session]) -> None:
    machine = make_machine(session_factory)
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=25, stateful_step_count=25, deadline=None,
                          suppress_health_check=list(HealthCheck)),
    )
    with session_factory() as session:
        problems, _first_bad = replay_moves(session)
        assert problems == []
