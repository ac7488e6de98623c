"""Request-scoped database access: an ORM session, or a plain connection for hot reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Connection
from sqlalchemy.orm import Session


def get_session(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.session_factory()
    try:
        yield session
    finally:
        session.close()


@contextmanager
def read_connection(request: Request) -> Iterator[Connection]:
    """A pooled connection for the busiest public reads (verification, serial look-up).

    Opened inside the endpoint rather than through a yield-dependency: FastAPI runs a
    sync generator dependency's two halves on the thread pool, two hand-offs that
    cost more than the queries."""
    with request.app.state.session_factory.kw["bind"].connect() as connection:
        yield connection


def json_response(body: Any) -> Response:
    """JSON already shaped as the route's response model: FastAPI's encoder and
    validation pass cost more than the look-up itself on the hot read paths."""
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                    media_type="application/json")
