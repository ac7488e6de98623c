"""PgBouncer in transaction mode in front of PostgreSQL (QINGLU_PGBOUNCER=1): the ledger's
server-side writes, the market's settlement and concurrent transfers all pass through it,
every transaction possibly on another server connection."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

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
