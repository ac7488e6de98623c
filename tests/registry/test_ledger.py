"""Registry ledger behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from qinglu.core.errors import (
    AccountKindNotAllowed,
    Conflict,
    IdempotencyConflict,
    InsufficientUnits,
    InvalidIdentifier,
    InvalidInput,
    InvalidSerial,
    InvalidTransition,
    UnknownAccount,
    UnknownHold,
)
from qinglu.core.ledger import ledger_head, verify_chain
from qinglu.core.models import LedgerEntry
from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.registry import actions as registry
from qinglu.registry.audit import audit
from qinglu.registry.models import Holder, Issuance, UnitBlock
from tests import factories as f

A = f.ACTOR


def snapshot(session: Session) -> tuple[object, ...]:
    """Everything a refused write must leave untouched."""
    session.expire_all()
    blocks = session.execute(
        select(UnitBlock.issuance_id, UnitBlock.serial_start, UnitBlock.serial_end,
               UnitBlock.account_id, UnitBlock.state).order_by(UnitBlock.id)
    ).all()
    holders = session.scalar(select(func.count()).select_from(Holder))
    return ledger_head(session), tuple(blocks), holders


def test_issue_transfer_retire_balances(session: Session) -> None:
    seller, project, issued = f.issued_account(session, quantity=100_000)
    assert issued["serials"] == [f"QL-FCS-522629-P{project:06d}-2023-000000000001-000000100000"]
    buyer = f.account(session)
    moved = registry.transfer(session, from_account=seller, to_account=buyer, product="FCS",
                           quantity=5396, actor=A)
    assert moved["serials"] == [f"QL-FCS-522629-P{project:06d}-2023-000000000001-000000005396"]
    assert registry.balance(session, seller) == {"FCS": {"held": "946.04", "escrow": "0.00"}}
    assert registry.balance(session, buyer) == {"FCS": {"held": "53.96", "escrow": "0.00"}}
    retired = documents.retire(session, load_or_create_key(), from_account=buyer,
                               product="FCS", quantity=5396, beneficiary="钟某",
                               purpose="麻江县森林火灾案 替代性修复", actor=A)
    assert retired["serials"] == moved["serials"]
    assert registry.balance(session, buyer) == {}
    found = registry.find_serial(session, moved["serials"][0])
    assert [(r["state"], r["retirement_id"]) for r in found] == [("retired", retired["id"])]
    assert audit(session).ok


def test_partial_transfers_split_and_merge_blocks(session: Session) -> None:
    seller, _project, issued = f.issued_account(session, quantity=1000)
    buyer = f.account(session)
    for _ in range(4):
        registry.transfer(session, from_account=seller, to_account=buyer, product="FCS",
                       quantity=100, actor=A)
    blocks = session.scalars(
        select(UnitBlock).where(UnitBlock.issuance_id == issued["id"]).order_by(
            UnitBlock.serial_start)
    ).all()
    # Four adjacent transfers into one account merge into one block of 400.
    assert [(b.account_id, b.serial_start, b.serial_end) for b in blocks] == [
        (buyer, 1, 400), (seller, 401, 1000)]
    registry.transfer(session, from_account=buyer, to_account=seller, product="FCS",
                   quantity=400, actor=A)
    assert session.scalar(select(func.count()).select_from(UnitBlock).where(
        UnitBlock.issuance_id == issued["id"])) == 1
    assert audit(session).ok


def test_hold_settle_release(session: Session) -> None:
    seller, _project, _issued = f.issued_account(session, quantity=1000)
    buyer = f.account(session)
    held = registry.hold(session, from_account=seller, product="FCS", quantity=300,
                      purpose="listing", actor=A)
    assert registry.balance(session, seller) == {"FCS": {"held": "7.00", "escrow": "3.00"}}
    with pytest.raises(InsufficientUnits):  # escrowed units cannot be transferred
        registry.transfer(session, from_account=seller, to_account=buyer, product="FCS",
                       quantity=800, actor=A)
    registry.settle(session, hold_id=held["id"], to_account=buyer, quantity=100, actor=A)
    assert registry.balance(session, buyer) == {"FCS": {"held": "1.00", "escrow": "0.00"}}
    released = registry.release(session, hold_id=held["id"], actor=A)
    assert released["status"] == "released" and released["quantity"] == 200
    assert registry.balance(session, seller) == {"FCS": {"held": "9.00", "escrow": "0.00"}}
    with pytest.raises(InvalidTransition):
        registry.settle(session, hold_id=held["id"], to_account=buyer, actor=A)
    assert audit(session).ok


def test_large_issuance_is_one_row(session: Session) -> None:
    acct, _project, issued = f.issued_account(session, quantity=100_000_000)  # 1,000,000 t
    assert session.scalar(select(func.count()).select_from(UnitBlock).where(
        UnitBlock.issuance_id == issued["id"])) == 1
    second = f.issued_account(session, quantity=100)[2]
    issuance = session.get(Issuance, second["id"])
    assert issuance is not None and issuance.serial_start == 100_000_001  # fresh range


def test_idempotent_repeat_moves_nothing(session: Session) -> None:
    seller, _project, _issued = f.issued_account(session, quantity=1000)
    buyer = f.account(session)
    kwargs = dict(from_account=seller, to_account=buyer, product="FCS", quantity=250, actor=A,
                  idempotency_key="pay-42")
    first = registry.transfer(session, **kwargs)  # type: ignore[arg-type]
    before = snapshot(session)
    again = registry.transfer(session, **kwargs)  # type: ignore[arg-type]
    assert again == first
    assert snapshot(session) == before
    with pytest.raises(IdempotencyConflict):
        registry.transfer(session, **{**kwargs, "quantity": 300})  # type: ignore[arg-type]
    assert snapshot(session) == before


class TestRefusals:
    """Each bad input is refused with a clear error, and nothing is written."""

    @pytest.fixture
    def setup(self, session: Session) -> tuple[Session, int, int]:
        seller, _project, _issued = f.issued_account(session, quantity=1000)
        buyer = f.account(session)
        return session, seller, buyer

    @pytest.mark.parametrize("quantity", [0, -5])
    def test_zero_or_negative_quantity(self, setup: tuple[Session, int, int],
                                       quantity: int) -> None:
        session, seller, buyer = setup
        before = snapshot(session)
        with pytest.raises(InvalidInput):
            registry.transfer(session, from_account=seller, to_account=buyer, product="FCS",
                           quantity=quantity, actor=A)
        assert snapshot(session) == before

    def test_unknown_account(self, setup: tuple[Session, int, int]) -> None:
        session, seller, _buyer = setup
        before = snapshot(session)
        with pytest.raises(UnknownAccount):
            registry.transfer(session, from_account=seller, to_account=99999, product="FCS",
                           quantity=1, actor=A)
        with pytest.raises(UnknownAccount):
            registry.transfer(session, from_account=99999, to_account=seller, product="FCS",
                           quantity=1, actor=A)
        assert snapshot(session) == before

    def test_more_than_held(self, setup: tuple[Session, int, int]) -> None:
        session, seller, buyer = setup
        before = snapshot(session)
        with pytest.raises(InsufficientUnits, match="10.00"):
            registry.transfer(session, from_account=seller, to_account=buyer, product="FCS",
                           quantity=1001, actor=A)
        assert snapshot(session) == before

    def test_transfer_from_retirement_account(self, setup: tuple[Session, int, int]) -> None:
        session, seller, buyer = setup
        documents.retire(session, load_or_create_key(), from_account=seller, product="FCS",
                         quantity=10, beneficiary="x", purpose="y", actor=A)
        retirement_account = registry.system_account(session, "retirement").id
        session.commit()
        before = snapshot(session)
        with pytest.raises(AccountKindNotAllowed):
            registry.transfer(session, from_account=retirement_account, to_account=buyer,
                           product="FCS", quantity=1, actor=A)
        with pytest.raises(AccountKindNotAllowed):
            registry.transfer(session, from_account=seller, to_account=retirement_account,
                           product="FCS", quantity=1, actor=A)
        assert snapshot(session) == before

    def test_wrong_check_characters(self, setup: tuple[Session, int, int]) -> None:
        session, _seller, _buyer = setup
        before = snapshot(session)
        with pytest.raises(InvalidIdentifier):
            registry.add_holder(session, kind="org", name="x", id_number="91350100M000100Y44",
                               region="522629", actor=A)
        with pytest.raises(InvalidIdentifier):
            registry.add_holder(session, kind="person", name="钟某某",
                               id_number="110105194912310021", region="522635", actor=A)
        assert snapshot(session) == before

    def test_duplicate_holder(self, setup: tuple[Session, int, int]) -> None:
        session, _seller, _buyer = setup
        number = f.make_uscc()
        registry.add_holder(session, kind="org", name="a", id_number=number, region="522629",
                           actor=A)
        before = snapshot(session)
        with pytest.raises(Conflict):
            registry.add_holder(session, kind="org", name="b", id_number=number,
                               region="522629", actor=A)
        assert snapshot(session) == before

    def test_malformed_and_unissued_serial(self, setup: tuple[Session, int, int]) -> None:
        session, _seller, _buyer = setup
        before = snapshot(session)
        with pytest.raises(InvalidSerial):
            registry.find_serial(session, "QL-FCS-xx")
        with pytest.raises(InvalidSerial):
            registry.find_serial(session, "QL-FCS-522629-P000001-2023-000009999999")
        with pytest.raises(InvalidSerial, match="does not match"):
            registry.find_serial(session, "QL-FCS-520000-P000001-2023-000000000001")
        assert snapshot(session) == before

    def test_unknown_hold(self, setup: tuple[Session, int, int]) -> None:
        session, _seller, buyer = setup
        before = snapshot(session)
        with pytest.raises(UnknownHold):
            registry.settle(session, hold_id=12345, to_account=buyer, actor=A)
        assert snapshot(session) == before


def test_audit_names_the_tampered_entry(session: Session) -> None:
    seller, _project, _issued = f.issued_account(session, quantity=1000)
    buyer = f.account(session)
    moved = registry.transfer(session, from_account=seller, to_account=buyer, product="FCS",
                           quantity=10, actor=A)
    assert verify_chain(session) is None
    session.execute(text("UPDATE ledger_entries SET actor = 'mallory' WHERE sequence = :s"),
                    {"s": moved["entry"]})
    session.commit()
    finding = verify_chain(session)
    assert finding is not None and finding.sequence == moved["entry"]


def test_audit_catches_a_block_edited_behind_the_ledger(session: Session) -> None:
    seller, _project, issued = f.issued_account(session, quantity=1000)
    buyer = f.account(session)
    registry.transfer(session, from_account=seller, to_account=buyer, product="FCS",
                   quantity=10, actor=A)
    session.execute(text("UPDATE unit_blocks SET account_id = :b WHERE account_id = :s"),
                    {"b": buyer, "s": seller})
    session.commit()
    report = audit(session)
    assert not report.ok
    assert any(f"issuance {issued['id']}" in p for p in report.problems)


def test_audit_catches_an_edited_retirement(session: Session) -> None:
    seller, _project, _issued = f.issued_account(session, quantity=1000)
    retired = documents.retire(session, load_or_create_key(), from_account=seller,
                               product="FCS", quantity=5, beneficiary="钟某", purpose="case",
                               actor=A)
    session.execute(text("UPDATE retirements SET beneficiary = '李某' WHERE id = :i"),
                    {"i": retired["id"]})
    session.commit()
    report = audit(session)
    assert any("beneficiary" in p for p in report.problems)


def test_postgres_refuses_overlapping_blocks(backend: str, session: Session) -> None:
    if backend != "postgresql":
        pytest.skip("the exclusion constraint is PostgreSQL's; SQLite relies on code checks")
    seller, _project, issued = f.issued_account(session, quantity=1000)
    session.add(UnitBlock(issuance_id=issued["id"], account_id=seller, serial_start=500,
                          serial_end=600, state="held"))
    with pytest.raises(DBAPIError, match="ex_unit_blocks_no_overlap"):
        session.commit()
    session.rollback()


def test_every_write_is_on_the_record(session: Session) -> None:
    seller, _project, _issued = f.issued_account(session, quantity=1000)
    kinds = session.scalars(select(LedgerEntry.kind).order_by(LedgerEntry.sequence)).all()
    assert kinds == ["holder.add", "account.open", "project.add", "issue"]
    assert seller
