"""PgBouncer in transaction mode in front of PostgreSQL (QINGLU_PGBOUNCER=1): the ledger's
server-side writes, the market's settlement and concurrent transfers all pass through it,
every transaction possibly on another server connection; and the ledger's and market's
own PostgreSQL tests pass through it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from qinglu.db.engine import behind_pgbouncer, make_engine, make_session_factory, on_postgres
from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.market import actions as market
from qinglu.registry import actions as registry
from tests import factories as f
from tests.db.cluster import Bouncer, work_folder

pytestmark = [pytest.mark.slow, pytest.mark.postgres,
              pytest.mark.skipif(shutil.which("pgbouncer") is None,
                                 reason="pgbouncer not installed")]


@pytest.fixture
def bounced(pg_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    monkeypatch.setenv("QINGLU_PGBOUNCER", "1")
    folder = work_folder()
    url = make_url(pg_database_url)
    bouncer = Bouncer(folder, str(url.database), host=url.host or "127.0.0.1",
                      port=url.port or 5432, pool_size=3)
    bouncer.start()
    engine = make_engine(bouncer.url())
    try:
        yield engine
    finally:
        engine.dispose()
        bouncer.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_ledger_and_market_through_pgbouncer(bounced: Engine) -> None:
    assert behind_pgbouncer()
    factory: sessionmaker[Session] = make_session_factory(bounced)
    key = load_or_create_key()
    with factory() as session:
        assert on_postgres(session)  # the server-side functions' path
        seller, _project, _issued = f.issued_account(session, quantity=1_000_000)
        buyer = f.account(session)
        # The same statements many times over: psycopg would prepare them after 5.
        first = [registry.transfer(session, from_account=seller, to_account=buyer,
                                   product="FCS", quantity=100 + i, actor="test",
                                   idempotency_key=f"t{i}") for i in range(30)][0]
        again = registry.transfer(session, from_account=seller, to_account=buyer,
                                  product="FCS", quantity=100, actor="test",
                                  idempotency_key="t0")
        held = registry.hold(session, from_account=seller, product="FCS", quantity=500,
                             purpose="挂牌", actor="test")
        registry.settle(session, hold_id=held["id"], to_account=buyer, actor="test")
        documents.retire(session, key, from_account=buyer, product="FCS", quantity=50,
                         beneficiary="某公司", purpose="碳中和", actor="test")
        listing = market.create_listing(
            session, seller_account=seller, product="FCS", quantity=10_000,
            price=Decimal("48.50"), min_lot=1, actor="test",
            expires_at=datetime.now(UTC) + timedelta(days=1))
        for i in range(6):
            order = market.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                                       quantity=10 + i, actor="test")
            market.confirm_payment(session, key, order_id=order["id"],
                                   reference=f"BANK-{i}", actor="test")
        assert session.execute(text("SHOW TimeZone")).scalar_one() == "UTC"
    assert again == first  # a repeated key answered by the first result

    def transfers(worker: int) -> int:
        with factory() as own:
            for i in range(8):
                registry.transfer(own, from_account=seller, to_account=buyer, product="FCS",
                                  quantity=1, actor="test", idempotency_key=f"c{worker}-{i}")
        return worker

    with ThreadPoolExecutor(6) as pool:  # more clients than the pool's 3 server connections
        assert sorted(pool.map(transfers, range(6))) == list(range(6))

    with factory() as session:
        buyer_fcs = registry.balance(session, buyer)["FCS"]
        seller_fcs = registry.balance(session, seller)["FCS"]
        audit = registry.audit_ledger(session)
    # In base units (0.01 t): 3,435 transferred, 500 settled, 50 retired, 75 bought on the
    # market, 48 in concurrent transfers; the listing's 10,000 in escrow less the 75 sold.
    assert Decimal(buyer_fcs["held"]) * 100 == 3_435 + 500 - 50 + 75 + 48
    assert Decimal(seller_fcs["held"]) * 100 == 1_000_000 - 3_435 - 500 - 10_000 - 48
    assert Decimal(seller_fcs["escrow"]) * 100 == 10_000 - 75
    assert audit["valid"], audit["problems"]


REPO = Path(__file__).resolve().parents[2]
LEDGER_AND_MARKET_TESTS = ["tests/registry/test_ledger.py",
                           "tests/registry/test_ledger_concurrency.py",
                           "tests/registry/test_ledger_properties.py", "tests/market"]
# 40 s through the bouncer for what the racers and the fifty buyers also show.
RANDOM_LOAD = ("tests/registry/test_ledger_concurrency.py"
               "::test_many_concurrent_transfers_on_postgresql")
# 47 PostgreSQL tests run today, some 8,000 transactions: floors well above what a run
# whose tests mostly skipped, went unselected or went around the bouncer would reach.
MIN_PASSED = 40
MIN_TRANSACTIONS = 3_000


def bouncer_transactions(bouncer: Bouncer) -> int:
    """Transactions PgBouncer carried to the test databases (`SHOW STATS`, console)."""
    console = make_url(bouncer.url("pgbouncer"))
    with psycopg.connect(host=console.host, port=console.port, user=console.username,
                         dbname="pgbouncer", autocommit=True) as conn:
        rows = conn.execute("SHOW STATS").fetchall()
    return sum(int(row[1]) for row in rows if str(row[0]).startswith("qt_"))


def test_ledger_and_market_test_files_pass_through_pgbouncer(pg_admin_url: str) -> None:
    """The registry's ledger tests (test_ledger, test_ledger_concurrency,
    test_ledger_properties) and every test file of the market, their PostgreSQL halves
    (`-m postgres`), run in a pytest of their own whose test databases are reached
    through PgBouncer in transaction mode (QINGLU_TEST_DATABASE_URL, QINGLU_PGBOUNCER=1)
    and made, put back and dropped directly on the server (QINGLU_TEST_ADMIN_DATABASE_URL).

    The bouncer has fewer server connections (6) than those tests have concurrent
    clients (8 racers for one block, 50 buyers through a live server), so their
    transactions share server connections.

    Left out: the SQLite halves (nothing to bounce); browser tests (there are none in
    these files; `not browser` keeps it so); tests/registry/test_parity.py, which makes
    and reaches its own databases over pg_admin_url, the server itself, so would not go
    through the bouncer. Left out for time, to keep this run near a minute and a half:
    the random load of test_ledger_concurrency (5,120 operations from 8 workers, 40 s
    behind the bouncer; it passes through it, and concurrency through it is shown by
    the racers, the fifty buyers and the test above), and the registry's other files
    (API, CLI, audit, checkpoints, log), which test other layers over the same ledger."""
    url = make_url(pg_admin_url)
    folder = work_folder()
    bouncer = Bouncer(folder, "*", host=url.host or "127.0.0.1", port=url.port or 5432,
                      pool_size=6)
    bouncer.start()
    env = {**os.environ, "QINGLU_TEST_DATABASE_URL": bouncer.url(str(url.database)),
           "QINGLU_TEST_ADMIN_DATABASE_URL": pg_admin_url, "QINGLU_PGBOUNCER": "1",
           "QINGLU_REQUIRE_POSTGRES": "1"}  # no PostgreSQL answering fails, not skips
    try:
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
             "-m", "postgres and not browser", "--deselect", RANDOM_LOAD,
             *LEDGER_AND_MARKET_TESTS],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        carried = bouncer_transactions(bouncer)
    finally:
        bouncer.stop()
        shutil.rmtree(folder, ignore_errors=True)
    report = run.stdout[-4000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    summary = run.stdout.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed is not None and int(passed[1]) >= MIN_PASSED, report
    assert not re.search(r"\d+ (skipped|failed|error)", summary), report
    assert carried >= MIN_TRANSACTIONS, (carried, report)
