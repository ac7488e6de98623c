"""Counting the SQL statements a piece of code runs (the way netbox pins query counts)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from qinglu.db.raw import RawQuery


@contextmanager
def counting() -> Iterator[list[str]]:
    """The statements run meanwhile, on any engine or as a RawQuery."""
    statements: list[str] = []
    lock = threading.Lock()

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with lock:
            statements.append(statement)

    original = RawQuery.rows

    def rows(self: RawQuery, db: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
        with lock:
            statements.append(self.sql)
        return original(self, db, params)

    original_async = RawQuery.rows_async

    async def rows_async(self: RawQuery, connection: Any,
                         params: dict[str, Any]) -> list[dict[str, Any]]:
        with lock:
            statements.append(self.sql)
        return await original_async(self, connection, params)

    event.listen(Engine, "before_cursor_execute", on_execute)
    RawQuery.rows = rows  # type: ignore[method-assign]
    RawQuery.rows_async = rows_async  # type: ignore[method-assign]
    try:
        yield statements
    finally:
        RawQuery.rows = original  # type: ignore[method-assign]
        RawQuery.rows_async = original_async  # type: ignore[method-assign]
        event.remove(Engine, "before_cursor_execute", on_execute)
