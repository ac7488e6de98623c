"""Concurrent writers: no lost or duplicated units, no deadlock reaching the caller."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from qinglu.core.errors import InsufficientUnits
from qinglu.documents import actions as documents
from qinglu.documents.signing import RegistryKey, load_or_create_key
from qinglu.registry import actions as registry
from qinglu.registry.audit import audit
from qinglu.registry.models import Issuance, Retirement, UnitBlock
from tests import factories as f

A = f.ACTOR


def _worker(factory: sessionmaker[Session], key: RegistryKey, accounts: list[int], ops: int,
            seed: int, retired: list[int], lock: threading.Lock) -> tuple[int, int]:
    rng = random.Random(seed)
    done = refused = 0
    with factory() as session:
        for _ in range(ops):
            src, dst = rng.sample(accounts, 2)
            quantity = rng.randint(1, 500)
            try:
                if rng.random() < 0.15:
                    result = documents.retire(session, key, from_account=src, product="FCS",
                                              quantity=quantity, beneficiary="w", purpose="p",
                                              actor=A)
                    with lock:
                        retired.append(result["quantity"])
                else:
                    registry.transfer(session, from_account=src, to_account=dst, product="FCS",
                                   quantity=quantity, actor=A)
                done += 1
            except InsufficientUnits:
                refused += 1
    return done, refused


def _run_random_load(factory: sessionmaker[Session], workers: int, ops_per_worker: int,
                     n_accounts: int) -> None:
    with factory() as session:
        accounts = [f.account(session) for _ in range(n_accounts)]
        project = f.project(session)
        for acct in accounts:
            registry.issue(session, project_id=project, vintage=2023, quantity=20_000,
                        to_account=acct, actor=A)
    retired: list[int] = []
    lock = threading.Lock()
    key = load_or_create_key()
    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(_worker, factory, key, accounts, ops_per_worker, seed, retired,
                               lock)
                   for seed in range(workers)]
        outcomes = [fut.result() for fut in futures]  # re-raises any unexpected error
    assert sum(done for done, _ in outcomes) > 0
    with factory() as session:
        issued = session.scalar(select(func.sum(Issuance.quantity)))
        held = sum(
            int(registry.balance(session, acct).get("FCS", {}).get("held", "0").replace(".", ""))
            for acct in accounts
        )
        recorded_retired = session.scalar(select(func.sum(Retirement.quantity))) or 0
        assert recorded_retired == sum(retired)
        assert held + recorded_retired == issued  # no unit lost, none made twice
        retired_blocks = session.scalar(
            select(func.sum(UnitBlock.serial_end - UnitBlock.serial_start + 1))
            .where(UnitBlock.state == "retired"))
        assert retired_blocks == recorded_retired
        report = audit(session)
        assert report.ok, report.problems[:5]


@pytest.mark.slow
def test_many_concurrent_transfers_on_postgresql(pg_database_url: str) -> None:
    from qinglu.db.engine import make_engine, make_session_factory

    engine = make_engine(pg_database_url, pool_size=10)
    try:
        _run_random_load(make_session_factory(engine), workers=8, ops_per_worker=640,
                         n_accounts=20)
    finally:
        engine.dispose()


@pytest.mark.slow
def test_concurrent_transfers_on_sqlite(sqlite_database_url: str) -> None:
    from qinglu.db.engine import make_engine, make_session_factory

    engine = make_engine(sqlite_database_url)
    try:
        _run_random_load(make_session_factory(engine), workers=8, ops_per_worker=60,
                         n_accounts=20)
    finally:
        engine.dispose()


@pytest.mark.parametrize("workers", [8])
def test_racers_for_one_block_only_one_wins(session_factory: sessionmaker[Session],
                                            workers: int) -> None:
    with session_factory() as session:
        seller, _project, _issued = f.issued_account(session, quantity=100)
        buyers = [f.account(session) for _ in range(workers)]
    barrier = threading.Barrier(workers)

    def buy(buyer: int) -> bool:
        with session_factory() as session:
            barrier.wait()
            try:
                registry.transfer(session, from_account=seller, to_account=buyer, product="FCS",
                               quantity=100, actor=A)
                return True
            except InsufficientUnits:
                return False

    with ThreadPoolExecutor(workers) as pool:
        wins = list(pool.map(buy, buyers))
    assert wins.count(True) == 1
    with session_factory() as session:
        assert audit(session).ok
