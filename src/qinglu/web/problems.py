"""RFC 9457 problem+json responses for domain errors and bad requests."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from qinglu.core.errors import QingluError

PROBLEM_MEDIA_TYPE = "application/problem+json"


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
        409: "Conflict", 422: "Invalid input", 429: "Too many attempts",
    }.items()
}


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(QingluError)
    async def _domain(request: Request, exc: QingluError) -> Response:
        if not request.url.path.startswith("/api/"):
            return _page_error(request, exc)
        return problem_response(exc.status, exc.code, exc.zh, exc.en)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for error in exc.errors()[:5]:
            location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
            parts.append(f"{location}: {error.get('msg', 'invalid')}")
        text = "; ".join(parts) or "invalid request"
        return problem_response(422, "invalid-input", f"请求内容无效：{text}",
                                f"invalid request: {text}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        response = problem_response(exc.status_code, f"http-{exc.status_code}", detail, detail)
        if exc.headers:
            response.headers.update(exc.headers)
        return response


def _page_error(request: Request, exc: QingluError) -> Response:
    """Pages answer with HTML: sign-in for 401, an error page otherwise."""
    from qinglu.web.pages import render

    if exc.status == 401:
        return RedirectResponse("/login", status_code=303)
    message = exc.zh if request.cookies.get("lang") != "en" else exc.en
    return render(request, "error.html", None, status=exc.status, message=message)
