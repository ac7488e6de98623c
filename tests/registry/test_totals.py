"""The public totals are kept as units move (triggers append to `unit_totals`), not summed
from every block: after issuance, transfers, escrow, settlement, release, retirement
and cancellation they equal the blocks' sums; a transfer adds no row; folding the rows
keeps the sums; the audit catches totals that no longer match. On both backends."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.registry import actions as registry
from qinglu.registry import stats
from qinglu.registry.models import UnitTotal
from tests import factories as f


def retire(session: Session, **kwargs: Any) -> None:
    documents.retire(session, load_or_create_key(), **kwargs)


def rows(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(UnitTotal)) or 0)


def test_every_kind_of_move_keeps_the_totals(session: Session) -> None:
    seller, _project, _issued = f.issued_account(session, quantity=10_000)
    buyer = f.account(session)
    registry.transfer(session, from_account=seller, to_account=buyer, product="FCS",
                      quantity=1_500, actor=f.ACTOR)
    hold = registry.hold(session, from_account=seller, product="FCS", quantity=2_000,
                         purpose="挂牌 listing", actor=f.ACTOR)
    registry.settle(session, hold_id=hold["id"], to_account=buyer, quantity=700,
                    actor=f.ACTOR)
    registry.release(session, hold_id=hold["id"], actor=f.ACTOR)
    retire(session, from_account=buyer, product="FCS", quantity=900,
                    beneficiary="某某公司", purpose="碳中和 neutrality", actor=f.ACTOR)
    registry.cancel(session, from_account=seller, product="FCS", quantity=300,
                    reason="核减 reversal", actor=f.ACTOR)
    kept = stats.kept_totals(session)
    assert kept == stats.totals_from_blocks(session)
    assert kept[("FCS", "522629")] == {"held": 8_800, "escrow": 0, "retired": 900,
                                       "cancelled": 300}
    assert registry.public_totals(session)["products"]["FCS"]["retired"] == "9.00"


def test_a_transfer_adds_no_row(session: Session) -> None:
    seller, _project, _issued = f.issued_account(session, quantity=1_000)
    buyer = f.account(session)
    before = rows(session)
    for _ in range(3):
        registry.transfer(session, from_account=seller, to_account=buyer, product="FCS",
                          quantity=100, actor=f.ACTOR)
    assert rows(session) == before


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["transfer", "hold", "settle", "retire", "cancel"]),
                          st.integers(1, 400)), min_size=1, max_size=12))
def test_any_sequence_keeps_the_totals(session: Session,
                                       steps: list[tuple[str, int]]) -> None:
    owner, _project, _issued = f.issued_account(session, quantity=3_000)
    other = f.account(session)
    holds: list[int] = []
    for kind, quantity in steps:
        try:
            if kind == "transfer":
                registry.transfer(session, from_account=owner, to_account=other,
                                  product="FCS", quantity=quantity, actor=f.ACTOR)
            elif kind == "hold":
                holds.append(registry.hold(session, from_account=owner, product="FCS",
                                           quantity=quantity, purpose="p",
                                           actor=f.ACTOR)["id"])
            elif kind == "settle" and holds:
                registry.settle(session, hold_id=holds.pop(), to_account=other, actor=f.ACTOR)
            elif kind == "retire":
                retire(session, from_account=other, product="FCS", quantity=quantity,
                                beneficiary="某", purpose="p", actor=f.ACTOR)
            elif kind == "cancel":
                registry.cancel(session, from_account=owner, product="FCS",
                                quantity=quantity, reason="r", actor=f.ACTOR)
        except Exception:  # a refused step (too few units) writes nothing
            session.rollback()
    assert stats.kept_totals(session) == stats.totals_from_blocks(session)


def test_folding_keeps_the_sums(session: Session) -> None:
    owner, _project, _issued = f.issued_account(session, quantity=5_000)
    for _ in range(6):
        retire(session, from_account=owner, product="FCS", quantity=10,
                        beneficiary="某", purpose="p", actor=f.ACTOR)
    before = stats.kept_totals(session)
    many = rows(session)
    assert registry.compact_totals(session) == 0  # few rows: left as they are
    stats_limit = stats.COMPACT_AFTER_ROWS
    try:
        stats.COMPACT_AFTER_ROWS = 2
        assert registry.compact_totals(session) == many
    finally:
        stats.COMPACT_AFTER_ROWS = stats_limit
    assert rows(session) == 2  # issued and retired, one row each
    assert stats.kept_totals(session) == before == stats.totals_from_blocks(session)
    retire(session, from_account=owner, product="FCS", quantity=10,
                    beneficiary="某", purpose="p", actor=f.ACTOR)
    assert stats.kept_totals(session) == stats.totals_from_blocks(session)


def test_the_audit_catches_totals_written_behind_the_ledger(session: Session) -> None:
    f.issued_account(session, quantity=1_000)
    assert registry.audit_ledger(session)["valid"]
    session.execute(text("INSERT INTO unit_totals (product, region, state, units) "
                         "VALUES ('FCS', '522629', 'retired', 5)"))
    session.commit()
    report = registry.audit_ledger(session)
    assert not report["valid"]
    assert any("totals FCS 522629" in p for p in report["problems"])
