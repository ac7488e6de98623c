"""Load shedding: past the configured number of requests in flight, answer 503 at once.

A request beyond what a worker can take in reasonable time would only wait in a queue
its client gives up on (and may then still be carried out); refusing it at the door, with
`Retry-After`, tells the client the truth and keeps the requests already inside fast."""

from __future__ import annotations

import os

from starlette.types import ASGIApp, Receive, Scope, Send

from qinglu.db.engine import request_threads
from qinglu.web.problems import problem_response

# Requests a worker process keeps inside per request thread: with 4 threads, 256 in
# flight. A burst of that many short writes (a few ms each) is served within a second or
# two; more waits longer than a client should, and is refused.
IN_FLIGHT_PER_THREAD = 64
RETRY_AFTER_SECONDS = 1
# Paths that never touch the database and so are never refused.
UNCOUNTED_PREFIXES = ("/static/", "/health", "/docs", "/redoc", "/openapi.json")


def max_in_flight() -> int:
    """QINGLU_MAX_IN_FLIGHT, else IN_FLIGHT_PER_THREAD × the request threads."""
    configured = os.environ.get("QINGLU_MAX_IN_FLIGHT")
    if configured:
        return max(1, int(configured))
    return IN_FLIGHT_PER_THREAD * request_threads()


class InFlightLimit:
    """Pure ASGI middleware counting the HTTP requests in flight that may need the
    database (all but static files, health and the API's documentation). Runs on the
    event loop only, so a plain counter is safe."""

    def __init__(self, app: ASGIApp, limit: int | None = None) -> None:
        self.app = app
        self.limit = limit if limit is not None else max_in_flight()
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNCOUNTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            response = problem_response(
                503, "busy", "服务器繁忙，请稍后重试", "the server is busy; retry shortly")
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            await response(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
