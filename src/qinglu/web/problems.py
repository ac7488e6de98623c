"""RFC 9457 problem+json responses for domain errors and bad requests; the same refusals
as localised HTML pages for a browser (any address outside the API). No traceback,
Python message or dict reaches a page: a page's error says what went wrong in the
page's language, and an unexpected failure says only that it failed (it is logged)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from qinglu.core.errors import QingluError

PROBLEM_MEDIA_TYPE = "application/problem+json"
logger = logging.getLogger(__name__)
# Addresses answered in JSON whoever asks: the API, its schema and the health check.
MACHINE_PREFIXES = ("/api/", "/openapi.json", "/health", "/docs", "/redoc", "/static/")


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    detail_zh: str | None = None
    detail_en: str | None = None


def problem_response(status: int, code: str, zh: str, en: str) -> JSONResponse:
    body = Problem(type=f"urn:qinglu:problem:{code}", title=code, status=status,
                   detail=f"{zh} / {en}", detail_zh=zh, detail_en=en)
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM_MEDIA_TYPE)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}, "description": text}
    for status, text in {
        400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found",
        409: "Conflict", 413: "Request body over the address's limit (web.limits)",
        422: "Invalid input", 429: "Too many attempts",
    }.items()
}


def for_machines(request: Request) -> bool:
    return request.url.path.startswith(MACHINE_PREFIXES)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(QingluError)
    async def _domain(request: Request, exc: QingluError) -> Response:
        if not for_machines(request):
            return _page_error(request, exc)
        return problem_response(exc.status, exc.code, exc.zh, exc.en)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if not for_machines(request):
            # A page's form had a field missing or unreadable: the page says so in its
            # language, naming the field, without the validator's own words.
            fields = sorted({str(error.get("loc", ("", ""))[-1]) for error in exc.errors()})
            named = ", ".join(fields[:5])
            return _page_error(request, QingluError(
                f"表单内容无效（{named}），请返回修改后重试",
                f"the form could not be read ({named}); go back, correct it and retry"),
                status=422)
        parts = []
        for error in exc.errors()[:5]:
            location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
            parts.append(f"{location}: {error.get('msg', 'invalid')}")
        text = "; ".join(parts) or "invalid request"
        return problem_response(422, "invalid-input", f"请求内容无效：{text}",
                                f"invalid request: {text}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not for_machines(request):
            response = _status_page(request, exc.status_code)
        else:
            detail = str(exc.detail)
            response = problem_response(exc.status_code, f"http-{exc.status_code}", detail,
                                        detail)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        logger.error("unexpected failure on %s %s", request.method, request.url.path,
                     exc_info=exc)
        if not for_machines(request):
            return _status_page(request, 500)
        return problem_response(500, "internal-error", "服务器内部错误，已记录",
                                "internal server error; it has been logged")


T = TypeVar("T")


def read_field(errors: dict[str, str], field: str, lang: str, read: Callable[[], T]) -> T | None:
    """A form field read by `read()`, or None with its refusal in `errors[field]`, in the
    page's language, to be shown beside the field (every field is read, so that a form
    lists all its mistakes at once)."""
    try:
        return read()
    except QingluError as exc:
        errors[field] = exc.zh if lang == "zh" else exc.en
        return None


def field_named(exc: QingluError, markers: Iterable[tuple[str, str]], default: str) -> str:
    """The form field a refusal from an action concerns: the first (field, marker) whose
    marker word its English message names, else `default` (the actions' refusals name
    the field they refuse in words, not by a form's field names)."""
    words = exc.en.lower()
    return next((field for field, marker in markers if marker in words), default)


# Pages of their own for the answers a visitor meets without doing anything wrong.
STATUS_PAGES = {403: "errors/403.html", 404: "errors/404.html", 500: "errors/500.html"}


def _status_page(request: Request, status: int, message: str | None = None) -> Response:
    from qinglu.web.pages import render

    template = STATUS_PAGES.get(status, "errors/error.html")
    return render(request, template, None, status=status, message=message, code=status)


def _page_error(request: Request, exc: QingluError, status: int | None = None) -> Response:
    """Pages answer with HTML: sign-in for 401, an error page otherwise."""
    from qinglu.web.pages import language

    if exc.status == 401:
        return RedirectResponse("/login", status_code=303)
    message = exc.zh if language(request) == "zh" else exc.en
    return _status_page(request, status or exc.status, message)
