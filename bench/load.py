"""A crowd on a live server: 200 clients mixing public reads and transfers, then the same
ledger's direct transfers (bench/ledger.py) for comparison, in one run.

Starts `qinglu serve --workers N` (its defaults otherwise) on loopback over a fresh
database (PostgreSQL schema `bench_load`, or a SQLite file), then C concurrent clients
(keep-alive HTTP/1.1 connections driven by one asyncio loop) each loop for S seconds: four
requests in five are public reads (projects, listings, market prices, the ledger's head,
the dashboard page), one in five is an authenticated `POST /api/v1/transfers` between two
random accounts. Then bench/ledger.py's clients (4 processes) do direct transfers on the
same database for the same time. Prints p50/p99 and errors of the HTTP phase (anything
but the expected answer, 503s included, or a transport failure), the direct rate, and
`ratio=<HTTP writes/s / direct transfers/s>` last.

    .venv/bin/python bench/load.py [--db postgresql|sqlite] [--workers 1] [--clients 200]
                                   [--seconds 60]

The client shares the machine's CPUs with the server; run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_pg_schema, percentile, pg_url  # noqa: E402
from ledger import run_ledger, setup  # noqa: E402
from qinglu.accounts import actions as accounts_actions  # noqa: E402
from qinglu.db.engine import make_engine, make_session_factory  # noqa: E402
from qinglu.registry.models import Account  # noqa: E402

READS = ["/api/v1/projects", "/api/v1/listings", "/api/v1/market/prices",
         "/api/v1/ledger/head", "/"]
WRITE_SHARE = 0.2


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_user(url: str, account: int) -> str:
    """A holder user for the holder of the bench's accounts (ledger.setup); its token."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            holder = session.get(Account, account).holder_id  # type: ignore[union-attr]
            user = accounts_actions.add_user(session, name="bench", role="holder",
                                             password="bench-password", holder_id=holder)
            return accounts_actions.issue_token(session, user)
    finally:
        engine.dispose()


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.writes = 0
        self.reads = 0
        self.errors: dict[str, int] = {}

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def crowd_member(client: httpx.AsyncClient, token: str, accounts: list[int],
                       seed: int, deadline: float, tally: Tally) -> None:
    rng = random.Random(seed)
    auth = {"Authorization": f"Bearer {token}"}
    while time.perf_counter() < deadline:
        write = rng.random() < WRITE_SHARE
        start = time.perf_counter()
        try:
            if write:
                src, dst = rng.sample(accounts, 2)
                response = await client.post("/api/v1/transfers", headers=auth, json={
                    "from_account": src, "to_account": dst, "product": "FCS",
                    "quantity": f"{rng.randint(1, 100) / 100:.2f}"})
                expected = 201
            else:
                response = await client.get(rng.choice(READS))
                expected = 200
        except httpx.HTTPError as exc:
            tally.error(type(exc).__name__)
            continue
        tally.latencies.append(time.perf_counter() - start)
        if response.status_code != expected:
            tally.error(str(response.status_code))
        elif write:
            tally.writes += 1
        else:
            tally.reads += 1


async def crowd(base: str, token: str, accounts: list[int], clients: int,
                seconds: float) -> tuple[Tally, float]:
    tally = Tally()
    # Idle connections are dropped by the client well before uvicorn's 5 s keep-alive
    # timeout, so that a request never goes out on a connection the server is closing.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients,
                          keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(crowd_member(client, token, accounts, n, deadline, tally)
                               for n in range(clients)))
        elapsed = time.perf_counter() - started
    return tally, elapsed


def serve(url: str, workers: int, var: str) -> tuple[subprocess.Popen[bytes], str]:
    qinglu = str(Path(sys.executable).parent / "qinglu")
    env = {k: v for k, v in os.environ.items() if k not in ("QINGLU_DATABASE_URL",)}
    env["QINGLU_VAR_DIR"] = var
    port = free_port()
    log = open(os.environ.get("QINGLU_BENCH_LOG", os.devnull), "ab")  # noqa: SIM115 - the server's
    server = subprocess.Popen([qinglu, "serve", "--db", url, "--port", str(port),
                               "--workers", str(workers)], env=env,
                              stdout=subprocess.DEVNULL,
                              stderr=log)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return server, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.terminate()
    sys.exit("qinglu serve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--accounts", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = (fresh_pg_schema(pg_url(), "bench_load") if args.db == "postgresql"
               else f"sqlite:///{tmp}/load.db")
        accounts = setup(url, args.accounts)
        token = bench_user(url, accounts[0])
        server, base = serve(url, args.workers, tmp)
        try:
            tally, elapsed = asyncio.run(crowd(base, token, accounts, args.clients,
                                               args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=20)
        direct_rate, _ = run_ledger(url, accounts, 4, args.seconds)
    ms = sorted(x * 1000 for x in tally.latencies)
    errors = sum(tally.errors.values())
    write_rate = tally.writes / elapsed
    print(f"http: db={args.db} workers={args.workers} clients={args.clients} "
          f"seconds={args.seconds:g} requests={len(ms)} reads={tally.reads} "
          f"writes={tally.writes} rate={len(ms) / elapsed:.1f}/s "
          f"writes/s={write_rate:.1f} p50={percentile(ms, 50):.1f}ms "
          f"p99={percentile(ms, 99):.1f}ms max={max(ms, default=0):.1f}ms")
    print(f"errors={errors}" + (f" {tally.errors}" if errors else ""))
    print(f"direct transfers (bench/ledger.py, 4 clients): {direct_rate:.1f}/s")
    print(f"ratio={write_rate / direct_rate:.3f}")


if __name__ == "__main__":
    main()
