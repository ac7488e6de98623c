"""Security headers on every answer (ASVS V14), and whether cookies are `Secure`.

The pages run no inline script (the charts read their data from JSON blocks, see
static/js/charts.js), so the policy allows scripts from the site itself only. Styles may
be inline: htmx and ECharts set them, and a style cannot run code. The API's own
documentation (/docs) loads Swagger UI from the site's vendored files (web/docs.py) and
starts it with an inline script, so it alone may run one; it too reaches no other host."""

from __future__ import annotations

import os

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'")
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'")
DOCS_PREFIXES = ("/docs", "/redoc")
HSTS = "max-age=31536000"
# web.pages.SESSION_COOKIE (not imported: pages imports this module).
SESSION_COOKIE_PREFIX = b"qinglu_session="


def _signed_in(scope: Scope) -> bool:
    """A request carrying credentials (a session cookie, a bearer token): what it gets
    back is that user's, and no browser or proxy may keep a copy (ASVS 8.2.1)."""
    headers = dict(scope.get("headers") or ())
    return b"authorization" in headers or SESSION_COOKIE_PREFIX in headers.get(b"cookie", b"")


def public_https() -> bool:
    """Whether the site's public address (QINGLU_BASE_URL) is https: then cookies are
    sent `Secure` and browsers are told to come back over https only (HSTS)."""
    return os.environ.get("QINGLU_BASE_URL", "").strip().lower().startswith("https://")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.https = public_https()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith(DOCS_PREFIXES)
        private = _signed_in(scope)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy",
                                   DOCS_POLICY if docs else CONTENT_SECURITY_POLICY)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                if self.https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if private:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)
