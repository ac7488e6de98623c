"""Application factory: `create_app(database_url)`."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

from qinglu import __version__
from qinglu.accounts.service import LoginLimiter
from qinglu.db.session import open_database
from qinglu.web.api import auth as auth_api
from qinglu.web.api import cases as cases_api
from qinglu.web.api import registry as registry_api
from qinglu.web.api import registry_write as registry_write_api
from qinglu.web.problems import install_problem_handlers


class Health(BaseModel):
    status: str
    version: str


def create_app(database_url: str | None = None) -> FastAPI:
    app = FastAPI(
        title="青绿 Qinglu API",
        version=__version__,
        description="生态产品交易登记簿 / ecological product exchange registry",
    )
    app.state.session_factory = open_database(database_url)
    app.state.login_limiter = LoginLimiter()
    install_problem_handlers(app)

    @app.get("/health", response_model=Health, tags=["meta"])
    def health() -> Health:
        return Health(status="ok", version=__version__)

    for router in (auth_api.router, registry_api.router, registry_write_api.router,
                   cases_api.router):
        app.include_router(router, prefix="/api/v1")
    return app
