"""Fixtures: every database test runs on SQLite and on PostgreSQL, each on a database of its own.

A test database is a copy of one migrated database made once per session: on SQLite a copy
of a migrated file, on PostgreSQL `CREATE DATABASE qt_<session>_<id> TEMPLATE qinglu_tpl_<hash>`,
where the template is built by `qinglu.db.migrate.upgrade` and named by a hash of the
migrations and the server-side .sql files, so a changed migration or function builds a new
one. No test database shares a schema with the server's base database, so whatever the
`public` schema of QINGLU_TEST_DATABASE_URL holds (a Qinglu database after
`qinglu serve --db ...`, for instance) is never seen.

PostgreSQL tests use QINGLU_TEST_DATABASE_URL; without it they try the local server
on 127.0.0.1:5432 and are skipped with a visible notice only if none answers (CI sets
QINGLU_REQUIRE_POSTGRES=1, which turns that skip into a failure). The role needs
CREATEDB. Several sessions may share one server: each marks itself alive by a
connection named `qinglu-tests <token> <template>`, drops only its own test databases,
and drops another session's leftovers only once no connection of that session remains.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

import qinglu
from qinglu.db import server_functions
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.db.migrate import MIGRATIONS, upgrade

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]

SESSION_APP_NAME = "qinglu-tests"
TEST_DB_PREFIX = "qt_"
TEMPLATE_PREFIX = "qinglu_tpl_"
BUILD_PREFIX = "qinglu_tplbuild_"
# Names this conftest makes; nothing else on the server is ever dropped.
TEST_DB_NAME = re.compile(r"^qt_(?P<token>[0-9a-f]{8})_[0-9a-f]{12}$")
TEMPLATE_NAME = re.compile(r"^qinglu_tpl_[0-9a-f]{16}$")
BUILD_NAME = re.compile(r"^qinglu_tplbuild_(?P<token>[0-9a-f]{8})$")

# SQLSTATEs: a database that does not exist / already exists.
INVALID_CATALOG_NAME = "3D000"
DUPLICATE_DATABASE = "42P04"


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


def schema_files() -> list[Path]:
    """Everything `upgrade()` builds a database from: migrations, itself, server-side SQL."""
    package = Path(qinglu.__file__).parent
    files = [*MIGRATIONS.rglob("*.py"), *MIGRATIONS.rglob("*.mako"),
             package / "db" / "migrate.py", package / "db" / "server_functions.py",
             *package.rglob("*.sql")]
    return sorted(set(files))


def schema_fingerprint() -> str:
    """Names the template: changes with any migration, any .sql file, or any Python
    constant rendered into the SQL (server_functions.fingerprint hashes the rendered text)."""
    package = Path(qinglu.__file__).parent
    digest = hashlib.sha256()
    for path in schema_files():
        digest.update(str(path.relative_to(package)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    digest.update(server_functions.fingerprint().encode())
    return digest.hexdigest()[:16]


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


def _is_leftover(name: str, live_tokens: set[str], live_templates: set[str]) -> bool:
    """A database this conftest made for a session that has ended, or an unused template."""
    owner = TEST_DB_NAME.match(name) or BUILD_NAME.match(name)
    if owner is not None:
        return owner["token"] not in live_tokens
    return TEMPLATE_NAME.match(name) is not None and name not in live_templates


class PostgresDatabases:
    """One test session on a PostgreSQL server: its migrated template and its test databases.

    Databases are made and dropped over `base_url`, whose own schemas are never touched.
    Cloning and dropping cost the server a few hundred milliseconds of I/O each, so one
    background thread does both while tests run: it clones the next test's database
    ahead and drops each finished one.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.token = uuid.uuid4().hex[:8]
        self.template = TEMPLATE_PREFIX + schema_fingerprint()
        self.admin: Engine = create_engine(
            base_url, isolation_level="AUTOCOMMIT", poolclass=NullPool,
            connect_args={"application_name": f"{SESSION_APP_NAME} {self.token} {self.template}"})
        # Held for the whole session: while it is open, other sessions leave this
        # session's databases and its template alone. Only the test thread uses it.
        self.anchor: Connection = self.admin.connect()
        self.force_drop = int(self.anchor.execute(
            text("SHOW server_version_num")).scalar_one()) >= 130000
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qinglu-test-dbs")
        self._worker_conn: Connection | None = None  # the worker thread's own connection
        self._next: Future[str] | None = None
        self._drops: list[Future[None]] = []

    def prepare(self) -> None:
        self._drop_leftovers()
        self._ensure_template()

    def create(self) -> str:
        """A new database cloned from the template; returns its URL."""
        name = self._take_prepared() or self._clone_now()
        self._next = self._worker.submit(lambda: self._clone(self._background()))
        return with_database(self.base_url, name)

    def drop(self, url: str) -> None:
        """Drop a database `create` made, in the background."""
        name = make_url(url).database
        assert name is not None and TEST_DB_NAME.match(name), name
        self._drops.append(self._worker.submit(
            lambda: self._drop_database(self._background(), name)))

    def close(self) -> None:
        """Drop what is left of this session's databases, wait for it, and disconnect."""
        prepared = self._take_prepared()
        if prepared is not None:
            self._drop_database(self.anchor, prepared)
        self._worker.submit(self._close_background)
        self._worker.shutdown(wait=True)
        try:
            for dropped in self._drops:
                dropped.result()  # a failed drop is reported, not lost
        finally:
            self.anchor.close()
            self.admin.dispose()

    def _background(self) -> Connection:
        if self._worker_conn is None:
            self._worker_conn = self.admin.connect()
        return self._worker_conn

    def _close_background(self) -> None:
        if self._worker_conn is not None:
            self._worker_conn.close()

    def _take_prepared(self) -> str | None:
        upcoming, self._next = self._next, None
        if upcoming is None:
            return None
        try:
            return upcoming.result()
        except DBAPIError:
            return None  # the test thread clones again, and says why if it fails too

    def _clone(self, conn: Connection) -> str:
        name = f"{TEST_DB_PREFIX}{self.token}_{uuid.uuid4().hex[:12]}"
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return name

    def _clone_now(self) -> str:
        try:
            return self._clone(self.anchor)
        except DBAPIError as error:
            if _sqlstate(error) != INVALID_CATALOG_NAME:
                raise
            # Another session running other migrations dropped our template between
            # its check and our clone (see _drop_leftovers): build it again.
            self._ensure_template()
            return self._clone(self.anchor)

    def _exists(self, name: str) -> bool:
        found = self.anchor.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                    {"name": name}).first()
        return found is not None

    def _ensure_template(self) -> None:
        """Build the template under a name of our own, then rename it into place.

        The rename is atomic and fails if another session got there first, so parallel
        sessions never collide and a session killed mid-build leaves no half-built
        template behind, only a build database that _drop_leftovers removes later.
        """
        if self._exists(self.template):
            return
        build = f"{BUILD_PREFIX}{self.token}"
        self.anchor.execute(text(f'CREATE DATABASE "{build}"'))
        engine = make_engine(with_database(self.base_url, build))
        try:
            with engine.begin() as conn:
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
            upgrade(engine)
        finally:
            engine.dispose()  # a template must have no connections when cloned
        try:
            self.anchor.execute(text(f'ALTER DATABASE "{build}" RENAME TO "{self.template}"'))
        except DBAPIError as error:
            self._drop_database(self.anchor, build)
            if _sqlstate(error) != DUPLICATE_DATABASE:
                raise
            return
        # Nobody can connect to it now, so nothing can stop a clone.
        self.anchor.execute(text(f'ALTER DATABASE "{self.template}" ALLOW_CONNECTIONS false'))

    def _drop_leftovers(self) -> None:
        """Drop what sessions that have ended left behind (killed runs, old templates)."""
        may_see_all = self.anchor.execute(
            text("SELECT pg_has_role('pg_read_all_stats', 'USAGE')")).scalar_one()
        if not may_see_all:
            return  # other roles' sessions are hidden from us: we cannot tell who is alive
        alive = [str(name) for name in self.anchor.execute(
            text("SELECT application_name FROM pg_stat_activity "
                 "WHERE application_name LIKE :prefix"),
            {"prefix": f"{SESSION_APP_NAME} %"}).scalars()]
        live_tokens = {name.split()[1] for name in alive if len(name.split()) > 1}
        live_templates = {name.split()[2] for name in alive if len(name.split()) > 2}
        live_templates.add(self.template)
        databases = self.anchor.execute(text("SELECT datname FROM pg_database")).scalars()
        for name in list(databases):
            # A failure means in use after all, or gone already: the next session tries again.
            if _is_leftover(name, live_tokens, live_templates):
                with suppress(DBAPIError):
                    self._drop_database(self.anchor, name)

    def _drop_database(self, conn: Connection, name: str) -> None:
        if self.force_drop:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = :name"), {"name": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """The server's base database: test databases are created and dropped through it."""
    return _require_postgres()


@pytest.fixture(scope="session")
def pg_databases(pg_admin_url: str) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(pg_admin_url)
    try:
        databases.prepare()
        yield databases
    finally:
        databases.close()


def _fresh_postgres(request: pytest.FixtureRequest) -> Iterator[str]:
    databases: PostgresDatabases = request.getfixturevalue("pg_databases")
    url = databases.create()
    try:
        yield url
    finally:
        databases.drop(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file per session; test databases are copies of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "qinglu.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    # Fold the write-ahead log into the file, so that copying the file alone is enough.
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    assert not path.with_name(path.name + "-wal").exists()
    return path


def fresh_sqlite_file(template: Path, directory: Path, name: str = "qinglu.db") -> str:
    """Copy the migrated template into directory; returns its URL."""
    path = directory / name
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database of the parametrised backend."""
    if backend == "postgresql":
        yield from _fresh_postgres(request)
    else:
        yield fresh_sqlite_file(request.getfixturevalue("sqlite_template"), tmp_path)


@pytest.fixture
def pg_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    yield from _fresh_postgres(request)


@pytest.fixture
def sqlite_database_url(sqlite_template: Path, tmp_path: Path) -> str:
    return fresh_sqlite_file(sqlite_template, tmp_path)


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


POSTGRES_FIXTURES = {"pg_database_url", "pg_databases", "pg_admin_url"}


def runs_on_postgres(item: pytest.Item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    if params.get("backend") == "postgresql":
        return True
    return bool(POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`-m postgres` / `-m "not postgres"` select the tests that need the server."""
    for item in items:
        if runs_on_postgres(item):
            item.add_marker(pytest.mark.postgres)
