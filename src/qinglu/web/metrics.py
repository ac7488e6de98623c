"""`/metrics` in Prometheus's text format, and each request's id and access line.

What it counts:

- `qinglu_http_requests_total{method,route,status}` and
  `qinglu_http_request_duration_seconds{method,route}` (route = the matched route's
  template, `/api/v1/units/{serial}`, never the raw path: serials, ID numbers and the
  like stay out of the labels, and their number stays bounded);
- `qinglu_ledger_entries_total`: the ledger head's sequence read at scrape time, so
  `rate()` over it is the ledger writes of every worker and every CLI together;
- `qinglu_db_pool_connections{database,state}`: this process's pool (checked out, idle,
  overflow, size) for the primary and the standby;
- `qinglu_replica_lag_seconds` and `qinglu_replica_usable` from the last probe of the
  standby (`qinglu.db.replica`), when there is one.

Counters live in this process. With `--workers N`, set PROMETHEUS_MULTIPROC_DIR to an
empty folder before starting and every worker's counts are added up in each scrape
(prometheus-client's multiprocess mode); without it a scrape sees the worker it reached.
Expose `/metrics` to the monitoring network only (docs/deploy.md: the proxy denies it).

Each request gets an id (a sane `X-Request-ID` from the proxy, else a new one), bound to
every log line written while it is served (`core.logs.bind_request`) and returned in the
`X-Request-ID` header; one `request` line is logged when it ends (`qinglu.access`, INFO).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qinglu.core.logs import bind_request, redact_text
from qinglu.db.replica import ReadRouter

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("qinglu_http_requests", "HTTP requests answered",
                   ["method", "route", "status"], registry=REGISTRY)
LATENCY = Histogram("qinglu_http_request_duration_seconds",
                    "Time from a request's arrival to the end of its answer",
                    ["method", "route"], registry=REGISTRY,
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                             2.5, 5, 10))
REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
access_log = logging.getLogger("qinglu.access")


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return str(path)
    return "/static" if scope.get("path", "").startswith("/static/") else "unmatched"


class RequestMetrics:
    """Pure ASGI middleware (no per-request task as BaseHTTPMiddleware makes): times the
    answer, counts it, gives the request its id and logs its access line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _SANE_ID.match(incoming) else os.urandom(16).hex()
        bind_request(request_id)
        status = 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            elapsed = time.perf_counter() - started
            method, route = scope["method"], _route_of(scope)
            _counter(method, route, status).inc()
            _timer(method, route).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info("request", extra={
                    "method": method, "path": redact_text(scope["path"]), "route": route,
                    "status": status, "ms": round(elapsed * 1000, 2)})


@functools.lru_cache(maxsize=4096)
def _counter(method: str, route: str, status: int) -> Any:
    """A label set's child, looked up once (labels() costs a lock and a dict build)."""
    return REQUESTS.labels(method, route, str(status))


@functools.lru_cache(maxsize=4096)
def _timer(method: str, route: str) -> Any:
    return LATENCY.labels(method, route)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class DatabaseCollector(Collector):
    """Read at scrape time: the ledger head, the pools, the standby's last probe."""

    def __init__(self, reads: ReadRouter) -> None:
        self.reads = reads

    def collect(self) -> Iterator[Any]:
        entries = CounterMetricFamily("qinglu_ledger_entries",
                                      "Ledger entries written (the head's sequence)")
        head = _ledger_head(self.reads.primary)
        if head is not None:
            entries.add_metric([], head)
        yield entries
        pools = GaugeMetricFamily("qinglu_db_pool_connections",
                                  "Connections of this process's pool",
                                  labels=["database", "state"])
        for name, engine in (("primary", self.reads.primary), ("standby", self.reads.standby)):
            if engine is not None:
                for kind, count in _pool_counts(engine).items():
                    pools.add_metric([name, kind], count)
        yield pools
        if self.reads.standby is not None:
            state = self.reads.state
            lag = GaugeMetricFamily("qinglu_replica_lag_seconds",
                                    "How far the standby's replay was behind at its last probe")
            if state.lag is not None:
                lag.add_metric([], state.lag)
            yield lag
            yield GaugeMetricFamily("qinglu_replica_usable",
                                    "1 while public reads go to the standby",
                                    value=1 if state.usable else 0)


def _ledger_head(engine: Engine) -> int | None:
    try:
        with engine.connect() as connection:
            value = connection.execute(
                text("SELECT coalesce(max(sequence), 0) FROM ledger_entries")).scalar_one()
    except SQLAlchemyError:
        return None  # a scrape still answers; the database's trouble shows elsewhere
    return int(value)


def _pool_counts(engine: Engine) -> dict[str, int]:
    pool: Any = engine.pool
    counts: dict[str, int] = {}
    for state, method in (("checked_out", "checkedout"), ("idle", "checkedin"),
                          ("overflow", "overflow"), ("size", "size")):
        reading = getattr(pool, method, None)
        if callable(reading):  # a StaticPool's `size` is a number, not a reading
            counts[state] = max(0, int(reading()))
    return counts


def _scrape_registry(app: FastAPI) -> CollectorRegistry:
    """This process's registry, or every worker's added up in multiprocess mode."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)
    combined.register(app.state.database_collector)
    return combined


def install_metrics(app: FastAPI) -> None:
    """The middleware, the database collector and `GET /metrics`."""
    collector = DatabaseCollector(app.state.read_router)
    app.state.database_collector = collector
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _replace_collector(collector)
    app.add_middleware(RequestMetrics)

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        return Response(generate_latest(_scrape_registry(request.app)),
                        media_type=CONTENT_TYPE_LATEST)


_installed: list[Collector] = []


def _replace_collector(collector: Collector) -> None:
    """One database collector in the process registry: the latest app's (tests make many)."""
    while _installed:
        REGISTRY.unregister(_installed.pop())
    REGISTRY.register(collector)
    _installed.append(collector)
