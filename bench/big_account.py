"""A transfer out of a large account on PostgreSQL: one unit from an account of
`--blocks` unit blocks (50,000: a county carbon-sink centre's years of issuances, each a
block) against the same from an account of 100 blocks, in the same run.

Both accounts are filled through the registry's batch issuance (bench/scale.py's
`issue_blocks`: `issue_batch_in` inside `run_write`, 1,000 issuances an entry), then each
gives one unit at a time to another account through `registry.transfer` (PostgreSQL:
`qinglu_transfer`), alternating, after more than the five calls at which PL/pgSQL would
settle on a generic plan. Units leave in serial order, so every transfer splits the
account's first block: the cost measured is finding that block among many.

Prints the median of each and `ratio=<small p50 / large p50>` (1.0: the size of the
account does not matter; it was 0.063 when the account's blocks were sorted whole).

    .venv/bin/python bench/big_account.py [--blocks 50000] [--transfers 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qinglu.db.models  # noqa: E402, F401  (every feature's tables)
from _common import fresh_pg_schema, pg_url  # noqa: E402
from qinglu.core.identifiers import uscc_check_char  # noqa: E402
from qinglu.db.engine import make_engine, make_session_factory  # noqa: E402
from qinglu.db.migrate import upgrade  # noqa: E402
from qinglu.registry import actions as registry  # noqa: E402
from scale import issue_blocks  # noqa: E402  (the scale bench's batch issuance)

ACTOR = "bench"
LINES_PER_ENTRY = 1_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=50_000)
    parser.add_argument("--transfers", type=int, default=200)
    args = parser.parse_args()
    engine = make_engine(fresh_pg_schema(pg_url(), "bench_big_account"))
    upgrade(engine)
    with make_session_factory(engine)() as session:
        first17 = "91520100MA0000001"
        holder = registry.add_holder(session, kind="org", name="bench 县碳汇中心",
                                     id_number=first17 + uscc_check_char(first17),
                                     region="522629", actor=ACTOR)["id"]
        project = registry.add_project(session, name="bench", product="FCS", region="522629",
                                       methodology="bench", actor=ACTOR)["id"]
        small, large, to = (registry.open_account(session, holder_id=holder, actor=ACTOR)["id"]
                            for _ in range(3))
        issue_blocks(session, project, [small], 100, LINES_PER_ENTRY)
        issue_blocks(session, project, [large], args.blocks, LINES_PER_ENTRY)
        session.commit()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        timings: dict[int, list[float]] = {small: [], large: []}
        for _ in range(args.transfers):
            for source in (small, large):
                start = time.perf_counter()
                registry.transfer(session, from_account=source, to_account=to, product="FCS",
                                  quantity=1, actor=ACTOR)
                timings[source].append(time.perf_counter() - start)
    engine.dispose()
    small_p50, large_p50 = (statistics.median(timings[a]) * 1000 for a in (small, large))
    print(f"transfer of one unit, p50: from 100 blocks {small_p50:.2f} ms, "
          f"from {args.blocks:,} blocks {large_p50:.2f} ms ({args.transfers} each)")
    print(f"ratio={small_p50 / large_p50:.3f}")


if __name__ == "__main__":
    main()
