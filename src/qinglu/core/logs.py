"""Structured logs: one JSON object a line (structlog), with the request's id, and never
a secret or a full ID number.

`configure_logging()` routes structlog's and the standard library's records (uvicorn's,
every `logging.getLogger(__name__)` in Qinglu) through the same processors, so each line
carries the time (UTC), level, logger, the `request_id` bound by the web middleware
(`bind_request`) and the event. Before a line is written, `redact` masks whatever could
identify a person or open an account: values under secret-looking keys (password,
token, authorization, cookie, secret, id_number) are replaced whole, bearer tokens in
text are dropped, and ID-number-shaped runs (18-character resident ID or unified social
credit code, 15-digit old ID) show only their first and last four characters
(`identifiers.mask_id_number`), wherever they appear in the line.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any

import structlog
from structlog.contextvars import merge_contextvars

from qinglu.core.identifiers import mask_id_number

REDACTED = "[redacted]"
SECRET_KEYS = frozenset({
    "password", "passwd", "token", "access_token", "refresh_token", "authorization",
    "cookie", "set-cookie", "secret", "api_key", "id_number", "csrf", "session"})
_BEARER = re.compile(r"(?i)\b(bearer|token)([\s=:]+)[A-Za-z0-9._~+/=-]{8,}")
_ID_NUMBER = re.compile(
    r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15}|[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10})"
    r"(?![0-9A-Za-z])")
_SECRET_QUERY = re.compile(
    r"(?i)\b(password|passwd|token|access_token|secret|api_key|id_number)=[^&\s]*")


def redact_text(text: str) -> str:
    text = _BEARER.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
    text = _SECRET_QUERY.sub(lambda m: f"{m[1]}={REDACTED}", text)
    return _ID_NUMBER.sub(lambda m: mask_id_number(m[1]), text)


def _redact_value(key: str, value: Any) -> Any:
    if key.lower() in SECRET_KEYS:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v) for v in value]
    return value


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: the masking described above, on every field of a line."""
    event.pop("color_message", None)  # uvicorn's copy of the message with ANSI colours
    for key in list(event):
        event[key] = _redact_value(key, event[key])
    return event


def _redact_exception(_logger: Any, _method: str,
                      event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A traceback is rendered to text before it is masked (it may quote a value)."""
    if isinstance(event.get("exception"), str):
        event["exception"] = redact_text(event["exception"])
    return event


# The request being served: one context variable, set once per request (structlog's
# bind_contextvars makes and clears a variable per key, several microseconds a request).
_REQUEST_ID: ContextVar[str | None] = ContextVar("qinglu_request_id", default=None)


def _add_request_id(_logger: Any, _method: str,
                    event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    request_id = _REQUEST_ID.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


_SHARED: list[Any] = [
    merge_contextvars,
    _add_request_id,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_logging(level: str | None = None, *, json: bool | None = None,
                      stream: Any = None) -> None:
    """JSON lines on stderr (or `stream`) at QINGLU_LOG_LEVEL (default INFO); with
    QINGLU_LOG_FORMAT=text (or json=False) readable lines for a console instead."""
    level = (level or os.environ.get("QINGLU_LOG_LEVEL", "INFO")).upper()
    if json is None:
        json = os.environ.get("QINGLU_LOG_FORMAT", "json").lower() != "text"
    renderer: Any = (structlog.processors.JSONRenderer(ensure_ascii=False) if json
                     else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, _redact_exception, redact,
                    renderer])
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("qinglu")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "qinglu"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()  # through the root's JSON handler instead
        uvicorn_logger.propagate = True
    # qinglu.access writes the access line (request id, route, masked path). uvicorn
    # writes its own only when its logger has a handler somewhere up the tree: none, so
    # not a second line a request, with the client's address, in every worker.
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False


CONFIGURE_ENV = "QINGLU_CONFIGURE_LOGGING"


def configure_from_environment() -> None:
    """In a server's worker process: the logging `qinglu serve` set up in its parent
    (it sets QINGLU_CONFIGURE_LOGGING); tests and embedding code keep their own."""
    if os.environ.get(CONFIGURE_ENV):
        configure_logging()


def bind_request(request_id: str) -> None:
    """The request's id on every line logged while it is served, in this task and in
    the threads it hands work to (they copy its context)."""
    _REQUEST_ID.set(request_id)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
