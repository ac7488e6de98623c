"""Fixtures: every database test runs on SQLite and on PostgreSQL, each on a database of its own.

A test database is a copy of one migrated database: on SQLite a copy of a file migrated once
per session; on PostgreSQL `CREATE DATABASE qt_<session>_<id> TEMPLATE qinglu_tpl_<hash>`,
where the template is built by `qinglu.db.migrate.upgrade` and named by a hash of the
migrations and the server-side SQL, so a changed migration or function builds a new one.
A session puts a used PostgreSQL database back to the clone's state for its next test
rather than dropping it (see PostgresDatabases). No test database shares a schema with the
server's base database, so whatever the `public` schema of QINGLU_TEST_DATABASE_URL holds
(a Qinglu database after `qinglu serve --db ...`, for instance) is never seen.

PostgreSQL tests use QINGLU_TEST_DATABASE_URL; without it they try the local server
on 127.0.0.1:5432 and are skipped with a visible notice only if none answers (CI sets
QINGLU_REQUIRE_POSTGRES=1, which turns that skip into a failure). The role needs
CREATEDB. Several sessions may share one server: each marks itself alive by a
connection named `qinglu-tests <token> <template>`, drops only its own test databases,
and drops another session's leftovers only once no connection of that session remains.
Behind a PgBouncer in transaction mode, which keeps no session for that marking
connection, QINGLU_TEST_ADMIN_DATABASE_URL names the server directly: databases are
made, put back and dropped over it, and tests reach them over QINGLU_TEST_DATABASE_URL.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import sqlite3
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

import qinglu

# Every feature's tables, as the app and Alembic's env load them. Before templates, every
# test ran the migrations, which imported them; some mappers need them all (a certificate's
# order_id names the market's orders table, which documents does not import).
import qinglu.db.models  # noqa: F401
from qinglu.db import server_functions
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.db.migrate import MIGRATIONS, upgrade

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ADMIN_URL_ENV = "QINGLU_TEST_ADMIN_DATABASE_URL"
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


# Everything a test could change in a database's schema, as one hash. A used database whose
# hash still equals a fresh clone's only needs its rows and sequences put back.
CATALOG_FINGERPRINT = """
SELECT md5(string_agg(item, ',' ORDER BY item)) FROM (
    SELECT concat_ws(':', 'class', oid, relname, relnamespace, relkind, relnatts, relchecks,
                     relhastriggers, relrowsecurity, relpersistence) AS item
      FROM pg_class WHERE oid >= 16384
    UNION ALL SELECT concat_ws(':', 'column', attrelid, attnum, attname, atttypid, atttypmod,
                               attnotnull, atthasdef, attisdropped, attgenerated, attidentity)
      FROM pg_attribute WHERE attrelid >= 16384
    UNION ALL SELECT concat_ws(':', 'default', oid, md5(pg_get_expr(adbin, adrelid)))
      FROM pg_attrdef WHERE oid >= 16384
    UNION ALL SELECT concat_ws(':', 'constraint', oid, conname, convalidated, condeferrable)
      FROM pg_constraint WHERE oid >= 16384
    UNION ALL SELECT concat_ws(':', 'index', indexrelid, indisvalid)
      FROM pg_index WHERE indexrelid >= 16384
    UNION ALL SELECT concat_ws(':', 'trigger', oid, tgname, tgenabled)
      FROM pg_trigger WHERE oid >= 16384
    UNION ALL SELECT concat_ws(':', 'function', oid, proname, md5(prosrc), proconfig::text)
      FROM pg_proc WHERE oid >= 16384
    UNION ALL SELECT concat_ws(':', 'sequence', seqrelid, seqstart, seqincrement, seqmax,
                               seqmin, seqcycle)
      FROM pg_sequence WHERE seqrelid >= 16384
    UNION ALL SELECT concat_ws(':', 'schema', oid, nspname) FROM pg_namespace WHERE oid >= 16384
    UNION ALL SELECT concat_ws(':', 'type', oid, typname) FROM pg_type WHERE oid >= 16384
    UNION ALL SELECT concat_ws(':', 'rule', oid, rulename) FROM pg_rewrite WHERE oid >= 16384
    UNION ALL SELECT concat_ws(':', 'extension', oid, extname, extversion) FROM pg_extension
    UNION ALL SELECT concat_ws(':', 'event trigger', oid, evtname) FROM pg_event_trigger
    UNION ALL SELECT concat_ws(':', 'policy', oid, polname) FROM pg_policy
    UNION ALL SELECT concat_ws(':', 'large object', oid) FROM pg_largeobject_metadata
    UNION ALL SELECT concat_ws(':', 'setting', setrole, setconfig::text) FROM pg_db_role_setting
      WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
) AS catalog
"""
# An extension's own tables (PostGIS's spatial_ref_sys, 8,500 rows) are not the tests' to
# reset: they are left as the clone made them.
PUBLIC_TABLES = """
SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                   AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY 1
"""
FOREIGN_KEYS = """
SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint
 WHERE contype = 'f' AND conrelid <> confrelid
"""
INSERTABLE_COLUMNS = """
SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
 WHERE attrelid = CAST(:table AS regclass) AND attnum > 0 AND NOT attisdropped
   AND attgenerated = ''
"""
SEQUENCES = """
SELECT quote_literal(quote_ident(schemaname) || '.' || quote_ident(sequencename)),
       coalesce(last_value, start_value), last_value IS NOT NULL
  FROM pg_sequences
"""


def _parents_first(tables: list[str], foreign_keys: list[tuple[str, str]]) -> list[str]:
    parents: dict[str, set[str]] = {table: set() for table in tables}
    for child, parent in foreign_keys:
        if child in parents and parent in parents:
            parents[child].add(parent)
    ordered: list[str] = []

    def visit(table: str, path: tuple[str, ...]) -> None:
        if table in ordered or table in path:  # a cycle: the reset fails and clones instead
            return
        for parent in sorted(parents[table]):
            visit(parent, (*path, table))
        ordered.append(table)

    for table in tables:
        visit(table, ())
    return ordered


@dataclass(frozen=True)
class Pristine:
    """A fresh clone's state, to put a used database back to it: its catalog's hash, a
    script deleting every row (children first), its rows (parents first) and sequences."""

    catalog: str
    delete_rows: str
    rows: tuple[tuple[str, str], ...]  # (INSERT ... FROM json_populate_recordset, JSON rows)
    sequences: str

    @classmethod
    def capture(cls, conn: Connection) -> Pristine:
        tables = list(conn.execute(text(PUBLIC_TABLES)).scalars())
        foreign_keys = [(str(child), str(parent))
                        for child, parent in conn.execute(text(FOREIGN_KEYS))]
        ordered = _parents_first(tables, foreign_keys)
        rows = []
        for table in ordered:
            data = conn.execute(text(f"SELECT json_agg(r)::text FROM {table} r")).scalar()
            if data is None:
                continue
            columns = conn.execute(text(INSERTABLE_COLUMNS), {"table": table}).scalar_one()
            rows.append((f"INSERT INTO {table} ({columns}) OVERRIDING SYSTEM VALUE "
                         f"SELECT {columns} FROM json_populate_recordset(NULL::{table}, "
                         "CAST(:rows AS json))", str(data)))
        setvals = [f"setval({name}, {value}, {'true' if called else 'false'})"
                   for name, value, called in conn.execute(text(SEQUENCES))]
        return cls(catalog=conn.execute(text(CATALOG_FINGERPRINT)).scalar_one(),
                   delete_rows="; ".join(f"DELETE FROM {table}" for table in reversed(ordered)),
                   rows=tuple(rows),
                   sequences=f"SELECT {', '.join(setvals)}" if setvals else "SELECT 1")

    def restore(self, conn: Connection) -> None:
        """Put the rows and sequences back; refuses (raises) if the schema was changed.

        DELETE, not TRUNCATE: on a few rows it writes no new files, so it costs
        milliseconds where TRUNCATE or DROP DATABASE (which forces a checkpoint) cost
        the whole server seconds under load.
        """
        with conn.begin():
            if conn.execute(text(CATALOG_FINGERPRINT)).scalar_one() != self.catalog:
                raise SchemaChanged
            # The rows go back as they were, so no trigger may add to them (the public
            # totals count units as blocks and issuances are written: deleting and
            # re-inserting the blocks would count them again).
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.exec_driver_sql(self.delete_rows)
            for statement, data in self.rows:
                conn.execute(text(statement), {"rows": data})
            conn.execute(text(self.sequences))


class SchemaChanged(Exception):
    """The test changed the database's schema: it is dropped rather than reused."""


class PostgresDatabases:
    """One test session on a PostgreSQL server: its migrated template and its test databases.

    Databases are made and dropped over `base_url`, whose own schemas are never touched.
    A test's database is a clone of the template, or a clone an earlier test of this
    session used and that was put back to the clone's state (same schema, same rows,
    same sequences; one whose schema a test changed is dropped instead). Recycling
    matters on a shared server: DROP DATABASE forces a checkpoint. One background
    thread puts databases back and clones new ones while the tests run.
    """

    def __init__(self, base_url: str, client_url: str | None = None) -> None:
        self.base_url = base_url
        self.client_url = client_url or base_url  # how tests reach the databases
        self.token = uuid.uuid4().hex[:8]
        self.template = TEMPLATE_PREFIX + schema_fingerprint()
        self.application_name = f"{SESSION_APP_NAME} {self.token} {self.template}"
        self.admin: Engine = self._engine(base_url)
        # Held for the whole session: while it is open, other sessions leave this
        # session's databases and its template alone. Only the test thread uses it.
        self.anchor: Connection = self.admin.connect()
        self.server_version = int(self.anchor.execute(
            text("SHOW server_version_num")).scalar_one())
        self.pristine: Pristine | None = None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qinglu-test-dbs")
        self._worker_conn: Connection | None = None  # the worker thread's own connection
        self._ready: deque[Future[str]] = deque()  # clean databases, or on their way

    def prepare(self) -> None:
        self._drop_leftovers()
        self._ensure_template()
        first = self._clone_now()
        engine = self._engine(with_database(self.base_url, first))
        try:
            with engine.connect() as conn:
                self.pristine = Pristine.capture(conn)
        finally:
            engine.dispose()
        ready: Future[str] = Future()
        ready.set_result(first)
        self._ready.append(ready)

    def create(self) -> str:
        """A clean database for one test; returns its URL. Give it back with `release`."""
        if not self._ready:
            self._ready.append(self._worker.submit(self._clone_in_background))
        name = self._take(self._ready.popleft())
        if not self._ready:  # the next test's, made while this one runs
            self._ready.append(self._worker.submit(self._clone_in_background))
        return with_database(self.client_url, name)

    def release(self, url: str) -> None:
        """Take back a database `create` gave: it is put back to the clone's state (or
        dropped and replaced) in the background."""
        self._ready.append(self._worker.submit(self._recycle, self._own(url)))

    def recycle_now(self, url: str) -> str:
        """Put a database back at once, as `release` does in the background; returns the
        URL of the clean database: the same one, or the clone that replaced it."""
        name = self._worker.submit(self._recycle, self._own(url)).result()
        return with_database(self.client_url, name)

    def _own(self, url: str) -> str:
        name = make_url(url).database
        assert name is not None and TEST_DB_NAME.match(name), name
        return name

    def close(self) -> None:
        """Drop this session's databases, wait for it, and disconnect."""
        try:
            while self._ready:
                name = self._take(self._ready.popleft(), replace=False)
                if name is not None:
                    self._drop_database(self.anchor, name)
        finally:
            self._worker.submit(self._close_background)
            self._worker.shutdown(wait=True)
            self.anchor.close()
            self.admin.dispose()

    def _engine(self, url: str, autocommit: bool = True) -> Engine:
        # CREATE and DROP DATABASE run outside a transaction; a restore runs in one.
        return create_engine(url, isolation_level="AUTOCOMMIT" if autocommit else "READ COMMITTED",
                             poolclass=NullPool,
                             connect_args={"application_name": self.application_name})

    def _background(self) -> Connection:
        if self._worker_conn is None:
            self._worker_conn = self.admin.connect()
        return self._worker_conn

    def _close_background(self) -> None:
        if self._worker_conn is not None:
            self._worker_conn.close()

    @overload
    def _take(self, ready: Future[str]) -> str: ...

    @overload
    def _take(self, ready: Future[str], replace: bool) -> str | None: ...

    def _take(self, ready: Future[str], replace: bool = True) -> str | None:
        try:
            return ready.result()
        except Exception:
            if not replace:
                return None
            # The test thread clones again, and says why if that fails too.
            return self._clone_now()

    def _clone(self, conn: Connection) -> str:
        name = f"{TEST_DB_PREFIX}{self.token}_{uuid.uuid4().hex[:12]}"
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return name

    def _clone_in_background(self) -> str:
        return self._clone(self._background())

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

    def _recycle(self, name: str) -> str:
        """Put a used database back to the clone's state; drop and replace it if that
        cannot be done."""
        conn = self._background()
        self._disconnect_others(conn, name)
        assert self.pristine is not None
        engine = self._engine(with_database(self.base_url, name), autocommit=False)
        try:
            with engine.connect() as db:
                self.pristine.restore(db)
            return name
        except (DBAPIError, SchemaChanged):
            engine.dispose()
            self._drop_database(conn, name)
            return self._clone(conn)
        finally:
            engine.dispose()

    def _disconnect_others(self, conn: Connection, name: str) -> None:
        """End what a test left connected: an idle transaction would keep its locks."""
        wait = ", 10000" if self.server_version >= 140000 else ""  # ms, then gone for sure
        conn.execute(text(f"SELECT pg_terminate_backend(pid{wait}) FROM pg_stat_activity "
                          "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})

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
        if self.server_version >= 130000:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        self._disconnect_others(conn, name)
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """The server's base database: test databases are created and dropped through it."""
    return os.environ.get(ADMIN_URL_ENV) or _require_postgres()


@pytest.fixture(scope="session")
def pg_databases(pg_admin_url: str) -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases(pg_admin_url, client_url=_require_postgres())
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
        databases.release(url)


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
