"""Market throughput on PostgreSQL: settled trades/s against plain ledger transfers.

N client processes (default 4) each, for a fixed time, place an order on one of the
open listings (20 sellers' listings, random lots) and confirm its payment at once,
so every trade is: an order write (listing row locked, reservation), then a
settlement write (units out of escrow to the buyer, order settled, trade voucher
signed and stored); on PostgreSQL both run in the server-side functions of
`market/sql/`, as in production. Then, in the same run, the same clients do plain
transfers for the same time among the same accounts (bench/ledger.py's workload). Prints trades/s,
p50/p99 of a whole trade, transfers/s, and `ratio=<trades / transfers>` last.

    .venv/bin/python bench/market.py [--clients 4] [--seconds 10]

Uses QINGLU_BENCH_DATABASE_URL (default: the local server, database `test`), in its
own schema `bench_market`.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_pg_schema, percentile, pg_url, run_clients  # noqa: E402
from ledger import run_ledger, setup  # noqa: E402
from qinglu.db.engine import make_engine, make_session_factory  # noqa: E402
from qinglu.documents.signing import load_or_create_key  # noqa: E402
from qinglu.market import actions as service  # noqa: E402

SELLERS = 20


def open_listings(url: str, sellers: list[int]) -> list[int]:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        listings = [service.create_listing(
            session, seller_account=seller, product="FCS", quantity=9_000_000,
            price=Decimal("48.50"), min_lot=1, actor="bench",
            expires_at=datetime.now(UTC) + timedelta(days=1))["id"] for seller in sellers]
    engine.dispose()
    return listings


def trader(url: str, listings: list[int], buyers: list[int], seconds: float, seed: int,
           out: mp.Queue[list[float]]) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    key = load_or_create_key()
    rng = random.Random(seed)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    with factory() as session:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            order = service.place_order(session, listing_id=rng.choice(listings),
                                        buyer_account=rng.choice(buyers),
                                        quantity=rng.randint(1, 100), actor="bench")
            service.confirm_payment(session, key, order_id=order["id"],
                                    reference=f"bench-{seed}-{order['id']}", actor="bench")
            latencies.append(time.perf_counter() - started)
    engine.dispose()
    out.put(latencies)


def run_market(url: str, listings: list[int], buyers: list[int], clients: int,
               seconds: float) -> tuple[float, list[float]]:
    return run_clients(trader, lambda i: (url, listings, buyers, seconds, i), clients, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--accounts", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("QINGLU_VAR_DIR", tempfile.mkdtemp(prefix="qinglu-bench-"))
    load_or_create_key()  # made once, before the workers start
    url = fresh_pg_schema(pg_url(), "bench_market")
    accounts = setup(url, args.accounts)
    sellers, buyers = accounts[:SELLERS], accounts[SELLERS:]
    listings = open_listings(url, sellers)
    rate, latencies = run_market(url, listings, buyers, args.clients, args.seconds)
    ms = sorted(x * 1000 for x in latencies)
    print(f"market trades (order + payment + voucher): clients={args.clients} "
          f"listings={len(listings)} seconds={args.seconds:g} trades={len(ms)} "
          f"rate={rate:.1f}/s p50={percentile(ms, 50):.2f}ms p99={percentile(ms, 99):.2f}ms")
    transfer_rate, transfer_latencies = run_ledger(url, buyers, args.clients, args.seconds)
    tms = sorted(x * 1000 for x in transfer_latencies)
    print(f"plain transfers: clients={args.clients} accounts={len(buyers)} "
          f"rate={transfer_rate:.1f}/s p50={percentile(tms, 50):.2f}ms "
          f"p99={percentile(tms, 99):.2f}ms")
    print(f"ratio={rate / transfer_rate:.3f}")


if __name__ == "__main__":
    main()
