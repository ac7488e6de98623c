"""Ledger transfers through PgBouncer (transaction mode) against the same transfers
straight to PostgreSQL, alternating rounds in one run.

Starts its own PgBouncer on a free port (tests/db/cluster.Bouncer, stopped by pid) in
front of the bench database, the ledger in schema `bench_pgbouncer` (set on each server
connection by `connect_query`), and runs bench/ledger.py's clients. Prints transfers/s,
p50/p99 for each round and `ratio=<through PgBouncer / direct>` (1.0: the hop is free).

    flock /tmp/bench.lock .venv/bin/python bench/pgbouncer.py [--clients 4] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.db.cluster import Bouncer, work_folder  # noqa: E402

from _common import fresh_pg_schema, percentile, pg_url  # noqa: E402
from ledger import run_ledger, setup  # noqa: E402

SCHEMA = "bench_pgbouncer"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    base = pg_url()
    direct = fresh_pg_schema(base, SCHEMA)
    accounts = setup(direct, 200)
    server = make_url(base)
    folder = work_folder()
    bouncer = Bouncer(folder, str(server.database), host=server.host or "127.0.0.1",
                      port=server.port or 5432, pool_size=2 * args.clients)
    ini = folder / "pgbouncer.ini"
    ini.write_text(ini.read_text().replace(
        "user=postgres\n", f"user=postgres connect_query='SET search_path={SCHEMA},public'\n", 1))
    bouncer.start()
    rates: dict[str, list[float]] = {"direct": [], "pgbouncer": []}
    try:
        for _ in range(args.rounds):
            for name, url, flag in (("direct", direct, "0"), ("pgbouncer", bouncer.url(), "1")):
                os.environ["QINGLU_PGBOUNCER"] = flag
                rate, latencies = run_ledger(url, accounts, args.clients, args.seconds)
                ms = sorted(x * 1000 for x in latencies)
                rates[name].append(rate)
                print(f"{name}: clients={args.clients} rate={rate:.1f}/s "
                      f"p50={percentile(ms, 50):.2f}ms p99={percentile(ms, 99):.2f}ms",
                      flush=True)
    finally:
        bouncer.stop()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"ratio={sum(rates['pgbouncer']) / sum(rates['direct']):.3f}")


if __name__ == "__main__":
    main()
