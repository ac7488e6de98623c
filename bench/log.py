"""The public log's cost: appending entries with the Merkle tree maintained, against the
hash chain alone, and proof generation; then (--audit) the full and the incremental audit.

Append: N entries (default 100,000; bodies shaped like a transfer's) are appended in
batches of B (default 1,000) to a fresh schema, each batch one transaction that chains
and inserts its entries and moves the head: the hash chain alone. The same entries are
appended to a second fresh schema the same way, the tree grown after each batch from the
entries table (as a checkpoint grows it: the transfer write path itself is untouched).
The two alternate for --rounds rounds (which goes first alternating too); the best of
each is kept, and the time spent growing the tree is printed. Prints entries/s of both,
then inclusion and consistency proofs per second, and `ratio=` tree ÷ chain-only as the
last line (target at least 0.5).

Audit (--audit): M real transfers (default 10,000) through the registry's write path, a
full audit, M more transfers, and the incremental audit of those M; prints both times.

    .venv/bin/python bench/log.py [--entries 100000] [--batch 1000] [--rounds 2]
    .venv/bin/python bench/log.py --audit [--transfers 10000]

Uses QINGLU_BENCH_DATABASE_URL (default: the local server, database `test`), in schemas
`bench_log_chain`, `bench_log_tree` and `bench_log_audit`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sqlalchemy import insert, update  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from _common import fresh_pg_schema, pg_url  # noqa: E402
from ledger import setup  # noqa: E402
from qinglu.core.ledger import GENESIS_HASH, canonical_json, entry_hash  # noqa: E402
from qinglu.core.models import LedgerEntry, LedgerHead  # noqa: E402
from qinglu.db.engine import make_engine  # noqa: E402
from qinglu.db.migrate import upgrade  # noqa: E402
from qinglu.registry import actions as registry  # noqa: E402
from qinglu.registry import checkpoints as log  # noqa: E402


def body_of(sequence: int) -> str:
    """A body the size and shape of a transfer's."""
    request = {"from_account": 1 + sequence % 97, "to_account": 2 + sequence % 89,
               "product": "FCS", "quantity": 1 + sequence % 100, "project_id": None,
               "vintage": None}
    moves = [[1, sequence * 10, sequence * 10 + 9, request["from_account"],
              request["to_account"], "held"]]
    return canonical_json({"request": request, "moves": moves,
                           "result": {"id": sequence, "entry": sequence, "moved": 10},
                           "records": {}})


def append_batch(session: Session, start: int, count: int, prev: str) -> str:
    """Entries start..start+count-1 chained after `prev`, one transaction: the chain."""
    rows = []
    for sequence in range(start, start + count):
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        body = body_of(sequence)
        digest = entry_hash(sequence, now, "bench", "transfer", None, body, prev)
        rows.append({"sequence": sequence, "recorded_at": now, "actor": "bench",
                     "kind": "transfer", "idempotency_key": None, "body": body,
                     "prev_hash": prev, "hash": digest})
        prev = digest
    session.execute(insert(LedgerEntry), rows)
    session.execute(update(LedgerHead).where(LedgerHead.id == 1)
                    .values(sequence=start + count - 1, hash=prev))
    session.commit()
    return prev


def fresh(schema: str) -> str:
    url = fresh_pg_schema(pg_url(), schema)
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        if session.get(LedgerHead, 1) is None:
            session.add(LedgerHead(id=1, sequence=0, hash=GENESIS_HASH))
            session.commit()
    engine.dispose()
    return url


def run_append(url: str, entries: int, batch: int, tree: bool) -> float:
    """Seconds to append `entries`, growing the tree after each batch when asked."""
    engine = make_engine(url)
    prev = GENESIS_HASH
    in_tree = 0.0
    with Session(engine) as session:
        started = time.perf_counter()
        for start in range(1, entries + 1, batch):
            prev = append_batch(session, start, min(batch, entries - start + 1), prev)
            if tree:
                grown = time.perf_counter()
                log.extend_tree(session)
                in_tree += time.perf_counter() - grown
        elapsed = time.perf_counter() - started
    engine.dispose()
    if tree:
        print(f"  of which growing the tree: {in_tree:.2f}s", flush=True)
    return elapsed


def run_proofs(url: str, entries: int, count: int) -> tuple[float, float]:
    """Inclusion and consistency proofs per second over random sizes."""
    engine = make_engine(url)
    rng = random.Random(5)
    with Session(engine) as session:
        started = time.perf_counter()
        for _ in range(count):
            size = rng.randint(1, entries)
            log.inclusion_proof(session, rng.randint(1, size), size)
        inclusion = count / (time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(count):
            second = rng.randint(1, entries)
            log.consistency_proof(session, rng.randint(1, second), second)
        consistency = count / (time.perf_counter() - started)
    engine.dispose()
    return inclusion, consistency


def append_bench(args: argparse.Namespace) -> None:
    chain_best = tree_best = float("inf")
    tree_url = ""
    for round_ in range(args.rounds):
        # Alternate which goes first: the second run of a round meets a warmer server.
        for tree in (False, True) if round_ % 2 == 0 else (True, False):
            url = fresh("bench_log_tree" if tree else "bench_log_chain")
            took = run_append(url, args.entries, args.batch, tree)
            print(f"round {round_ + 1}: {'tree' if tree else 'chain-only'} {took:.2f}s",
                  flush=True)
            if tree:
                tree_best, tree_url = min(tree_best, took), url
            else:
                chain_best = min(chain_best, took)
    print(f"chain only: entries={args.entries} batch={args.batch} "
          f"rate={args.entries / chain_best:.0f} entries/s")
    print(f"tree maintained: entries={args.entries} batch={args.batch} "
          f"rate={args.entries / tree_best:.0f} entries/s")
    inclusion, consistency = run_proofs(tree_url, args.entries, args.proofs)
    print(f"proofs: inclusion={inclusion:.0f}/s consistency={consistency:.0f}/s "
          f"(random sizes up to {args.entries}, {args.proofs} each)")
    print(f"ratio={chain_best / tree_best:.3f}")


def transfers(session: Session, accounts: list[int], count: int) -> None:
    rng = random.Random(count)
    for _ in range(count):
        source, target = rng.sample(accounts, 2)
        registry.transfer(session, from_account=source, to_account=target, product="FCS",
                          quantity=rng.randint(1, 50), actor="bench")


def audit_bench(args: argparse.Namespace) -> None:
    os.environ.setdefault("QINGLU_CHECKPOINT_DIR", tempfile.mkdtemp())
    url = fresh("bench_log_audit")
    accounts = setup(url, 50)
    engine = make_engine(url)
    with Session(engine) as session:
        started = time.perf_counter()
        transfers(session, accounts, args.transfers)
        print(f"{args.transfers} transfers: {time.perf_counter() - started:.1f}s", flush=True)
        started = time.perf_counter()
        full = registry.audit_ledger(session, full=True)
        full_s = time.perf_counter() - started
        transfers(session, accounts, args.transfers)
        started = time.perf_counter()
        since = registry.audit_ledger(session, full=False)
        since_s = time.perf_counter() - started
        started = time.perf_counter()
        again = registry.audit_ledger(session, full=True)
        again_s = time.perf_counter() - started
    engine.dispose()
    assert full["valid"] and since["valid"] and again["valid"], (full, since, again)
    print(json.dumps({"full_audit_s": round(full_s, 2), "entries_full": full["checked"],
                      "incremental_audit_s": round(since_s, 2),
                      "entries_incremental": since["checked"],
                      "full_audit_after_s": round(again_s, 2),
                      "entries_full_after": again["checked"]}))
    print(f"ratio={since_s / again_s:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--proofs", type=int, default=1_000)
    parser.add_argument("--audit", action="store_true")
    parser.add_argument("--transfers", type=int, default=10_000)
    args = parser.parse_args()
    if args.audit:
        audit_bench(args)
    else:
        append_bench(args)


if __name__ == "__main__":
    main()
