"""Load shedding: past the configured number of requests in flight, answer 503 at once.

A request beyond what a worker can take in reasonable time would only wait in a queue
its client gives up on (and may then still be carried out); refusing it at the door, with
`Retry-After`, tells the client the truth and keeps the requests already inside fast."""

from __future__ import annotations

import os
import re

import numpy as np
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


# Request bodies: 1 MiB for forms and JSON; uploads (signed PDFs to verify, parcel
# boundaries) up to 16 MiB. Checked from Content-Length before anything reads the body,
# and counted as it arrives when the client sends none, so an oversized body is refused
# (413) before it is parsed and before the caller is authenticated.
DEFAULT_BODY_LIMIT = 1 << 20
UPLOAD_BODY_LIMIT = 16 << 20
UPLOAD_PATHS = re.compile(r"^(/api/v1/certificates/file-verification|/verify/file"
                          r"|/api/v1/projects/\d+/parcels)$")


def body_limit_for(path: str) -> int:
    return UPLOAD_BODY_LIMIT if UPLOAD_PATHS.match(path) else DEFAULT_BODY_LIMIT


# JSON bodies nest no deeper than this (the API's deepest body is 3 levels): a deeper one
# is refused (422) before the JSON parser, which recurses per level, ever sees it.
MAX_JSON_DEPTH = 32
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')  # unrolled: linear and fast
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(body: bytes) -> int:
    """How deep a JSON text's arrays and objects nest (brackets inside strings do not
    count), without parsing it: a running sum over its brackets, in numpy, so that even a
    1 MiB body of brackets costs milliseconds on the event loop."""
    brackets = np.frombuffer(_JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS),
                             dtype=np.uint8)
    if not brackets.size:
        return 0
    opens = (brackets == ord("[")) | (brackets == ord("{"))
    return int(np.cumsum(np.where(opens, 1, -1), dtype=np.int64).max(initial=0))


def _is_json(scope: Scope) -> bool:
    if scope.get("method") not in ("POST", "PUT", "PATCH"):
        return False
    kind = dict(scope.get("headers") or ()).get(b"content-type", b"").split(b";")[0].strip()
    return kind == b"application/json" or kind.endswith(b"+json")


class BodyLimit:
    """Pure ASGI middleware refusing request bodies over the path's limit with 413, and
    JSON bodies nested deeper than MAX_JSON_DEPTH with 422."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit_for(scope["path"])
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(limit)(scope, receive, send)
            return
        if _is_json(scope):
            await self._json(scope, receive, send, limit)
            return
        received = 0
        started = refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not started:
                    # Answer 413 now; the app is told the client left, and whatever it
                    # still says is dropped.
                    refused = True
                    await _too_large(limit)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if not refused:
                raise


    async def _json(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """A JSON body is small (within the limit): read whole, its depth checked, then
        handed on as one message."""
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await _too_large(limit)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if json_depth(body) > MAX_JSON_DEPTH:
            await problem_response(
                422, "too-deep", f"JSON 嵌套过深（上限 {MAX_JSON_DEPTH} 层）",
                f"the JSON body nests too deeply (limit {MAX_JSON_DEPTH} levels)",
            )(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _too_large(limit: int) -> Response:
    megabytes = f"{limit / (1 << 20):g} MiB"
    return problem_response(413, "too-large", f"请求内容过大（上限 {megabytes}）",
                            f"the request body is too large (limit {megabytes})")
