"""`qinglu db upgrade`: Alembic migrations run from the installed package, then the
server-side functions (db/server_functions.py), in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

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
    with (engine.connect() as connection, _sqlite_foreign_keys_deferred(connection),
          connection.begin()):
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        _check_sqlite_foreign_keys(connection)
        # The functions are written for the head's tables.
        if revision == "head" or revision in ScriptDirectory.from_config(config).get_heads():
            return server_functions.install(connection)
    return []


@contextmanager
def _sqlite_foreign_keys_deferred(connection: Connection) -> Iterator[None]:
    """SQLite alters a table by copying it and dropping the old one (Alembic's batch
    mode), which enforced foreign keys refuse when other tables point at it. SQLite
    only switches enforcement outside a transaction, so it is off for the migration and
    checked as a whole before the commit (`_check_sqlite_foreign_keys`)."""
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migration left rows pointing nowhere: {broken[:5]}")
