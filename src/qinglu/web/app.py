"""Application factory: `create_app(database_url)`."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from qinglu import __version__
from qinglu.accounts import api as auth_api
from qinglu.basins import api as basins_api
from qinglu.basins import pages as basins_pages
from qinglu.cases import api as cases_api
from qinglu.cases import pages as cases_pages
from qinglu.core.logs import configure_from_environment
from qinglu.db.engine import make_read_engine, make_session_factory, request_threads, var_dir
from qinglu.db.replica import ReadRouter, max_lag
from qinglu.db.session import open_database
from qinglu.documents import api as documents_api
from qinglu.documents import pages as documents_pages
from qinglu.documents.signing import load_or_create_key
from qinglu.exports import api as exports_api
from qinglu.forestry import api as forestry_api
from qinglu.forestry.pages import router as monitoring_pages_router
from qinglu.green import api as green_api
from qinglu.green import pages as green_pages
from qinglu.market import api as market_api
from qinglu.market.actions import expire_due
from qinglu.market.pages import router as market_pages_router
from qinglu.methods import api as methods_api
from qinglu.registry import api as registry_api
from qinglu.registry import pages as registry_pages
from qinglu.registry.actions import compact_totals
from qinglu.web import pages
from qinglu.web.deps import HotReads, ReadYourWrites, release_sessions_in_thread
from qinglu.web.docs import install_docs
from qinglu.web.headers import SecurityHeaders
from qinglu.web.limits import BodyLimit, InFlightLimit
from qinglu.web.metrics import install_metrics
from qinglu.web.problems import install_problem_handlers

STATIC = Path(__file__).parent / "static"
logger = logging.getLogger(__name__)


def web_secret() -> bytes:
    """The key for CSRF tokens: QINGLU_SECRET, else a random key kept under var/."""
    configured = os.environ.get("QINGLU_SECRET")
    if configured:
        return configured.encode()
    path = var_dir() / "web_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)  # keys, database
        descriptor = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as secret:
            secret.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


class Health(BaseModel):
    status: str
    version: str


MARKET_SWEEP_SECONDS = 60


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While serving: size the request thread pool, and expire unpaid orders and lapsed
    listings every minute so that no units stay in escrow past their time
    (`qinglu market expire` does the same from cron); and fold the public totals' rows
    (registry.stats.compact_totals) so that the dashboard sums a few."""

    def sweep() -> None:
        with app.state.session_factory() as session:
            expire_due(session)
            compact_totals(session)

    async def loop() -> None:
        while True:
            try:
                await asyncio.to_thread(sweep)
            except Exception:  # keep serving; the next sweep tries again
                logger.exception("market expiry sweep failed")
            await asyncio.sleep(MARKET_SWEEP_SECONDS)

    anyio.to_thread.current_default_thread_limiter().total_tokens = request_threads()
    await app.state.hot_reads.open()
    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        await app.state.hot_reads.close()


def create_app(database_url: str | None = None,
               read_database_url: str | None = None) -> FastAPI:
    configure_from_environment()
    app = FastAPI(
        title="青绿 Qinglu API",
        version=__version__,
        description="生态产品交易登记簿 / ecological product exchange registry",
        lifespan=lifespan,
        docs_url=None, redoc_url=None,  # /docs from vendored files (web/docs.py)
    )
    install_docs(app)
    app.state.session_factory = open_database(database_url)
    primary = app.state.session_factory.kw["bind"]
    # Public reads on a hot standby when QINGLU_READ_DATABASE_URL names one (db.replica).
    standby = make_read_engine(read_database_url)
    app.state.read_router = ReadRouter(primary, standby, max_lag=max_lag())
    app.state.read_session_factory = make_session_factory(standby) if standby else None
    app.state.hot_reads = HotReads(primary, app.state.read_router)
    app.state.registry_key = load_or_create_key()
    install_problem_handlers(app)
    # Outermost last: headers on every answer, oversized bodies refused before anything
    # reads them, then load shedding.
    app.add_middleware(InFlightLimit)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    if standby is not None:
        app.add_middleware(ReadYourWrites, reads=app.state.read_router)
    install_metrics(app)  # outermost: times and counts every answer, 503s included

    @app.get("/health", response_model=Health, tags=["meta"])
    async def health() -> Health:
        return Health(status="ok", version=__version__)

    # Routes are matched in order, one regular expression each: the busiest public
    # reads (verification, serial look-up) come first, as the application's own routes
    # (an included router's route is matched through the router, twice).
    app.router.routes.extend([*documents_api.hot_router.routes, *registry_api.hot_router.routes])
    for router in (documents_api.router, registry_api.router, auth_api.router,
                   cases_api.router, methods_api.router, forestry_api.router,
                   market_api.router, basins_api.router, green_api.router,
                   exports_api.router):
        release_sessions_in_thread(router)
        app.include_router(router, prefix="/api/v1")
    app.state.web_secret = web_secret()
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for page_router in (pages.router, registry_pages.router, documents_pages.router,
                        cases_pages.router, basins_pages.router, monitoring_pages_router,
                        market_pages_router, green_pages.router):
        release_sessions_in_thread(page_router)
        app.include_router(page_router)
    return app


def serving_app(database_url: str | None = None) -> FastAPI:
    """The app as `qinglu serve` runs it (each worker makes its own), with what making it
    made kept out of the garbage collector's full collections (gc.freeze): modules,
    routes, schemas and templates, some 270,000 objects, none of them garbage. A full
    collection walked them all, 100-350 ms on this machine, while every request the
    process had in flight waited. Tests, which make many apps, use `create_app`: frozen
    objects are never freed."""
    app = create_app(database_url)
    gc.collect()
    gc.freeze()
    return app
