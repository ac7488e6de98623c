"""Web pages (Jinja2 + htmx): Chinese by default, English on request.

Signed-in users carry an HttpOnly session cookie holding an API token; every
form and htmx request carries a CSRF token derived from it (HMAC), checked on
each POST. The JSON API never accepts the cookie, only bearer tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from qinglu.accounts.actions import principal_for_token, sign_in, sign_out
from qinglu.core.errors import Forbidden, NotAuthenticated, QingluError
from qinglu.core.principal import Principal
from qinglu.green import actions as green
from qinglu.market import actions as market
from qinglu.registry import actions as registry
from qinglu.web.auth import SessionDep
from qinglu.web.deps import release
from qinglu.web.filters import install as install_filters
from qinglu.web.headers import public_https

SESSION_COOKIE = "qinglu_session"
PRELOGIN_COOKIE = "qinglu_prelogin"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
install_filters(templates.env)  # label, product, place, when, qty (web/filters.py)
router = APIRouter(include_in_schema=False)


def page_user(request: Request, session: SessionDep) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return principal_for_token(session, token)
    except NotAuthenticated:
        return None
    finally:
        release(session)  # before this thread is handed back (see web.deps.get_session)


UserDep = Annotated[Principal | None, Depends(page_user)]


def csrf_token(request: Request) -> str:
    """The form token: an HMAC of the session cookie for a signed-in visitor, else of a
    random pre-login cookie of this visitor's own (set by `render` when missing), so
    that no two visitors share one."""
    secret: bytes = request.app.state.web_secret
    return hmac.new(secret, _csrf_basis(request).encode(), hashlib.sha256).hexdigest()


def _csrf_basis(request: Request) -> str:
    token = request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRELOGIN_COOKIE)
    if token:
        return f"s:{token}" if request.cookies.get(SESSION_COOKIE) else f"p:{token}"
    fresh: str | None = getattr(request.state, "prelogin", None)
    if fresh is None:
        fresh = secrets.token_urlsafe(24)
        request.state.prelogin = fresh
    return f"p:{fresh}"


def check_csrf(request: Request, submitted: str | None) -> None:
    has_cookie = request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRELOGIN_COOKIE)
    if not submitted or not has_cookie or not hmac.compare_digest(submitted,
                                                                  csrf_token(request)):
        raise Forbidden("表单已过期，请刷新页面重试", "the form expired; reload the page and retry")


def language(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    return "en" if lang == "en" else "zh"


# Notices a link may ask a page to show (`?message=<key>`): chosen from these fixed keys,
# never free text from the address, so that no one can put words into the site's mouth
# ("your account is frozen, call …").
NOTICES: dict[str, tuple[str, str]] = {
    "signed-out": ("您已退出登录", "you have signed out"),
    "saved": ("已保存", "saved"),
}
NOTICE_FIELDS = ("message", "error")


def _fixed_notices(request: Request, lang: str, context: dict[str, Any]) -> None:
    """A notice that came from the address is replaced by its fixed text, or dropped."""
    for field in NOTICE_FIELDS:
        typed = request.query_params.get(field)
        if typed is not None and context.get(field) == typed:
            notice = NOTICES.get(typed)
            context[field] = (notice[1] if lang == "en" else notice[0]) if notice else None


def render(request: Request, template: str, user: Principal | None, status: int = 200,
           **context: Any) -> HTMLResponse:
    lang = language(request)
    _fixed_notices(request, lang, context)

    def translate(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    response = templates.TemplateResponse(
        request, template,
        {"user": user, "lang": lang, "_": translate, "csrf": csrf_token(request), **context},
        status_code=status,
    )
    if request.query_params.get("lang"):
        response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax",
                            secure=public_https())
    fresh = getattr(request.state, "prelogin", None)
    if fresh is not None:
        response.set_cookie(PRELOGIN_COOKIE, fresh, httponly=True, samesite="lax",
                            secure=public_https())
    return response


DASHBOARD_MONTHS = 12  # the green-certificate chart shows the last year


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    return render(request, "dashboard.html", user, totals=registry.public_totals(session),
                  daily=market.recent_prices(session),
                  green_months=green.by_month(session)[-DASHBOARD_MONTHS:])


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, user: UserDep) -> HTMLResponse:
    return render(request, "login.html", user, error=None)


@router.post("/login", response_model=None)
def login(request: Request, session: SessionDep,
          username: Annotated[str, Form()], password: Annotated[str, Form()],
          csrf: Annotated[str | None, Form()] = None) -> Response:
    check_csrf(request, csrf)
    client = request.client.host if request.client else ""
    try:
        signed_in = sign_in(session, username, password, client)
    except QingluError as exc:
        message = exc.zh if language(request) == "zh" else exc.en
        return render(request, "login.html", None, status=exc.status, error=message)
    response = RedirectResponse(_home_for(signed_in.role), status_code=303)
    response.set_cookie(SESSION_COOKIE, signed_in.token, httponly=True,
                        samesite="lax", max_age=8 * 3600, secure=public_https())
    response.delete_cookie(PRELOGIN_COOKIE)
    return response


def _home_for(role: str) -> str:
    return {"holder": "/account", "authority": "/cases", "operator": "/admin",
            "verifier": "/cases"}.get(role, "/")


@router.post("/logout")
def logout(request: Request, session: SessionDep,
           csrf: Annotated[str | None, Form()] = None) -> RedirectResponse:
    """Sign out: the session's token is revoked on the server, not only forgotten here."""
    check_csrf(request, csrf)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        sign_out(session, token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def require_user(user: Principal | None, *roles: str) -> Principal:
    if user is None:
        raise NotAuthenticated("请先登录", "sign in first")
    if user.role not in roles:
        raise Forbidden(f"角色 {user.role} 无权访问此页",
                        f"role {user.role} may not open this page")
    return user


