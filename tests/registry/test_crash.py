"""Crash safety (issue 12): a process killed with SIGKILL at any moment loses nothing it
acknowledged and leaves nothing half-written, on SQLite and on PostgreSQL.

- A real `qinglu serve` under an 8-thread transfer load through the HTTP API is killed
  mid-load and restarted: every transfer answered 201 is in the ledger, the ledger
  audits clean, and the restarted server takes transfers again.
- A parcel import, an issuance and `qinglu demo` (subprocesses of the CLI) are killed
  while they write: the ledger audits clean, no row lacks its parent or its ledger
  entry, and running the same command again succeeds.

A write "in progress" is seen from outside: on SQLite the writer holds the database's
write lock (another `BEGIN IMMEDIATE` is refused at once), on PostgreSQL its backend has
a transaction id. Should a command finish before it is caught, the checks still hold.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from shapely.geometry import box, mapping
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from qinglu.accounts import actions as accounts
from qinglu.cli import app
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.forestry.models import Parcel
from qinglu.registry import actions as registry
from tests import factories as f
from tests.live import start_qinglu_serve, stop_qinglu_serve

pytestmark = pytest.mark.slow

THREADS = 8
LOAD_SECONDS = 3.0
ACCOUNTS = 16
PARCELS = 600
PASSWORD = "correct horse"
runner = CliRunner()


def shared_var() -> Path:
    """The tests' var/ (keys, secret): the commands sign checkpoints with the same key as
    the audit here checks them against."""
    return Path(os.environ["QINGLU_VAR_DIR"])


def _seed_accounts(url: str) -> tuple[list[int], str]:
    """Accounts holding 1,000.00 t each, and an operator's token (who moves any account)."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            holder = f.org(session)
            project = f.project(session)
            ids = [f.account(session, holder) for _ in range(ACCOUNTS)]
            for account in ids:
                registry.issue(session, project_id=project, vintage=2023, quantity=100_000,
                               to_account=account, actor=f.ACTOR)
            user = accounts.add_user(session, name="op", role="operator", password=PASSWORD)
            return ids, accounts.issue_token(session, user)
    finally:
        engine.dispose()


def _load(base: str, token: str, ids: list[int], n: int, stop: threading.Event,
          acknowledged: list[str]) -> None:
    """One client: transfers with their own idempotency keys until the server dies."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=30) as client:
        i = 0
        while not stop.is_set():
            i += 1
            key = f"crash-{n}-{i}"
            src, dst = ids[(n + i) % len(ids)], ids[(n + 3 * i + 1) % len(ids)]
            if src == dst:
                continue
            try:
                answer = client.post("/api/v1/transfers", headers={
                    **headers, "Idempotency-Key": key}, json={
                    "from_account": src, "to_account": dst, "product": "FCS",
                    "quantity": "0.01"})
            except httpx.TransportError:
                return  # the server is gone
            if answer.status_code == 201:
                acknowledged.append(key)


def _keys_in_ledger(url: str, keys: list[str]) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT idempotency_key FROM ledger_entries "
                                      "WHERE idempotency_key LIKE 'crash-%'")).scalars()
            return set(found) & set(keys)
    finally:
        engine.dispose()


def _audit(url: str) -> dict[str, Any]:
    """What `qinglu audit verify` checks: the hash chain, every movement replayed against
    the unit blocks, the signed checkpoints; and no row without its parent or entry."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            report = registry.audit_ledger(session)
            logged = registry.audit_checkpoints(session, None)
            orphans = session.scalar(text(
                "SELECT count(*) FROM retirements r LEFT JOIN ledger_entries e "
                "ON e.sequence = r.entry_sequence WHERE e.sequence IS NULL"))
            entries = session.scalar(text("SELECT count(*) FROM ledger_entries"))
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                dangling = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
        else:  # PostgreSQL enforces every foreign key at each commit
            dangling = []
    finally:
        engine.dispose()
    problems = [*report["problems"], *logged["problems"]]
    assert not problems, problems
    assert orphans == 0, f"{orphans} retirements without their ledger entry"
    assert not dangling, f"rows without their parent: {dangling[:5]}"
    return {"entries": entries}


def test_a_server_killed_under_load_keeps_every_acknowledged_transfer(
        database_url: str, tmp_path: Path) -> None:
    ids, token = _seed_accounts(database_url)
    process, base = start_qinglu_serve(database_url, 1, shared_var())
    stop = threading.Event()
    acknowledged: list[str] = []
    threads = [threading.Thread(target=_load, args=(base, token, ids, n, stop, acknowledged))
               for n in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(LOAD_SECONDS)
        stop_qinglu_serve(process, signal.SIGKILL)  # mid-load, requests in flight
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=40)
        stop_qinglu_serve(process, signal.SIGKILL)
    assert len(acknowledged) > 20, "the load never got going"
    assert _keys_in_ledger(database_url, acknowledged) == set(acknowledged)
    _audit(database_url)
    process, base = start_qinglu_serve(database_url, 1, shared_var())
    try:
        again = httpx.post(f"{base}/api/v1/transfers", headers={
            "Authorization": f"Bearer {token}"}, timeout=30, json={
            "from_account": ids[0], "to_account": ids[1], "product": "FCS",
            "quantity": "0.01"})
        assert again.status_code == 201, again.text
    finally:
        stop_qinglu_serve(process)


class WriteProbe:
    """Whether another process's write is under way on the database, asked from outside."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.sqlite = str(parsed.database) if parsed.get_backend_name() == "sqlite" else None
        self.conn = None if self.sqlite else psycopg.connect(
            parsed.set(drivername="postgresql").render_as_string(hide_password=False),
            autocommit=True)

    def writing(self) -> bool:
        if self.sqlite is not None:
            probe = sqlite3.connect(self.sqlite, timeout=0, isolation_level=None)
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                return False
            except sqlite3.OperationalError:  # "database is locked": a writer holds it
                return True
            finally:
                probe.close()
        assert self.conn is not None
        row = self.conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL").fetchone()
        return bool(row and row[0])

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def _run_cli(args: list[str]) -> None:  # pragma: no cover - runs in the forked child
    from qinglu.cli import app

    try:
        app(args, standalone_mode=False)
    finally:
        os._exit(0)


def _kill_while_writing(args: list[str], url: str, *,
                        after_entries: int | None = None) -> bool:
    """Run `qinglu ARGS --db URL` in a child process and SIGKILL it while it writes (or,
    with `after_entries`, once the ledger has grown by that many entries, so that a
    command of many writes dies half-way); True when it was caught before it finished.
    The child is forked from this process, so that it spends no time importing."""
    start = _ledger_size(url) if after_entries is not None else 0
    probe = WriteProbe(url)
    process = multiprocessing.get_context("fork").Process(
        target=_run_cli, args=([*args, "--db", url],))
    process.start()
    deadline = time.monotonic() + 120
    try:
        while process.is_alive() and time.monotonic() < deadline:
            if after_entries is not None:
                caught = _ledger_size(url) - start >= after_entries
            else:
                caught = probe.writing()
            if caught:
                process.kill()  # SIGKILL
                process.join()
                return True
            time.sleep(0.005 if after_entries is None else 0.05)
        return False
    finally:
        probe.close()
        if process.is_alive():
            process.kill()
        process.join()


def _ledger_size(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM ledger_entries")).scalar_one())
    finally:
        engine.dispose()


def _qinglu(args: list[str], url: str) -> Any:
    done = runner.invoke(app, [*args, "--db", url, "--json"])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)


def _parcels_file(path: Path, count: int) -> Path:
    step = 0.002
    features = [{"type": "Feature", "geometry": mapping(box(
        108.60 + (n % 50) * step, 26.40 + (n // 50) * step,
        108.60 + (n % 50 + 1) * step, 26.40 + (n // 50 + 1) * step)),
        "properties": {"林班": "9", "小班": str(n + 1), "树种": "杉木", "每亩蓄积": 8.5}}
        for n in range(count)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                               ensure_ascii=False), encoding="utf-8")
    return path


def test_killed_import_issuance_and_demo_leave_nothing_half_written(
        database_url: str, tmp_path: Path) -> None:
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        project = f.project(session)
        account = f.account(session)
    engine.dispose()  # nothing of this process's pool is handed to the forked children
    # A parcel import is one write: all of its parcels or none.
    parcels_file = _parcels_file(tmp_path / "parcels.geojson", PARCELS)
    importing = ["parcel", "import", str(parcels_file), "--project", str(project)]
    _kill_while_writing(importing, database_url)
    stored = _count(database_url, select(func.count()).select_from(Parcel))
    assert stored in (0, PARCELS), f"{stored} parcels of {PARCELS}: half an import"
    _audit(database_url)
    if stored == 0:
        assert len(_qinglu(importing, database_url)["imported"]) == PARCELS
    # An issuance: issued whole, once, however often it is retried with its key.
    issue = ["registry", "issue", "--project", str(project), "--vintage", "2024",
             "--quantity", "1234.56", "--to", str(account), "--idempotency-key", "crash-issue"]
    _kill_while_writing(issue, database_url)
    _audit(database_url)
    _qinglu(issue, database_url)
    assert _count(database_url, text(
        f"SELECT count(*) FROM issuances WHERE project_id = {project}")) == 1
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        assert registry.balance(session, account)["FCS"]["held"] == "1234.56"
    engine.dispose()
    # The demo, many writes: killed half-way, each of them whole; a second run completes.
    assert _kill_while_writing(["demo"], database_url, after_entries=8)
    _audit(database_url)
    made = _qinglu(["demo"], database_url)
    assert made["cases"]["majiang"]["certificate_number"]
    _audit(database_url)


def _count(url: str, query: Any) -> int:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return int(session.scalar(query) or 0)
    finally:
        engine.dispose()
