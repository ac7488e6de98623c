"""The busiest public reads on PostgreSQL, answered on the server's event loop.

A serial look-up or a verification is one or two indexed statements, a fraction of a
millisecond on the server. Sent from a worker thread through SQLAlchemy's pool it cost
three times that in Python: the hand-off to the thread and back, the pool's pre-ping
(a `SELECT 1` round trip before every read) and the checkout. Here the statements go from
the event loop itself, on a psycopg async connection from psycopg's own pool, in
autocommit (each statement its own snapshot, as on the thread path). The read itself,
its statements and the logic between them, is a `qinglu.db.raw.Read`, shared with every
other caller.

A pool belongs to the loop that serves requests: the application's lifespan opens it and
closes it. A read from any other loop (a script, a test that runs the app without its
lifespan) gets a connection of its own for that read.

A pooled connection is not pinged before use. When one turns out dead (the server was
restarted), the pool checks its idle connections at once and the read is tried again,
once, on a fresh one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine

from qinglu.db.engine import IN_UTC, driver_connect_args
from qinglu.db.raw import Read, run_async

T = TypeVar("T")
ReadFactory = Callable[[], Read[T]]


def connection_kwargs(engine: Engine, *, standby: bool = False) -> dict[str, Any]:
    """psycopg's connection arguments for the database `engine` reaches: the same address
    and options as the engine's own connections, with psycopg's own type adapters."""
    _args, params = engine.dialect.create_connect_args(engine.url)
    params = {name: value for name, value in params.items() if name != "context"}
    return {**params, **driver_connect_args(standby=standby), "autocommit": True}


async def _in_utc(connection: AsyncConnection[Any]) -> None:
    await connection.execute(IN_UTC)  # as every other connection (qinglu.db.engine)


class AsyncReadPool:
    """psycopg's async pool for one database, for `Read`s sent from the event loop."""

    def __init__(self, engine: Engine, *, size: int, timeout: float,
                 standby: bool = False) -> None:
        self._kwargs = connection_kwargs(engine, standby=standby)
        self._size = size
        self._timeout = timeout
        # One pool per serving loop: an app served twice at once (two test clients, each
        # running the lifespan on a loop of its own) has two.
        self._pools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool[Any]] = {}

    async def open(self) -> None:
        """Open a pool on the running loop (a serving loop: the app's lifespan)."""
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            kwargs=self._kwargs, min_size=1, max_size=self._size, timeout=self._timeout,
            configure=_in_utc, open=False, name="qinglu-hot-reads")
        await pool.open(wait=False)  # the database may be down at start: reads will say
        self._pools[asyncio.get_running_loop()] = pool

    async def close(self) -> None:
        """Close the running loop's pool."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()

    async def run(self, read: ReadFactory[T]) -> T:
        """Answer `read()`; once more on a fresh connection if the pooled one was dead."""
        pool = self._pools.get(asyncio.get_running_loop())
        if pool is None:
            async with await AsyncConnection.connect(**self._kwargs) as connection:
                await _in_utc(connection)
                return await run_async(connection, read())
        try:
            return await _pooled(pool, read)
        except _DeadConnection:
            await pool.check()  # drop every idle connection that died with it
        try:
            return await _pooled(pool, read)
        except _DeadConnection as dead:
            assert isinstance(dead.__cause__, psycopg.OperationalError)
            raise dead.__cause__ from None


class _DeadConnection(Exception):
    """The pooled connection a read was given had died (its cause says how)."""


async def _pooled(pool: AsyncConnectionPool[Any], read: ReadFactory[T]) -> T:
    async with pool.connection() as connection:
        try:
            return await run_async(connection, read())
        except psycopg.OperationalError as error:
            if connection.broken:
                raise _DeadConnection from error
            raise
