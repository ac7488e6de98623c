"""Request-scoped database access: an ORM session, or a plain connection for hot reads."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Connection
from sqlalchemy.orm import Session

T = TypeVar("T")


def get_session(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.close()


async def hot_read(request: Request, read: Callable[[Connection], T]) -> T:
    """Run a short read for an `async` endpoint of the busiest public reads
    (verification, serial look-up), on a pooled connection rather than a session.

    SQLite is in-process: a read there is a few hundred microseconds of CPU under the
    GIL, and a hand-off to the thread pool costs about as much again, so it runs in
    place. A server database is waited on, so the read goes to the thread pool and
    the event loop serves others meanwhile."""
    engine = request.app.state.session_factory.kw["bind"]

    def run() -> T:
        with engine.connect() as connection:
            return read(connection)

    if engine.dialect.name == "sqlite":
        return run()
    return await anyio.to_thread.run_sync(run)


def json_response(body: Any) -> Response:
    """JSON already shaped as the route's response model: FastAPI's encoder and
    validation pass cost more than the look-up itself on the hot read paths."""
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                    media_type="application/json")
