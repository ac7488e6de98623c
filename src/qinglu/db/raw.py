"""Driver-level reads for the registry's busiest public queries.

Certificate verification and serial look-up answer anyone on the internet, many times
a second. Through SQLAlchemy a query costs 60-140 µs of Python before SQLite spends
2 µs on it; these few queries therefore go straight to the driver's cursor. They are
plain, portable SQL written with `:name` placeholders (SQLite's own style, rewritten
once to psycopg's `%(name)s`), read-only, and each is a single statement, so it sees
one consistent snapshot without a transaction of its own.

They run on a session or a connection (and its transaction), or straight on a SQLite
driver connection (`qinglu.web.deps.HotReads`).
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.orm import Session

_PLACEHOLDER = re.compile(r"(?<!:):(\w+)")

Db = Session | Connection | sqlite3.Connection


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


def json_value(value: Any) -> Any:
    """A JSON column as Python: SQLite hands back its text, psycopg the parsed value.
    orjson parses it in a fifth of the time; integers beyond 64 bits go to `json`."""
    if not isinstance(value, str | bytes):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return json.loads(value)
