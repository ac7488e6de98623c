"""A large ledger on PostgreSQL: 1,000,000 entries and 10,000,000 unit blocks, then the
public reads at 50 clients and a transfer's latency against an empty ledger.

Generation (database `qinglu_scale`, kept for later runs while it holds the sizes asked):
every row is written by the registry's own write paths, called in bulk:

1. real, one write each: a holder, a project (FCS) and `--accounts` holding accounts;
2. real, in bulk: unit blocks issued through `registry.issue_batch_in` inside
   `core.ledger.run_write` (the batch path green-certificate issuance uses: serials
   allocated in one pass, issuances and blocks streamed with COPY, every move on the
   entry), `--lines` issuances a ledger entry, until ~90 % of `--blocks`;
3. real, in bulk: transfers through the server-side function `qinglu_transfer` (what
   `registry.transfer` calls on PostgreSQL: locks, block split, hash-chained entry),
   `--chunk` calls per SQL statement (one transaction each, no round trip per call),
   until the ledger has `--entries` entries; each splits a block, adding the rest;
4. real, one write each: 20 retirements with their signed certificates (PDFs).

Nothing is bulk-loaded beside these paths: the ledger verifies as any other.

Measurement: `qinglu serve --workers N` on the large database; `--clients` keep-alive
connections (bench/api.py's asyncio client, then one client, then the same number from
Debian's `wrk` where it is installed: a load generator in C, whose small share of the
two cores leaves the server its own) for `--seconds` each on: serial look-ups
(`/api/v1/units/{serial}` on random blocks), certificate verification, the public
pages `/retirements`, `/projects` (its first page) and `/search?serial=` and public API
reads (the dashboard `/` and the lists are timed once first). The look-ups and the
verifications are then offered at set shares of the closed-loop rate, by the same number
of connections sending at even intervals (open loop, latency from when each request was
due): the latency at a demand the server keeps up with, and the highest demand tried
up to which every p99 stays under 20 ms. Then, in-process, balance
queries on the accounts of most blocks, and a transfer's latency (one client,
`registry.transfer`) on the large ledger and on an empty one (`qinglu_scale_empty`,
made afresh), alternating: between 20 accounts on each that start with one
10,000,000-unit block (made afresh on the large ledger each run), so that the two
differ only by the ledger around them; the generated traders' fragmented accounts are
timed beside. Prints p50/p99 of each and `ratio=<transfer p50 empty / transfer p50
large>` last (target >= 1/1.5).

    .venv/bin/python bench/scale.py [--entries 1000000] [--blocks 10000000]
        [--clients 50] [--seconds 10] [--generate-only | --reads-only]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qinglu.db.models  # noqa: E402, F401  (every feature's tables: a certificate names a case)
from _common import percentile, pg_url  # noqa: E402
from api import free_port, load, paced_load, wrk_load  # noqa: E402
from qinglu.core.identifiers import uscc_check_char  # noqa: E402
from qinglu.core.ledger import WriteContext, run_write  # noqa: E402
from qinglu.core.serials import format_serial  # noqa: E402
from qinglu.db.engine import make_engine, make_session_factory  # noqa: E402
from qinglu.db.migrate import upgrade  # noqa: E402
from qinglu.registry import actions as registry  # noqa: E402

LARGE, EMPTY = "qinglu_scale", "qinglu_scale_empty"
FRESH = "规模测试 fresh traders"
VAR = Path(os.environ.get("QINGLU_SCALE_VAR", "/var/tmp/qinglu-scale-var"))
REGION = "522629"
ACTOR = "bench"
CERTIFICATES = 20
# The reads whose latency is also taken at a set demand (open loop), and the demands:
# shares of the rate 50 closed-loop clients reach.
PACED = ("serial look-up", "certificate verification")
PACED_SHARES = (0.25, 0.5, 0.7, 0.85)
P99_TARGET_MS = 20
VACUUM_EVERY_CHUNKS = 100  # chunks of transfers between two VACUUMs of what they churn

# The transfers, `qinglu_transfer` called once per row of one statement; the request is
# the canonical JSON `registry.transfer` records (keys sorted, nulls written; "\:" is a
# colon that is not a bound parameter).
TRANSFERS = text(r"""
SELECT count(qinglu_transfer(f, t, 'FCS', q, NULL, NULL, :actor, NULL,
       '{"from_account":' || f || ',"product":"FCS","project_id"\:null,"quantity":' || q
       || ',"to_account":' || t || ',"vintage"\:null}'))
  FROM (SELECT (CAST(:accounts AS int[]))[1 + (i * 7919) % CAST(:n AS int)] AS f,
               (CAST(:accounts AS int[]))[1 + (i * 7919 + 1 + i % 97) % CAST(:n AS int)] AS t,
               1 + i % 100 AS q
          FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS i) AS pick
""")


def database(base: str, name: str, fresh: bool = False) -> str:
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if fresh:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name}) is None:
            conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def setup(session: Session, n_accounts: int, n_traders: int
          ) -> tuple[int, list[int], list[int]]:
    """A project; holding accounts for the batch-issued blocks (holder 1) and trading
    accounts (holder 2), each of these issued 10,000,000 units in one real issuance."""
    holders = []
    for k, name in enumerate(("规模测试 holders", "规模测试 traders"), 1):
        first17 = f"91520100MA000000{k}"
        holders.append(registry.add_holder(session, kind="org", name=name,
                                           id_number=first17 + uscc_check_char(first17),
                                           region=REGION, actor=ACTOR)["id"])
    project = registry.add_project(session, name="scale", product="FCS", region=REGION,
                                   methodology="bench", actor=ACTOR)["id"]
    accounts = [registry.open_account(session, holder_id=holders[0], actor=ACTOR)["id"]
                for _ in range(n_accounts)]
    traders = [registry.open_account(session, holder_id=holders[1], actor=ACTOR)["id"]
               for _ in range(n_traders)]
    for trader in traders:
        registry.issue(session, project_id=project, vintage=2024, quantity=10_000_000,
                       to_account=trader, actor=ACTOR)
    return project, accounts, traders


def accounts_of(session: Session, name: str) -> list[int]:
    return list(session.execute(text(
        "SELECT a.id FROM accounts a JOIN holders h ON h.id = a.holder_id "
        "WHERE h.name = :name ORDER BY a.id"), {"name": name}).scalars())


def issue_blocks(session: Session, project: int, accounts: list[int], blocks: int,
                 lines: int) -> None:
    for batch in range(-(-blocks // lines)):
        count = min(lines, blocks - batch * lines)
        plan = [registry.BatchLine(project_id=project, vintage=2024, quantity=1_000,
                                   to_account=accounts[(batch * lines + k) % len(accounts)])
                for k in range(count)]

        def action(ctx: WriteContext, plan: list[registry.BatchLine] = plan) -> dict[str, Any]:
            return {"issuances": len(registry.issue_batch_in(ctx, product="FCS", lines=plan))}

        run_write(session, kind="issue.batch", actor=ACTOR, action=action,
                  request={"bench_batch": batch, "lines": count})
        if batch % 50 == 0:
            print(f"  batch {batch}: {(batch + 1) * lines:,} blocks", flush=True)


def transfer_in_bulk(url: str, accounts: list[int], first: int, count: int,
                     chunk: int) -> None:
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for start in range(first, first + count, chunk):
            last = min(start + chunk, first + count) - 1
            conn.execute(TRANSFERS, {"actor": ACTOR, "accounts": accounts, "n": len(accounts),
                                     "first": start, "last": last})
            chunks_sent = (start - first) // chunk + 1
            if chunks_sent % 20 == 1:
                print(f"  transfers: {last - first + 1:,}", flush=True)
            if chunks_sent % VACUUM_EVERY_CHUNKS == 0:
                # This server runs no autovacuum: each transfer leaves a dozen dead block
                # versions, which the traders' index scans would otherwise step over.
                conn.execute(text("VACUUM unit_blocks, ledger_head, accounts"))
    engine.dispose()


def retire_with_certificates(session: Session, accounts: list[int]) -> None:
    from qinglu.documents import actions as documents
    from qinglu.documents.signing import load_or_create_key

    key = load_or_create_key()
    for k in range(CERTIFICATES):
        documents.retire(session, key, from_account=accounts[k], product="FCS", quantity=500,
                         beneficiary="某某公司", purpose="规模测试 scale bench", actor=ACTOR)


def sizes(session: Session) -> tuple[int, int]:
    return (int(session.scalar(text("SELECT sequence FROM ledger_head")) or 0),
            int(session.scalar(text("SELECT count(*) FROM unit_blocks")) or 0))


def transfers_made(session: Session) -> int:
    return int(session.scalar(text(
        "SELECT count(*) FROM ledger_entries WHERE kind = 'transfer'")) or 0)


def generate(url: str, args: argparse.Namespace) -> None:
    """Make the large ledger, or finish one whose batch issuance is complete and whose
    transfers were cut short (the transfers go on from the one after the last made)."""
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    issued_blocks = args.blocks * 9 // 10
    with factory() as session:
        entries, blocks = sizes(session)
        if entries >= args.entries and blocks >= args.blocks:
            print(f"reusing {url.rsplit('/', 1)[-1]}: {entries:,} entries, {blocks:,} unit blocks")
            return
        started = time.perf_counter()
        traders = accounts_of(session, "规模测试 traders")
        made = transfers_made(session)
        if entries and (blocks < issued_blocks or not traders):
            sys.exit(f"{url.rsplit('/', 1)[-1]} holds a partial ledger ({entries:,} entries, "
                     "its batch issuance unfinished): drop it first")
        if not entries:
            project, accounts, traders = setup(session, args.accounts, args.traders)
            print(f"setup: {len(accounts) + len(traders):,} accounts in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
            step = time.perf_counter()
            issue_blocks(session, project, accounts, issued_blocks, args.lines)
            print(f"batch issuance: {issued_blocks:,} blocks in "
                  f"{time.perf_counter() - step:.0f} s", flush=True)
        else:
            print(f"resuming after {made:,} transfers ({entries:,} entries)", flush=True)
        entries, _ = sizes(session)
        # No snapshot of ours held open through the transfers (it would keep every old
        # version of the ledger head and of the blocks from being pruned), and the
        # planner told what the batch issuance made (this server runs no autovacuum).
        session.commit()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        transfers = args.entries - entries - 2 * CERTIFICATES
        step = time.perf_counter()
        transfer_in_bulk(url, traders, made, max(transfers, 0), args.chunk)
        print(f"server transfers: {transfers:,} in {time.perf_counter() - step:.0f} s",
              flush=True)
        _, blocks = sizes(session)
        if blocks < args.blocks:  # the transfers split fewer blocks than the rest asked
            project = session.scalar(text("SELECT id FROM projects WHERE name = 'scale'"))
            issue_blocks(session, project, accounts_of(session, "规模测试 holders"),
                         args.blocks - blocks, args.lines)
            print(f"batch issuance: {args.blocks - blocks:,} more blocks", flush=True)
        session.expire_all()
        retire_with_certificates(session, traders)
        session.commit()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        entries, blocks = sizes(session)
        print(f"generated {entries:,} entries, {blocks:,} unit blocks in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    engine.dispose()


def public_paths(url: str, samples: int = 2_000) -> dict[str, list[str]]:
    """Serials of random blocks, the certificates' numbers, and the public pages."""
    engine = make_engine(url)
    rng = random.Random(17)
    with engine.connect() as conn:
        top = int(conn.scalar(text("SELECT max(id) FROM unit_blocks")) or 0)
        ids = [rng.randint(1, top) for _ in range(samples)]
        rows = conn.execute(text(
            "SELECT i.product, p.region, i.project_id, i.vintage, b.serial_start, b.serial_end "
            "FROM unit_blocks b JOIN issuances i ON i.id = b.issuance_id "
            "JOIN projects p ON p.id = i.project_id WHERE b.id = ANY(:ids)"), {"ids": ids})
        serials = [format_serial(*row) for row in rows]
        numbers = list(conn.execute(text("SELECT number FROM certificates")).scalars())
    engine.dispose()
    return {
        "serial look-up": [f"/api/v1/units/{s}" for s in serials],
        "certificate verification": [f"/api/v1/certificates/{n}/verify" for n in numbers],
        "public pages": ["/retirements", "/projects",
                         *(f"/search?serial={s}" for s in serials[:50])],
        "public API reads": ["/api/v1/projects", "/api/v1/ledger/head", "/api/v1/products"],
    }


def serve_and_load(url: str, args: argparse.Namespace) -> None:
    paths = public_paths(url)
    qinglu = str(Path(sys.executable).parent / "qinglu")
    port = free_port()
    env = {**os.environ, "QINGLU_VAR_DIR": str(VAR), "QINGLU_DATABASE_URL": url,
           "QINGLU_SECRET": "scale-bench"}
    server = subprocess.Popen([qinglu, "serve", "--port", str(port), "--workers",
                               str(args.workers)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        # Timed once each before the load: the dashboard sums every block (it reads the
        # whole registry); the project lists read a page at a time.
        for page in ("/", "/retirements", "/projects", "/api/v1/projects"):
            started = time.perf_counter()
            answer = httpx.get(f"http://127.0.0.1:{port}{page}", timeout=600)
            print(f"one request to {page}: {(time.perf_counter() - started) * 1000:.0f} ms "
                  f"(status {answer.status_code})", flush=True)
        for name, group in [("health (baseline)", ["/health"]), *paths.items()]:
            load(port, group[:20], 4, 1.0)  # warm the workers' pools and caches
            # One client too: the request's own time, without 50 clients' queueing on
            # the machine's two cores (which the health baseline shows).
            rates = {}
            for clients in (args.clients, 1):
                rate, latencies, errors = load(port, group, clients, args.seconds / 2
                                               if clients == 1 else args.seconds)
                rates[clients] = rate
                ms = sorted(x * 1000 for x in latencies)
                print(f"{name}: {clients} clients, {rate:.0f} req/s, "
                      f"p50={percentile(ms, 50):.1f} ms p99={percentile(ms, 99):.1f} ms, "
                      f"{len(ms):,} requests, non-200={errors}", flush=True)
            figures = wrk_load(port, group, args.clients, args.seconds)
            if figures is not None:
                print(f"{name}: {args.clients} connections from wrk, "
                      f"{figures['rate']:.0f} req/s, p50={figures['p50']:.1f} ms "
                      f"p99={figures['p99']:.1f} ms, non-2xx={figures['errors']:.0f}, "
                      f"timeouts={figures['timeouts']:.0f}",
                      flush=True)
            if name in PACED:
                paced(port, name, group, args.clients,
                      figures["rate"] if figures is not None else rates[args.clients],
                      args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=20)


def paced(port: int, name: str, paths: list[str], clients: int, most: float,
          seconds: float) -> None:
    """The same `clients` connections offering a set share of `most` (the closed-loop
    rate): the latency at a demand the server keeps up with, and the highest demand
    tried up to which every p99 stays under the target."""
    within, failed = 0, False
    for share in PACED_SHARES:
        rate = round(most * share)
        answered, latencies, errors = paced_load(port, paths, clients, rate, seconds)
        ms = sorted(x * 1000 for x in latencies)
        p99 = percentile(ms, 99)
        # Up to the first demand that misses: one that meets the target past a miss is
        # luck (a quieter 10 s), not a demand the server keeps up with.
        failed = failed or p99 >= P99_TARGET_MS or bool(errors)
        within = within if failed else rate
        print(f"{name}: {clients} clients offering {rate} req/s ({share:.0%} of "
              f"{most:.0f}), {answered:.0f} answered/s, p50={percentile(ms, 50):.1f} ms "
              f"p99={p99:.1f} ms, non-200={errors}", flush=True)
    print(f"{name}: p99 under {P99_TARGET_MS} ms at {clients} clients at every demand "
          f"tried up to {within} req/s", flush=True)


def timed(calls: int, call: Any) -> list[float]:
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return sorted(out)


def balances(url: str) -> None:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        accounts = list(session.execute(text(
            "SELECT account_id FROM unit_blocks GROUP BY account_id "
            "ORDER BY count(*) DESC LIMIT 50")).scalars())
        per = session.scalar(text("SELECT count(*) FROM unit_blocks WHERE account_id = :a"),
                             {"a": accounts[0]})
        rng = random.Random(5)

        def one_balance() -> None:
            registry.balance(session, rng.choice(accounts))
            session.rollback()  # each read its own snapshot, as a request's

        ms = timed(300, one_balance)
    engine.dispose()
    print(f"balance (in-process, one client): p50={statistics.median(ms):.1f} ms "
          f"p99={percentile(ms, 99):.1f} ms (accounts of up to {per:,} blocks)")


def transfer_latency(ledgers: dict[str, tuple[str, list[int]]], rounds: int,
                     per_round: int) -> dict[str, list[float]]:
    """One client's transfers among each ledger's given accounts, alternating rounds so
    all share the noise."""
    out: dict[str, list[float]] = {name: [] for name in ledgers}
    engines = {name: make_engine(u) for name, (u, _) in ledgers.items()}
    sessions = {name: make_session_factory(e)() for name, e in engines.items()}
    rng = random.Random(3)
    for _ in range(rounds):
        for name, session in sessions.items():
            accounts = ledgers[name][1]
            out[name] += timed(per_round, lambda s=session, a=accounts: registry.transfer(
                s, from_account=(p := rng.sample(a, 2))[0], to_account=p[1], product="FCS",
                quantity=rng.randint(1, 100), actor=ACTOR))
    for session in sessions.values():
        session.close()
    for engine in engines.values():
        engine.dispose()
    return {name: sorted(v) for name, v in out.items()}


def fresh_traders(url: str, count: int = 20) -> list[int]:
    """`count` new accounts on the large ledger, each issued 10,000,000 units in one real
    issuance: the same holdings the empty ledger's traders start with, so that a transfer
    between them differs from one on the empty ledger only by the ledger around it."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        holder = session.scalar(text("SELECT id FROM holders WHERE name = :n"), {"n": FRESH})
        if holder is None:
            first17 = "91520100MA0000003"
            holder = registry.add_holder(session, kind="org", name=FRESH,
                                         id_number=first17 + uscc_check_char(first17),
                                         region=REGION, actor=ACTOR)["id"]
        project = session.scalar(text("SELECT id FROM projects WHERE name = 'scale'"))
        accounts = [registry.open_account(session, holder_id=holder, actor=ACTOR)["id"]
                    for _ in range(count)]
        for account in accounts:
            registry.issue(session, project_id=project, vintage=2024, quantity=10_000_000,
                           to_account=account, actor=ACTOR)
    engine.dispose()
    return accounts


def traders(url: str, count: int = 20) -> list[int]:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        accounts = accounts_of(session, "规模测试 traders")[:count]
    engine.dispose()
    return accounts


def fragmented(url: str, count: int) -> None:
    """Transfers out of the batch holders' accounts (thousands of blocks each): the
    server function sorts every held block of the source account on each transfer."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        holders = accounts_of(session, "规模测试 holders")
        traders = accounts_of(session, "规模测试 traders")
        per = session.scalar(text("SELECT count(*) FROM unit_blocks WHERE account_id = :a"),
                             {"a": holders[0]})
        session.rollback()
        rng = random.Random(9)
        ms = timed(count, lambda: registry.transfer(
            session, from_account=rng.choice(holders), to_account=rng.choice(traders),
            product="FCS", quantity=rng.randint(1, 100), actor=ACTOR))
    engine.dispose()
    print(f"transfer out of an account of ~{per:,} blocks (one client, {count}): "
          f"p50={statistics.median(ms):.2f} ms p99={percentile(ms, 99):.2f} ms")


def empty_ledger(base: str) -> str:
    url = database(base, EMPTY, fresh=True)
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        setup(session, 0, 20)
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--blocks", type=int, default=10_000_000)
    parser.add_argument("--accounts", type=int, default=2_000,
                        help="holding accounts the batch-issued blocks are spread over")
    parser.add_argument("--traders", type=int, default=1_000,
                        help="accounts the transfers are made between")
    parser.add_argument("--lines", type=int, default=10_000, help="issuances per batch entry")
    # One statement is one transaction: with thousands in one, every update of the
    # ledger head walks the versions the transaction left before it (quadratic).
    parser.add_argument("--chunk", type=int, default=250, help="transfers per statement")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--transfers", type=int, default=100, help="per round, 5 rounds")
    parser.add_argument("--database", default=LARGE, help="the large ledger's database")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--reads-only", action="store_true",
                        help="the public reads under load only (no balances, no transfers)")
    args = parser.parse_args()
    VAR.mkdir(parents=True, exist_ok=True)
    os.environ["QINGLU_VAR_DIR"] = str(VAR)
    base = pg_url()
    large = database(base, args.database)
    generate(large, args)
    if args.generate_only:
        return
    serve_and_load(large, args)
    if args.reads_only:
        return
    balances(large)
    # The same transfers on both ledgers: between accounts that each start with one
    # 10,000,000-unit block; and, beside them, between traders of the generated
    # transfers, whose holdings are cut into hundreds of small blocks each (a transfer
    # there takes several blocks: the cost of a fragmented account, not of the ledger).
    empty = empty_ledger(base)
    latency = transfer_latency({"empty": (empty, traders(empty)),
                                "large": (large, fresh_traders(large)),
                                "large, fragmented traders": (large, traders(large))},
                               5, args.transfers)
    for name, ms in latency.items():
        print(f"transfer on the {name} ledger (one client, {len(ms)}): "
              f"p50={statistics.median(ms):.2f} ms p99={percentile(ms, 99):.2f} ms")
    fragmented(large, args.transfers)
    print(f"ratio={statistics.median(latency['empty']) / statistics.median(latency['large']):.2f}")


if __name__ == "__main__":
    main()
