"""Driver-level reads for the registry's busiest public queries.

Certificate verification and serial look-up answer anyone on the internet, many times
a second. Through SQLAlchemy a query costs 60-140 µs of Python before SQLite spends
2 µs on it; these few queries therefore go straight to the driver's cursor. They are
plain, portable SQL written with `:name` placeholders (SQLite's own style, rewritten
once to psycopg's `%(name)s`), read-only, and each is a single statement, so it sees
one consistent snapshot without a transaction of its own.

They run on a session or a connection (and its transaction), or straight on a SQLite
driver connection (`qinglu.web.deps.HotReads`).

A read of more than one statement, or with logic between its statements, is written once
as a `Read`: a generator that yields each statement with its parameters and is sent the
rows back. `run` answers it on any of the connections above; `run_async` on a psycopg
async connection, on the server's event loop (`qinglu.db.aio`), with no thread between
the request and the database. The rule is in the generator; how it reaches the database
is not.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from psycopg import AsyncConnection
from sqlalchemy import Connection
from sqlalchemy.orm import Session

_PLACEHOLDER = re.compile(r"(?<!:):(\w+)")

Db = Session | Connection | sqlite3.Connection
Rows = list[dict[str, Any]]
T = TypeVar("T")


@dataclass(frozen=True)
class RawQuery:
    sql: str
    _pyformat: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pyformat", _PLACEHOLDER.sub(r"%(\1)s", self.sql))

    def rows(self, db: Db, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The result rows as dicts, on the caller's connection (and transaction)."""
        if isinstance(db, sqlite3.Connection):
            driver: Any = db
            sql = self.sql
        else:
            connection = db.connection() if isinstance(db, Session) else db
            driver = connection.connection.driver_connection
            sql = self.sql if connection.dialect.name == "sqlite" else self._pyformat
        cursor = driver.cursor()
        try:
            cursor.execute(sql, params)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            cursor.close()

    async def rows_async(self, connection: AsyncConnection[Any],
                         params: dict[str, Any]) -> Rows:
        """The same rows, read on a psycopg async connection (in autocommit: one
        statement, one snapshot)."""
        async with connection.cursor() as cursor:
            await cursor.execute(self._pyformat, params)
            assert cursor.description is not None
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]


# Yields (statement, parameters), is sent that statement's rows, returns the answer.
Read = Generator[tuple[RawQuery, dict[str, Any]], Rows, T]


def run(db: Db, read: Read[T]) -> T:
    """Answer a `Read` on a session, a connection or a SQLite driver connection."""
    try:
        query, params = next(read)
        while True:
            query, params = read.send(query.rows(db, params))
    except StopIteration as done:
        answer: T = done.value
        return answer


async def run_async(connection: AsyncConnection[Any], read: Read[T]) -> T:
    """Answer a `Read` on a psycopg async connection."""
    try:
        query, params = next(read)
        while True:
            query, params = read.send(await query.rows_async(connection, params))
    except StopIteration as done:
        answer: T = done.value
        return answer


def json_value(value: Any) -> Any:
    """A JSON column as Python: SQLite hands back its text, psycopg the parsed value.
    orjson parses it in a fifth of the time; integers beyond 64 bits go to `json`."""
    if not isinstance(value, str | bytes):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return json.loads(value)
