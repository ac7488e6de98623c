"""Opening a database for the CLI and the web app."""

from __future__ import annotations

from functools import lru_cache

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from qinglu.db.engine import make_engine, make_session_factory
from qinglu.db.migrate import alembic_config, upgrade


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_current(engine: Engine) -> bool:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head_revision()


def open_database(url: str | None = None, *, migrate: bool = True) -> sessionmaker[Session]:
    """An engine's session factory; a database behind the code is migrated first.

    Every feature's tables are loaded, so that a foreign key across features (a trade
    voucher's order) resolves whichever commands the process runs."""
    import qinglu.db.models  # noqa: F401

    engine = make_engine(url)
    if migrate and not is_current(engine):
        upgrade(engine)
    return make_session_factory(engine)
