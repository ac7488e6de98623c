"""Test databases stand alone: a Qinglu database in the server's `public` schema is never seen.

The fixtures once put `public` on every test's search path, so after
`qinglu serve --db <the test URL>` Alembic found `public.alembic_version` at head,
created no tables of the test's own, and tests read and wrote the served database.
Here a session of the real fixtures runs in a subprocess against a base database whose
`public` holds a migrated Qinglu database with an issuance in it.

A used PostgreSQL test database is put back to a fresh clone's state for the next test
(DROP DATABASE forces a checkpoint); the last tests check that what comes back is a
fresh clone in every row, sequence and catalog entry.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text

from qinglu.db.engine import make_engine, make_session_factory
from qinglu.registry.models import Issuance
from tests import factories as f
from tests.conftest import CATALOG_FINGERPRINT, PUBLIC_TABLES, PostgresDatabases

REPO = Path(__file__).resolve().parent.parent

INNER_CONFTEST = '''
from tests.conftest import *  # noqa: F403  the fixtures under test


def pytest_configure(config):
    config.addinivalue_line("markers", "postgres: runs on PostgreSQL")
'''

# A normal fixture-based flow: it must start from a fresh ledger of its own (only what the
# migrations put there: the registry's own holder and account) and find what it wrote.
INNER_TEST = '''
from sqlalchemy import func, select, text

from qinglu.registry.models import Issuance
from tests import factories as f


def test_own_fresh_ledger(session, pg_admin_url):
    assert session.scalar(text("SELECT sequence FROM ledger_head")) == 0
    assert session.scalar(select(func.count()).select_from(Issuance)) == 0
    f.issued_account(session, quantity=7)
    session.commit()
    assert session.scalars(select(Issuance.quantity)).all() == [7]
    base = pg_admin_url.rsplit("/", 1)[1]
    assert session.scalar(text("SELECT current_database()")) != base
'''


def _issued(url: str) -> list[int]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            return list(session.scalars(select(Issuance.quantity)).all())
    finally:
        engine.dispose()


def _seed_public(url: str) -> None:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            f.issued_account(session, quantity=1000)
            session.commit()
    finally:
        engine.dispose()


@pytest.mark.slow
def test_fixtures_ignore_a_qinglu_database_in_public(pg_databases: PostgresDatabases,
                                                     tmp_path: Path) -> None:
    # A scratch base database whose public schema is a migrated, non-empty Qinglu database.
    base = pg_databases.create()
    try:
        _seed_public(base)
        (tmp_path / "conftest.py").write_text(INNER_CONFTEST, encoding="utf-8")
        (tmp_path / "test_inner.py").write_text(INNER_TEST, encoding="utf-8")
        env = {**os.environ, "QINGLU_TEST_DATABASE_URL": base, "QINGLU_REQUIRE_POSTGRES": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                            os.environ.get("PYTHONPATH")]))}
        inner = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "postgresql",
             "--rootdir", str(tmp_path), str(tmp_path)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert inner.returncode == 0, inner.stdout + inner.stderr
        assert "1 passed" in inner.stdout, inner.stdout
        # And the database in public was left as it was.
        assert _issued(base) == [1000]
    finally:
        pg_databases.release(base)


def _state(url: str) -> dict[str, object]:
    """Every row of every table, every sequence, and the catalog's hash."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            state: dict[str, object] = {
                table: conn.execute(text(f"SELECT json_agg(r ORDER BY r::text)::text "
                                         f"FROM {table} r")).scalar()
                for table in conn.execute(text(PUBLIC_TABLES)).scalars()}
            state["sequences"] = conn.execute(text(
                "SELECT json_agg(s ORDER BY sequencename)::text FROM pg_sequences s")).scalar()
            state["catalog"] = conn.execute(text(CATALOG_FINGERPRINT)).scalar()
    finally:
        engine.dispose()
    return state


def _use(url: str) -> None:
    """What tests do: write through the registry, leave a session idle in a transaction."""
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        f.issued_account(session, quantity=250)
        session.commit()
    idle = engine.connect()
    idle.execute(select(Issuance.id)).all()  # holds a lock until the reset ends it


def test_a_used_database_comes_back_as_a_fresh_clone(pg_databases: PostgresDatabases) -> None:
    fresh = pg_databases.create()
    used = pg_databases.create()
    try:
        _use(used)
        assert _state(used) != _state(fresh)
        back = pg_databases.recycle_now(used)
        assert back == used
        assert _state(back) == _state(fresh)
    finally:
        pg_databases.release(fresh)
        pg_databases.release(used)


def test_a_database_whose_schema_changed_is_replaced(pg_databases: PostgresDatabases) -> None:
    fresh = pg_databases.create()
    changed = pg_databases.create()
    back = changed
    try:
        engine = make_engine(changed)
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE holders ADD COLUMN nickname text"))
        engine.dispose()
        back = pg_databases.recycle_now(changed)
        assert back != changed
        assert _state(back) == _state(fresh)
    finally:
        pg_databases.release(fresh)
        pg_databases.release(back)
