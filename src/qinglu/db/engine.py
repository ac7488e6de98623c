"""Engines and sessions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_VAR_DIR = Path("var")
WRITE_OPTION = "qinglu_write"
# Execution option of an engine whose writes all take the Python path, even on PostgreSQL.
SERVER_FUNCTIONS_OPTION = "qinglu_server_functions"


DEFAULT_REQUEST_THREADS = 4


def request_threads() -> int:
    """Threads per worker process running the (synchronous) endpoints: QINGLU_THREADS,
    default 4. Python runs one thread at a time, so more threads than that only add
    switching: with 40 (anyio's default) a 50-client load had a p99 three times longer.
    Scale with `--workers` instead; raise this when the database is far away."""
    return max(1, int(os.environ.get("QINGLU_THREADS", DEFAULT_REQUEST_THREADS)))


def pool_settings() -> dict[str, int]:
    """The connection pool of one process, sized from its request threads.

    A request holds a connection only while one of those threads runs its database work
    (`web.deps.get_session`), so one connection per thread is enough; two more serve
    the market's expiry sweep (its own thread) and an async page's form, and a short
    overflow absorbs the CLI or a test sharing the engine. A thread never waits long
    for a connection, so the wait is capped at 10 s instead of 30: a wait that long is
    a fault to report (500), not a queue. On PostgreSQL mind `max_connections`
    (default 100): workers × (threads + 2 + threads) must stay under it."""
    threads = request_threads()
    return {"pool_size": threads + 2, "max_overflow": threads, "pool_timeout": 10}


def var_dir() -> Path:
    """Folder for the embedded database, keys and generated documents."""
    return Path(os.environ.get("QINGLU_VAR_DIR", str(DEFAULT_VAR_DIR)))


def default_database_url() -> str:
    url = os.environ.get("QINGLU_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{var_dir() / 'qinglu.db'}"


def make_engine(url: str | None = None, *, server_functions: bool = True,
                **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets serialised write transactions.

    pysqlite ignores SELECT ... FOR UPDATE and starts transactions lazily, so two
    threads can both read the same block as available and both "win". Taking the
    write lock at BEGIN (BEGIN IMMEDIATE) makes one writer wait for the other.

    On PostgreSQL some writes run in server-side functions (registry/sql, market/sql);
    `server_functions=False` sends them down the Python path instead, as on SQLite (the
    parity suite runs both paths on PostgreSQL and compares them).
    """
    url = url or default_database_url()
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_pre_ping", True)
    connect_args = kwargs.setdefault("connect_args", {})
    for name, value in driver_connect_args().items():
        connect_args.setdefault(name, value)
    for name, value in pool_settings().items():
        kwargs.setdefault(name, value)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _in_utc)
    if not server_functions:
        engine = engine.execution_options(**{SERVER_FUNCTIONS_OPTION: False})
    return engine


PGBOUNCER_ENV = "QINGLU_PGBOUNCER"
READ_CONNECT_TIMEOUT = 2  # seconds: a standby that is down is given up on quickly


def behind_pgbouncer() -> bool:
    """QINGLU_PGBOUNCER=1: the database URL names a PgBouncer in transaction mode.

    psycopg prepares a statement on the server after 5 executions and reuses it by name
    on the same connection; in transaction mode the next transaction may run on another
    server connection, where that name is unknown (PgBouncer before 1.21 does not track
    prepared statements; Debian 12 ships 1.18). So statements are never prepared. The
    rest works as is: the server-side functions are plain calls, their lock is
    transaction-scoped (pg_advisory_xact_lock), and the session's TimeZone, set once per
    connection, is one of the parameters PgBouncer tracks and sets again on whichever
    server connection serves the client."""
    return os.environ.get(PGBOUNCER_ENV, "").lower() in ("1", "true", "yes", "on")


def driver_connect_args(*, standby: bool = False) -> dict[str, Any]:
    """psycopg's connection arguments beyond the URL, for every pool of this process:
    no prepared statements behind PgBouncer (`behind_pgbouncer`), and a standby's
    connection attempt given up after READ_CONNECT_TIMEOUT (`make_read_engine`)."""
    args: dict[str, Any] = {}
    if behind_pgbouncer():
        args["prepare_threshold"] = None
    if standby:
        args["connect_timeout"] = READ_CONNECT_TIMEOUT
    return args


def make_read_engine(url: str | None = None, **kwargs: Any) -> Engine | None:
    """The hot standby's engine for public reads (`QINGLU_READ_DATABASE_URL`), or None
    when there is none (every read then goes to the primary). Sized like the primary's
    pool; a connection attempt gives up after 2 s so that a standby that went down sends
    reads back to the primary quickly (`qinglu.db.replica.ReadRouter`)."""
    from qinglu.db.replica import read_database_url

    url = url or read_database_url()
    if not url:
        return None
    connect_args = kwargs.setdefault("connect_args", {})
    for name, value in driver_connect_args(standby=True).items():
        connect_args.setdefault(name, value)
    return make_engine(url, **kwargs)


def _in_utc(dbapi_connection: Any, _record: Any) -> None:
    """Every session in UTC, whatever the server's TimeZone (often Asia/Shanghai here).

    Timestamps read back then carry +00:00, as SQLite's (naive UTC) do, so what an entry
    records (an order's expiry, say) does not depend on the server's setting, and the
    Python path writes the same text as the server path's functions, which write UTC."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute(IN_UTC)
    dbapi_connection.commit()


IN_UTC = "SET TIME ZONE 'UTC'"


SQLITE_SYNCHRONOUS = os.environ.get("QINGLU_SQLITE_SYNCHRONOUS", "FULL").upper()
if SQLITE_SYNCHRONOUS not in ("FULL", "NORMAL", "EXTRA"):
    SQLITE_SYNCHRONOUS = "FULL"


def _private_file(path: Path) -> None:
    """The database holds ID numbers and password hashes: its folder is made 0700 and
    the file 0600 (before SQLite creates it with the umask's 0644); SQLite's -wal and
    -shm files take the database file's mode."""
    path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:":
        _private_file(Path(path))
    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("timeout", 60)
    connect_args.setdefault("check_same_thread", False)
    if path and path != ":memory:" and "poolclass" not in kwargs:
        for name, value in pool_settings().items():
            kwargs.setdefault(name, value)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before it is acknowledged, power loss included
        # (NORMAL in WAL mode may lose the last commits). Its cost: docs/operations.md.
        cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writes take the write lock at BEGIN; reads stay deferred so that an idle
        # reader never blocks a writer.
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def on_postgres(session: Session) -> bool:
    """Whether the session's writes take the server path: its database is PostgreSQL
    and its engine was not made with `server_functions=False`."""
    bind = session.get_bind()
    return is_postgresql(session) and bool(
        bind.get_execution_options().get(SERVER_FUNCTIONS_OPTION, True))


def is_postgresql(session: Session) -> bool:
    """Whether the session's database is PostgreSQL, whichever path its writes take."""
    return session.get_bind().dialect.name == "postgresql"


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def begin_write(session: Session) -> None:
    """Start a write transaction (BEGIN IMMEDIATE on SQLite).

    A read transaction still open on the session is ended first: upgrading a
    deferred SQLite transaction to a writer can fail at once when another writer
    holds the lock, whereas BEGIN IMMEDIATE waits its turn.
    """
    if session.in_transaction():
        session.commit()
    session.connection(execution_options={WRITE_OPTION: True})
