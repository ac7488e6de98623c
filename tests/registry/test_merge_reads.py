"""On PostgreSQL a transfer joins each moved block with its neighbours (qinglu_move_units)
by the serial each neighbour covers: the rows it reads do not grow with the blocks of the
issuance, under the generic plan PL/pgSQL keeps after five calls too."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from qinglu.db.engine import make_engine
from qinglu.registry import actions as registry
from tests import factories as f


def test_a_transfer_reads_a_few_blocks_of_an_issuance_cut_into_hundreds(
        session: Session, database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("the server-side functions are PostgreSQL's")
    owner, _project, _issued = f.issued_account(session, quantity=2_000)
    others = [f.account(session) for _ in range(2)]
    for k in range(300):  # one unit at a time to two accounts in turn: 300 blocks
        registry.transfer(session, from_account=owner, to_account=others[k % 2],
                          product="FCS", quantity=1, actor=f.ACTOR)
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
            connection.execute(text(
                "SELECT qinglu_transfer(:a, :b, 'FCS', 5, NULL, NULL, 'test', NULL, '{}')"),
                {"a": owner, "b": others[0]})
            fetched = connection.execute(text(
                "SELECT idx_tup_fetch FROM pg_stat_xact_user_tables "
                "WHERE relname = 'unit_blocks'")).scalar_one()
            connection.rollback()
    finally:
        engine.dispose()
    assert fetched < 20, fetched
