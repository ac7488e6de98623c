"""Request-scoped database access: an ORM session, or a driver connection for hot reads."""

from __future__ import annotations

import functools
import inspect
import json
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio.to_thread
import orjson
import psycopg
from annotated_types import MaxLen, MinLen
from fastapi import APIRouter, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import Response
from fastapi.routing import APIRoute, request_response, wrap_app_with_body_limit
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qinglu.db import raw
from qinglu.db.async_reads import AsyncReadPool, ReadFactory
from qinglu.db.engine import READ_CONNECT_TIMEOUT, pool_settings, request_threads
from qinglu.db.replica import LSN_COOKIE, LSN_HEADER, ReadRouter, current_lsn, parse_lsn
from qinglu.documents.actions import base_url

T = TypeVar("T")


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session, made and closed on the event loop.

    A synchronous `yield` dependency would close it in a worker thread of its own: the
    request would then hold its pooled connection while waiting for a thread, and with
    a burst of requests every thread ended up waiting for a connection held by a
    request parked between hand-offs (the server hung). Made here, the session has no
    connection yet; whatever runs in a thread hands its connection back before the
    thread is returned: the caller's look-up (`release`) and the endpoint
    (`release_after`, applied to every route by `release_sessions_in_thread`). A
    connection is then held only by a running thread, or for the moment the loop takes
    to close it, and a thread waiting for the pool always gets one soon."""
    factory = await session_factory_for(request)
    session: Session = factory()
    try:
        yield session
    except OperationalError as error:
        if factory is getattr(request.app.state, "read_session_factory", None):
            request.app.state.read_router.standby_failed(error)  # next reads: primary
        raise
    finally:
        session.close()


# Public reads a hot standby may serve (GET and HEAD only): verification, serial look-up,
# the public registry pages, exports, price charts, the ledger's head and checkpoints.
# None of them writes (a PDF may be signed and stored on first request: not listed).
PUBLIC_READ_PREFIXES = (
    "/api/v1/units/", "/api/v1/certificates/", "/api/v1/projects", "/api/v1/ledger/",
    "/api/v1/market/prices", "/api/v1/exports/", "/api/v1/gec/serials/",
    "/verify", "/projects", "/retirements", "/search", "/ledger/checkpoints", "/market",
    "/exports", "/green",
)
_SAFE_METHODS = ("GET", "HEAD")


def is_public_read(method: str, path: str) -> bool:
    return (method in _SAFE_METHODS and path.startswith(PUBLIC_READ_PREFIXES)
            and not path.endswith(("/pdf", ".pdf")) and path != "/green/desk")


def written_lsn(request: Request) -> int | None:
    """The WAL position of the caller's last write, as the app handed it back (cookie
    for a browser, header for an API client); None if it sent none."""
    return parse_lsn(request.headers.get(LSN_HEADER) or request.cookies.get(LSN_COOKIE))


async def read_engine(request: Request) -> Engine | None:
    """The standby's engine when it should serve this request (see `qinglu.db.replica`),
    else None (the primary)."""
    reads: ReadRouter | None = getattr(request.app.state, "read_router", None)
    if reads is None or reads.standby is None:
        return None
    if not is_public_read(request.method, request.url.path):
        return None
    if reads.stale():
        await anyio.to_thread.run_sync(reads.refresh)
    engine = reads.engine_for(written_lsn(request))
    return engine if engine is reads.standby else None


async def session_factory_for(request: Request) -> sessionmaker[Session]:
    if await read_engine(request) is not None:
        factory: sessionmaker[Session] = request.app.state.read_session_factory
        return factory
    primary: sessionmaker[Session] = request.app.state.session_factory
    return primary


class ReadYourWrites:
    """After a write request, hands the client the primary's WAL position (cookie
    `qinglu_lsn`, header `X-Qinglu-LSN`), so that its next public reads go to the
    primary until the standby has replayed its write. Installed only with a standby."""

    COOKIE_SECONDS = 300

    def __init__(self, app: ASGIApp, reads: ReadRouter) -> None:
        self.app = app
        self.reads = reads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return

        async def send_with_lsn(message: Message) -> None:
            if message["type"] == "http.response.start":
                lsn = await anyio.to_thread.run_sync(self._primary_lsn)
                if lsn is not None:
                    headers = MutableHeaders(scope=message)
                    headers.append(LSN_HEADER, lsn)
                    headers.append("Set-Cookie", f"{LSN_COOKIE}={lsn}; Max-Age="
                                   f"{self.COOKIE_SECONDS}; Path=/; HttpOnly; SameSite=Lax")
            await send(message)

        await self.app(scope, receive, send_with_lsn)

    def _primary_lsn(self) -> str | None:
        try:
            with self.reads.primary.connect() as connection:
                return current_lsn(connection)
        except OperationalError:
            return None  # the answer still goes out; the primary's trouble shows elsewhere


def release(session: Session) -> None:
    """End the session's transaction, so its connection goes back to the pool before
    the calling thread is handed back. What the actions wrote they committed already;
    a read transaction is committed (loaded objects stay loaded), anything flushed or
    pending but not committed is rolled back, never committed here."""
    if not session.in_transaction():
        return
    if session.new or session.dirty or session.deleted:
        session.rollback()
    else:
        session.commit()


def release_after(call: Callable[..., T]) -> Callable[..., T]:
    """A synchronous endpoint that releases its request's session before it returns, in
    its own worker thread: FastAPI then checks the answer against the response model in
    another thread, and the session is closed only after that."""

    @functools.wraps(call)
    def endpoint(*args: Any, **kwargs: Any) -> T:
        sessions = [v for v in kwargs.values() if isinstance(v, Session)]
        try:
            result = call(*args, **kwargs)
        except BaseException:
            for session in sessions:
                session.rollback()
            raise
        for session in sessions:
            release(session)
        return result

    setattr(endpoint, RELEASES_SESSION, True)
    return endpoint


RELEASES_SESSION = "_qinglu_releases_session"


def release_sessions_in_thread(router: APIRouter) -> None:
    """Make each synchronous endpoint of `router` that takes the request's session release
    it in its own thread (`release_after`). Call before the router is included; the
    routes are changed in place, once per process."""
    for route in router.routes:
        included = getattr(route, "original_router", None)  # a router included in it
        if isinstance(included, APIRouter):
            release_sessions_in_thread(included)
            continue
        if (not isinstance(route, APIRoute) or isinstance(route, PlainReadRoute)
                or getattr(route.endpoint, RELEASES_SESSION, False)
                or inspect.iscoroutinefunction(route.endpoint)
                or not _takes_session(route.dependant)):
            continue
        route.endpoint = release_after(route.endpoint)
        route.dependant.call = route.endpoint
        route.app = wrap_app_with_body_limit(request_response(route.get_route_handler()),
                                             route.max_body_size)


def _takes_session(dependant: Dependant) -> bool:
    return any(d.call is get_session or _takes_session(d) for d in dependant.dependencies)


class HotReads:
    """Where the busiest public reads (verification, serial look-up) run: a few
    single-statement queries at the driver level, written once as `qinglu.db.raw.Read`s.

    SQLite is in-process: a read there is tens of microseconds of CPU under the GIL,
    and a hand-off to the thread pool costs as much again, so it runs in place, on a
    driver connection of the calling thread's own (sqlite3 connections are not to be
    shared between threads). That connection is opened once through the engine (its
    connect hooks apply: autocommit, WAL) and kept out of the pool: checking a pooled
    connection out and back in cost more than the query. In autocommit every statement
    reads the latest committed state, as on a freshly checked-out connection.

    A server database is waited on without a thread: the statements go from the event
    loop on psycopg's async connections (`qinglu.db.async_reads`), one pool for the
    primary and one for the standby, opened and closed by the app's lifespan. The loop
    serves other requests while the database answers."""

    def __init__(self, engine: Engine, reads: ReadRouter | None = None) -> None:
        self._in_place = engine.dialect.name == "sqlite"
        self._engine = engine
        self._local = threading.local()
        self._reads = reads
        self._primary: AsyncReadPool | None = None
        self._standby: AsyncReadPool | None = None
        if not self._in_place:
            size, timeout = request_threads(), pool_settings()["pool_timeout"]
            self._primary = AsyncReadPool(engine, size=size, timeout=timeout)
            if reads is not None and reads.standby is not None:
                # A standby that went down is given up on as quickly as a connection to it.
                self._standby = AsyncReadPool(reads.standby, size=size, standby=True,
                                              timeout=READ_CONNECT_TIMEOUT)

    async def open(self) -> None:
        for pool in (self._primary, self._standby):
            if pool is not None:
                await pool.open()

    async def close(self) -> None:
        for pool in (self._primary, self._standby):
            if pool is not None:
                await pool.close()

    async def run(self, read: ReadFactory[T], request: Request | None = None) -> T:
        """Answer `read()` (a new `Read` each call: a dead connection's read is retried)."""
        if self._primary is None:
            return raw.run(self._driver_connection(), read())
        standby = await read_engine(request) if request is not None else None
        if standby is None or self._standby is None:
            return await self._primary.run(read)
        try:
            return await self._standby.run(read)
        except psycopg.OperationalError as error:  # the standby went down since its last probe
            assert self._reads is not None
            self._reads.standby_failed(error)
            return await self._primary.run(read)

    def _driver_connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            proxied = self._engine.raw_connection()
            connection = proxied.driver_connection
            assert isinstance(connection, sqlite3.Connection)
            proxied.detach()  # the thread's own from now on; closed when the thread ends
            self._local.connection = connection
        return connection


async def hot_read(request: Request, read: ReadFactory[T]) -> T:
    """Answer one of the busiest public reads for an `async` endpoint (see `HotReads`)."""
    reads: HotReads = request.app.state.hot_reads
    return await reads.run(read, request)


def link_next_page(request: Request, response: Response, after: int | None,
                   limit: int) -> None:
    """On a page of a list with more after it, a `Link` header (RFC 8288) giving the next
    page's address at the registry's public base, `<...?after=N&limit=M>; rel="next"`."""
    if after is None:
        return
    query = urlencode({"after": after, "limit": limit})
    address = base_url(str(request.base_url)) + request.url.path
    response.headers["Link"] = f'<{address}?{query}>; rel="next"'


def json_response(body: Any) -> Response:
    """JSON already shaped as the route's response model: FastAPI's encoder and
    validation pass cost more than the look-up itself on the hot read paths. Written
    by orjson (compact, UTF-8, as `json.dumps(ensure_ascii=False)` writes it); what it
    refuses (integers beyond 64 bits) goes to `json`."""
    try:
        content = orjson.dumps(body)
    except TypeError:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(content, media_type="application/json")


class PlainReadRoute(APIRoute):
    """A route for the busiest public reads: an `async` endpoint whose parameters are
    plain strings (path parameters, optional query parameters with at most a length
    limit, and the request) and which returns its own `Response`.

    It is called straight with those strings: FastAPI's per-request dependency solving
    and validation (about 30 µs, more than the SQL of a serial look-up) is skipped. The
    route stays an APIRoute, so OpenAPI describes it as declared. A request whose values
    break a declared limit is handed to FastAPI's own handler, so that errors read the
    same as everywhere else. (FastAPI's telemetry, when configured, then records no
    parameter values for these routes.)"""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        checked = super().get_route_handler()
        dependant = self.dependant
        endpoint = dependant.call
        if (dependant.dependencies or dependant.header_params or dependant.cookie_params
                or dependant.body_params or dependant.response_param_name
                or dependant.background_tasks_param_name
                or not inspect.iscoroutinefunction(endpoint)
                or not self._all_str(dependant.path_params)):
            raise TypeError(f"{self.path}: not a plain read (an async endpoint taking "
                            "strings in path and query only)")
        path_names = [f.name for f in dependant.path_params]
        queries = [(f.name, f.alias, *self._length_limits(f)) for f in dependant.query_params]
        request_name = dependant.request_param_name

        async def handler(request: Request) -> Response:
            path = request.path_params
            arguments: dict[str, Any] = {name: path[name] for name in path_names}
            if queries:
                query = request.query_params
                for name, alias, shortest, longest in queries:
                    value = query.get(alias)
                    if value is not None and not shortest <= len(value) <= longest:
                        return await checked(request)
                    arguments[name] = value
            if request_name:
                arguments[request_name] = request
            response: Response = await endpoint(**arguments)
            return response

        return handler

    @staticmethod
    def _all_str(fields: list[Any]) -> bool:
        return all(f.field_info.annotation is str and not f.field_info.metadata
                   for f in fields)

    def _length_limits(self, field: Any) -> tuple[int, float]:
        info = field.field_info
        if info.annotation != str | None or info.default is not None or any(
                not isinstance(m, MinLen | MaxLen) for m in info.metadata):
            raise TypeError(f"{self.path}: query parameter {field.alias} is not an "
                            "optional string with at most a length limit")
        shortest = next((m.min_length for m in info.metadata if isinstance(m, MinLen)), 0)
        longest = next((m.max_length for m in info.metadata if isinstance(m, MaxLen)),
                       float("inf"))
        return shortest, longest
