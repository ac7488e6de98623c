"""Fixtures: every database test runs on SQLite and on PostgreSQL, each on a clean schema.

PostgreSQL tests use QINGLU_TEST_DATABASE_URL; without it they try the local server
on 127.0.0.1:5432 and are skipped with a visible notice only if none answers (CI sets
QINGLU_REQUIRE_POSTGRES=1, which turns that skip into a failure).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from qinglu.db.engine import make_engine, make_session_factory
from qinglu.db.migrate import upgrade

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]


def postgres_base_url() -> str | None:
    url = os.environ.get("QINGLU_TEST_DATABASE_URL")
    if url:
        return url
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=0.5):
            return DEFAULT_PG_URL
    except OSError:
        return None


def _require_postgres() -> str:
    url = postgres_base_url()
    if url is None:
        if os.environ.get("QINGLU_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (QINGLU_REQUIRE_POSTGRES) but none answers")
        pytest.skip("NOTICE: PostgreSQL tests skipped: set QINGLU_TEST_DATABASE_URL "
                    "or run a server on 127.0.0.1:5432")
    return url


def _with_search_path(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-csearch_path={schema},public')}"


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    url = _require_postgres()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA public"))
    engine.dispose()
    return url


def _fresh_postgres(request: pytest.FixtureRequest) -> Iterator[str]:
    base = request.getfixturevalue("pg_admin_url")
    schema = f"qt_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = _with_search_path(base, schema)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _fresh_sqlite(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'qinglu.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database of the parametrised backend."""
    if backend == "postgresql":
        yield from _fresh_postgres(request)
    else:
        yield from _fresh_sqlite(tmp_path)


@pytest.fixture
def pg_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from _fresh_postgres(request)


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    factory = make_session_factory(engine)
    with factory() as sess:
        yield sess


@pytest.fixture
def session_factory(engine):  # type: ignore[no-untyped-def]
    return make_session_factory(engine)


@pytest.fixture(autouse=True, scope="session")
def isolated_var_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Keys, secrets and generated PDFs go to a temporary var/, never the work tree."""
    path = tmp_path_factory.mktemp("var")
    previous = os.environ.get("QINGLU_VAR_DIR")
    os.environ["QINGLU_VAR_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("QINGLU_VAR_DIR", None)
    else:
        os.environ["QINGLU_VAR_DIR"] = previous


@pytest.fixture(scope="session")
def output_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-output"
    path.mkdir(exist_ok=True)
    return path
