"""One month's green-certificate issuance for 100,000 power projects on PostgreSQL.

Files 100,000 wind and solar projects (set up with bulk inserts, not timed), writes one
generation file (filing_code, month, kWh per project), then times in the same run:

- the import as the registry runs it (`green.actions.import_generation`): the file read
  and checked whole under the batch lock (the product's row), the rows staged with COPY,
  certificates, carries and serial ranges computed in SQL (running sums), issuances,
  blocks and month rows written with one INSERT ... SELECT each, the carries with one
  UPDATE, one ledger entry with every move and the Merkle root of the project lines;
- a bare `COPY` of the same generation rows into a plain table (the floor the ratio is
  taken against: moving the bytes into PostgreSQL and nothing else);
- for scale, in a transaction rolled back: the batch's own month rows, issuance rows
  and block rows COPYed straight into `green_generation`, `issuances` and `unit_blocks`
  (their keys, indexes, foreign keys and the GiST no-overlap constraint), and the blocks
  again without that constraint, i.e. the writes no batch of this schema can avoid, and
  the constraint's share. The month rows stay in any ledger model (each project's months
  issued and remainder carried are its own), so COPY time / their time is the most any
  batch keeping them could reach.

Prints projects/s for both and `ratio=` (COPY time / import time; target 0.2 or more).
Run it alone (`flock /tmp/bench.lock .venv/bin/python bench/gec.py`).
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import text

from qinglu.core.identifiers import uscc_check_char
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.db.migrate import upgrade
from qinglu.green import actions as green
from qinglu.registry import actions as registry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fresh_pg_schema, pg_url  # noqa: E402

MONTH = "2024-03"


def setup(session, projects: int) -> list[str]:  # type: ignore[no-untyped-def]
    first17 = "91520100MA0000001"
    holder = registry.add_holder(session, kind="org", name="bench 发电集团",
                                 id_number=first17 + uscc_check_char(first17),
                                 region="520000", actor="bench")["id"]
    account = registry.open_account(session, holder_id=holder, actor="bench")["id"]
    codes = [f"W52{n:014d}" for n in range(projects)]
    now = datetime.now(UTC)
    conn = session.connection()
    first = conn.execute(text("SELECT coalesce(max(id), 0) + 1 FROM projects")).scalar_one()
    conn.execute(text(
        "INSERT INTO projects (id, name, product, region, methodology, status, "
        "owner_holder_id, created_at) SELECT :first + g, 'bench ' || g, 'GEC', '520000', "
        "'NEA-GEC-2024-67', 'registered', :holder, :now FROM generate_series(0, :n - 1) g"),
        {"first": first, "holder": holder, "now": now, "n": projects})
    conn.execute(text("SELECT setval('projects_id_seq', :last)"), {"last": first + projects})
    conn.execute(text(
        "INSERT INTO green_power_projects (filing_code, project_id, account_id, technology, "
        "commissioned, self_consumed, carried_kwh, created_at) "
        "SELECT 'W52' || lpad(g::text, 14, '0'), :first + g, :account, "
        "CASE WHEN g % 2 = 0 THEN 'wind' ELSE 'solar' END, DATE '2020-01-01', false, "
        "0, :now FROM generate_series(0, :n - 1) g"),
        {"first": first, "account": account, "now": now, "n": projects})
    session.commit()
    return codes


def generation_file(codes: list[str], seed: int = 2026) -> bytes:
    rng = random.Random(seed)
    lines = ["filing_code,month,kwh"]
    lines += [f"{code},{MONTH},{rng.randint(0, 20_000_000)}" for code in codes]
    return ("\n".join(lines) + "\n").encode()


def bare_copy(session, content: bytes) -> float:  # type: ignore[no-untyped-def]
    conn = session.connection()
    conn.execute(text("CREATE TABLE bench_generation_copy (filing_code text, month text, "
                      "kwh bigint)"))
    session.commit()
    raw = session.connection().connection.driver_connection
    start = time.perf_counter()
    with raw.cursor() as cursor, cursor.copy(
            "COPY bench_generation_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
        copy.write(io.BytesIO(content).getvalue())
    raw.commit()
    return time.perf_counter() - start


def unavoidable_writes(session) -> tuple[float, float, float, float]:  # type: ignore[no-untyped-def]
    """Seconds to COPY the batch's month rows (months shifted a century on), its issuance
    rows, then its block rows, into the real tables (ids and serials shifted past the
    batch's), and the blocks again without the no-overlap constraint; all rolled back.
    The month rows are what any batch keeps whatever its ledger model: the months
    already issued and the remainder carried are each project's own."""
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        top_id, top_serial = cursor.execute(
            "SELECT max(id), max(serial_end) FROM issuances").fetchone()
        issuances, blocks, months = bytearray(), bytearray(), bytearray()
        with cursor.copy(
                f"COPY (SELECT id + {top_id}, project_id, product, vintage, quantity, "
                f"serial_start + {top_serial}, serial_end + {top_serial}, tradable, "
                "valid_to, created_at FROM issuances) TO STDOUT") as copy:
            for data in copy:
                issuances += data
        with cursor.copy(
                f"COPY (SELECT issuance_id + {top_id}, account_id, serial_start + "
                f"{top_serial}, serial_end + {top_serial}, state FROM unit_blocks) "
                "TO STDOUT") as copy:
            for data in copy:
                blocks += data
        with cursor.copy(
                "COPY (SELECT power_project_id, (month + interval '100 years')::date, kwh, "
                "carried_in, certificates, carried_out, created_at FROM green_generation) "
                "TO STDOUT") as copy:
            for data in copy:
                months += data

        def timed(statement: str, data: bytearray) -> float:
            start = time.perf_counter()
            with cursor.copy(statement) as copy:
                copy.write(data)
            return time.perf_counter() - start

        month_s = timed("COPY green_generation (power_project_id, month, kwh, carried_in, "
                        "certificates, carried_out, created_at) FROM STDIN", months)
        issuance_s = timed("COPY issuances (id, project_id, product, vintage, quantity, "
                           "serial_start, serial_end, tradable, valid_to, created_at) "
                           "FROM STDIN", issuances)
        block_columns = "(issuance_id, account_id, serial_start, serial_end, state)"
        cursor.execute("SAVEPOINT blocks")
        block_s = timed(f"COPY unit_blocks {block_columns} FROM STDIN", blocks)
        cursor.execute("ROLLBACK TO SAVEPOINT blocks")
        cursor.execute("ALTER TABLE unit_blocks DROP CONSTRAINT ex_unit_blocks_no_overlap")
        unchecked_s = timed(f"COPY unit_blocks {block_columns} FROM STDIN", blocks)
    raw.rollback()
    return month_s, issuance_s, block_s, unchecked_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=100_000)
    parser.add_argument("--audit", action="store_true",
                        help="also run the full ledger audit afterwards (slow at this size)")
    args = parser.parse_args()
    url = fresh_pg_schema(pg_url(), "bench_gec")
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as session:
        codes = setup(session, args.projects)
    content = generation_file(codes)
    with factory() as session:
        copy_s = bare_copy(session, content)
    with factory() as session:
        start = time.perf_counter()
        result = green.import_generation(session, "bench", filename="generation.csv",
                                         content=content)
        import_s = time.perf_counter() - start
        audit = registry.audit_ledger(session) if args.audit else None
        entry = session.execute(text(
            "SELECT length(body) FROM ledger_entries ORDER BY sequence DESC LIMIT 1")).scalar_one()
    with factory() as session:
        month_s, issuance_s, block_s, unchecked_s = unavoidable_writes(session)
    engine.dispose()
    n = args.projects
    print(f"{n} projects, one month ({MONTH}), {result['certificates']} certificates, "
          f"one ledger entry of {entry / 1e6:.1f} MB, Merkle root {result['merkle_root'][:16]}…, "
          f"audit {'skipped' if audit is None else 'valid' if audit['valid'] else 'INVALID'} "
          f"({date.today()})")
    print(f"bare COPY of the generation rows: {copy_s:.2f} s = {n / copy_s:,.0f} rows/s")
    print(f"issuance batch (file checked, rows staged, issuances, blocks, months, carries, "
          f"ledger entry): {import_s:.2f} s = {n / import_s:,.0f} projects/s")
    print(f"for scale, the batch's rows COPYed straight into the registry's tables "
          f"(rolled back): issuances {issuance_s:.2f} s, unit_blocks {block_s:.2f} s "
          f"({unchecked_s:.2f} s without the GiST no-overlap constraint); together "
          f"{(issuance_s + block_s) / import_s:.0%} of the batch")
    print(f"the month rows alone (one a project, COPYed into green_generation, rolled back): "
          f"{month_s:.2f} s, so a batch writing nothing else would reach "
          f"ratio {copy_s / month_s:.3f} at most")
    print(f"ratio={copy_s / import_s:.3f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
