"""`qinglu db upgrade`: Alembic migrations run from the installed package, then the
server-side functions (db/server_functions.py), in one transaction."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from qinglu.db import server_functions

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> list[str]:
    """Migrate to `revision`; at the head, install the server-side functions whose SQL
    changed (PostgreSQL only). Returns the SQL files that ran: none when the database
    was up to date."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        # The functions are written for the head's tables.
        if revision == "head" or revision in ScriptDirectory.from_config(config).get_heads():
            return server_functions.install(connection)
    return []
