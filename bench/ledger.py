"""Ledger throughput on PostgreSQL against pgbench on the same server.

N client processes (default 4) do single random transfers among M accounts
(default 1,000, in the spirit of TPC-B's many accounts; pgbench at scale 1 has
100,000) for a fixed time; then pgbench's TPC-B-like script runs with the same
client count for the same time. Prints transfers/s, p50/p99 latency, pgbench's tps, and
`ratio=<ours / pgbench>` as the last line.

    .venv/bin/python bench/ledger.py [--clients 4] [--seconds 10]

Uses QINGLU_BENCH_DATABASE_URL (default: the local server, database `test`); the
ledger runs in its own schema `bench_ledger`, pgbench in its usual pgbench_* tables.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_pg_schema, percentile, pg_url, run_clients  # noqa: E402
from qinglu.core.errors import InsufficientUnits  # noqa: E402
from qinglu.core.identifiers import uscc_check_char  # noqa: E402
from qinglu.db.engine import make_engine, make_session_factory  # noqa: E402
from qinglu.db.migrate import upgrade  # noqa: E402
from qinglu.registry import actions as registry  # noqa: E402


def setup(url: str, n_accounts: int) -> list[int]:
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        first17 = "91520100MA0000001"
        holder = registry.add_holder(session, kind="org", name="bench",
                                    id_number=first17 + uscc_check_char(first17),
                                    region="522629", actor="bench")["id"]
        project = registry.add_project(session, name="bench", product="FCS", region="522629",
                                      methodology="bench", actor="bench")["id"]
        accounts = [registry.open_account(session, holder_id=holder, actor="bench")["id"]
                    for _ in range(n_accounts)]
        for account in accounts:
            registry.issue(session, project_id=project, vintage=2024, quantity=10_000_000,
                        to_account=account, actor="bench")
    engine.dispose()
    return accounts


def client(url: str, accounts: list[int], seconds: float, seed: int,
           out: mp.Queue[list[float]]) -> None:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    rng = random.Random(seed)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    with factory() as session:
        while time.perf_counter() < deadline:
            src, dst = rng.sample(accounts, 2)
            start = time.perf_counter()
            try:
                registry.transfer(session, from_account=src, to_account=dst, product="FCS",
                               quantity=rng.randint(1, 100), actor="bench")
            except InsufficientUnits:
                continue
            latencies.append(time.perf_counter() - start)
    engine.dispose()
    out.put(latencies)


def run_ledger(
    url: str, accounts: list[int], clients: int, seconds: float
) -> tuple[float, list[float]]:
    return run_clients(client, lambda i: (url, accounts, seconds, i), clients, seconds)


def run_pgbench(base_url: str, clients: int, seconds: float) -> float:
    if shutil.which("pgbench") is None:
        sys.exit("pgbench not found: install postgresql-client (apt-get install postgresql-client)")
    parsed = urlparse(base_url.replace("postgresql+psycopg", "postgresql"))
    args = ["-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 5432),
            "-U", parsed.username or "postgres", (parsed.path or "/test").lstrip("/")]
    subprocess.run(["pgbench", "-i", "-s", "1", "-q", *args], check=True,
                   capture_output=True)
    output = subprocess.run(
        ["pgbench", "-n", "-c", str(clients), "-j", str(clients), "-T", str(int(seconds)), *args],
        check=True, capture_output=True, text=True,
    ).stdout
    match = re.search(r"tps = ([0-9.]+)", output)
    if not match:
        sys.exit(f"could not read pgbench output:\n{output}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--accounts", type=int, default=1000)
    args = parser.parse_args()
    base = pg_url()
    url = fresh_pg_schema(base, "bench_ledger")
    accounts = setup(url, args.accounts)
    rate, latencies = run_ledger(url, accounts, args.clients, args.seconds)
    ms = sorted(x * 1000 for x in latencies)
    print(f"qinglu transfers: clients={args.clients} accounts={args.accounts} "
          f"seconds={args.seconds:g} "
          f"transfers={len(ms)} rate={rate:.1f}/s p50={percentile(ms, 50):.2f}ms "
          f"p99={percentile(ms, 99):.2f}ms")
    tps = run_pgbench(base, args.clients, args.seconds)
    print(f"pgbench tpc-b: clients={args.clients} seconds={args.seconds:g} tps={tps:.1f}")
    print(f"ratio={rate / tps:.3f}")


if __name__ == "__main__":
    main()
