"""A move locks the blocks it takes, not every block of the source account: both paths
read an account's blocks a few at a time in serial order (registry/blocks.py take,
registry/sql/move_units.sql), so a unit's hold or transfer out of an account of many
blocks leaves its later blocks free for others. Held open in one transaction, the move's
locks are probed from another with NOWAIT."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from qinglu.db.engine import make_engine, make_session_factory
from qinglu.db.migrate import upgrade
from qinglu.registry import actions as registry
from qinglu.registry import blocks
from tests import factories as f

pytestmark = pytest.mark.postgres

BLOCKS = 40


@pytest.fixture
def engine(pg_database_url: str) -> Engine:
    made = make_engine(pg_database_url)
    upgrade(made)
    return made


def _account_of_many_blocks(engine: Engine) -> tuple[int, int, list[int]]:
    with make_session_factory(engine)() as session:
        source, receiver = f.account(session), f.account(session)
        project = f.project(session)
        for _ in range(BLOCKS):  # one issuance each: as many blocks, in serial order
            registry.issue(session, project_id=project, vintage=2024, quantity=100,
                           to_account=source, actor=f.ACTOR)
        ids = list(session.execute(text(
            "SELECT id FROM unit_blocks WHERE account_id = :a ORDER BY issuance_id"),
            {"a": source}).scalars())
    assert len(ids) == BLOCKS
    return source, receiver, ids


def _locked(engine: Engine, block_id: int) -> bool:
    with engine.connect() as probe:
        try:
            probe.execute(text("SELECT id FROM unit_blocks WHERE id = :id FOR UPDATE NOWAIT"),
                          {"id": block_id})
        except OperationalError as exc:
            assert "lock" in str(exc).lower()
            return True
        finally:
            probe.rollback()
    return False


def test_python_path_locks_only_the_blocks_it_takes(engine: Engine) -> None:
    source, _receiver, ids = _account_of_many_blocks(engine)
    with make_session_factory(engine)() as session:
        whole, part = blocks.take(session, account_id=source, product="FCS", quantity=150)
        assert [b.id for b in whole] == ids[:1] and part is not None and part[0].id == ids[1]
        assert _locked(engine, ids[0]) and _locked(engine, ids[1])
        assert not any(_locked(engine, block) for block in ids[blocks.TAKE_CHUNK:])
        session.rollback()


def test_server_path_locks_only_the_blocks_it_takes(engine: Engine) -> None:
    source, receiver, ids = _account_of_many_blocks(engine)
    with engine.connect() as mover:
        moved = mover.execute(text(
            "SELECT serials FROM qinglu_move_units(:a, :b, 'FCS', 150, 'held', NULL, NULL, "
            "NULL)"), {"a": source, "b": receiver}).scalar_one()
        assert len(moved) == 2
        assert _locked(engine, ids[0]) and _locked(engine, ids[1])
        assert not any(_locked(engine, block) for block in ids[10:])
        mover.rollback()


def test_taking_more_than_a_chunk_goes_on_in_serial_order(engine: Engine) -> None:
    source, receiver, ids = _account_of_many_blocks(engine)
    quantity = 100 * (BLOCKS - 5) + 1  # past several chunks, into a later block
    with make_session_factory(engine)() as session:
        whole, part = blocks.take(session, account_id=source, product="FCS",
                                  quantity=quantity)
        assert [b.id for b in whole] == ids[:BLOCKS - 5]
        assert part is not None and part == (part[0], 1) and part[0].id == ids[BLOCKS - 5]
        session.rollback()
    with engine.connect() as mover:
        serials = mover.execute(text(
            "SELECT serials FROM qinglu_move_units(:a, :b, 'FCS', :q, 'held', NULL, NULL, "
            "NULL)"), {"a": source, "b": receiver, "q": quantity}).scalar_one()
        left = mover.execute(text(
            "SELECT count(*) FROM unit_blocks WHERE account_id = :a"), {"a": source}).scalar()
        mover.rollback()
    assert len(serials) == BLOCKS - 4 and left == 5  # the partly taken block keeps the rest
