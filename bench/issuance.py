"""Issuance cost on SQLite: serial ranges, not rows per unit.

Times 200 issuances of 1 tCO2e against 200 of 1,000,000 tCO2e in the same run
(ratio = small / large time: about 1 means size does not matter), then 10,000
small issuances in a row (target: 500/s or better). Last line: `ratio=<number>`.

    .venv/bin/python bench/issuance.py [--count 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from qinglu.core.identifiers import uscc_check_char
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.db.migrate import upgrade
from qinglu.registry import actions as registry


def timed_issuances(session, project: int, account: int, quantity: int, count: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(count):
        registry.issue(session, project_id=project, vintage=2024, quantity=quantity,
                    to_account=account, actor="bench")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        with make_session_factory(engine)() as session:
            first17 = "91520100MA0000001"
            holder = registry.add_holder(session, kind="org", name="bench",
                                        id_number=first17 + uscc_check_char(first17),
                                        region="522629", actor="bench")["id"]
            project = registry.add_project(session, name="bench", product="FCS",
                                          region="522629", methodology="bench",
                                          actor="bench")["id"]
            account = registry.open_account(session, holder_id=holder, actor="bench")["id"]
            small = timed_issuances(session, project, account, 100, 200)  # 1 t
            large = timed_issuances(session, project, account, 100_000_000, 200)  # 1,000,000 t
            many = timed_issuances(session, project, account, 100, args.count)
        engine.dispose()
    print(f"200 x 1 t: {small * 5:.2f} ms each; 200 x 1,000,000 t: {large * 5:.2f} ms each")
    print(f"{args.count} small issuances in a row on SQLite: {args.count / many:.0f}/s "
          f"(target 500/s)")
    print(f"ratio={small / large:.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
