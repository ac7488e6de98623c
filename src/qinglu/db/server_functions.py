"""The PostgreSQL path's server-side functions: installed from each feature's `sql/` folder.

On PostgreSQL a transfer, a market order and a payment run in PL/pgSQL functions (one
round trip instead of dozens of ORM statements). Their source lives beside the feature
whose rule they carry (`registry/sql/*.sql`, `market/sql/*.sql`); migrations hold the
schema only. `qinglu db upgrade` runs `install` after the migrations, in the same
transaction:

- each file's constants (`{{NAME}}` placeholders) are rendered from the Python
  definitions the Python path uses (account kinds that may give and take units, serial
  widths, the registry code, the products' decimals), so the two paths cannot disagree
  on them;
- a file runs only when the SHA-256 of its rendered text differs from the one recorded
  in `qinglu_installed_sql` (or none is), so a second upgrade changes nothing, and a
  changed file (or constant) replaces its functions with `CREATE OR REPLACE`. A file
  that changes a function's arguments or result drops the old signature first.

Files run feature by feature in `SQL_FEATURES` order, then by name. A PL/pgSQL body is
resolved when first called, so it may call any function; a LANGUAGE sql body is checked
when created, so it calls only functions made before it (earlier in its own file).
SQLite has no server-side functions: there `install` does nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text

PACKAGE = Path(__file__).resolve().parent.parent
# Features with server-side SQL, in install order (the market's functions use the registry's).
SQL_FEATURES = ("registry", "market")
TABLE = "qinglu_installed_sql"
_PLACEHOLDER = re.compile(r"\{\{([A-Z_]+)\}\}")
# Taken for the install's transaction, so concurrent upgrades install one after the other.
_LOCK_KEY = 0x71696E676C75  # "qinglu"


@dataclass(frozen=True)
class SqlFile:
    """One rendered file: its path in the package (`registry/sql/transfer.sql`) and the SQL
    that runs."""

    name: str
    sql: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_text_array(values: Iterable[str]) -> str:
    return f"ARRAY[{', '.join(sql_literal(v) for v in values)}]::text[]"


def constants() -> dict[str, str]:
    """The placeholders' values, as SQL, read from the Python path's own definitions."""
    # Imported here: the features sit above db, which only assembles their SQL.
    from qinglu.core import serials
    from qinglu.core.quantities import PRODUCTS
    from qinglu.registry.actions import DESTINATION_KINDS, SOURCE_KINDS

    decimals = " ".join(f"WHEN {sql_literal(code)} THEN {spec.decimals}"
                        for code, spec in sorted(PRODUCTS.items()))
    return {
        "REGISTRY_CODE": sql_literal(serials.REGISTRY_CODE),
        "PROJECT_WIDTH": str(int(serials.PROJECT_WIDTH)),
        "SERIAL_WIDTH": str(int(serials.SERIAL_WIDTH)),
        "SOURCE_KINDS": sql_text_array(SOURCE_KINDS),
        "DESTINATION_KINDS": sql_text_array(DESTINATION_KINDS),
        "PRODUCT_DECIMALS": f"CASE p_product {decimals} END",
    }


def render(name: str, template: str, values: Mapping[str, str]) -> str:
    """The file's text with every `{{NAME}}` replaced; an unknown name is an error."""

    def value(match: re.Match[str]) -> str:
        try:
            return values[match[1]]
        except KeyError:
            raise ValueError(f"{name}: no value for placeholder {{{{{match[1]}}}}}") from None

    return _PLACEHOLDER.sub(value, template)


def source_paths() -> list[Path]:
    return [path for feature in SQL_FEATURES
            for path in sorted((PACKAGE / feature / "sql").glob("*.sql"))]


def sql_files() -> list[SqlFile]:
    """Every feature's SQL files, rendered, in install order."""
    values = constants()
    files = []
    for path in source_paths():
        name = path.relative_to(PACKAGE).as_posix()
        files.append(SqlFile(name, render(name, path.read_text(encoding="utf-8"), values)))
    return files


def fingerprint() -> str:
    """One hash of everything `install` would write (e.g. to name a migrated template)."""
    digest = hashlib.sha256()
    for file in sql_files():
        digest.update(f"{file.name}\0{file.sha256}\0".encode())
    return digest.hexdigest()


def install(connection: Connection, files: Sequence[SqlFile] | None = None) -> list[str]:
    """Run each file whose rendered text changed since it last ran here (all files on a
    database that never recorded any); returns their names. Runs in the connection's
    transaction. Does nothing on a database other than PostgreSQL."""
    if connection.dialect.name != "postgresql":
        return []
    files = sql_files() if files is None else files
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    connection.execute(text(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (name text PRIMARY KEY, sha256 text NOT NULL, "
        "installed_at timestamptz NOT NULL DEFAULT now())"))
    recorded = {name: sha256 for name, sha256
                in connection.execute(text(f"SELECT name, sha256 FROM {TABLE}"))}
    ran = []
    for file in files:
        if recorded.get(file.name) == file.sha256:
            continue
        _run_script(connection, file.sql)
        connection.execute(text(
            f"INSERT INTO {TABLE} (name, sha256) VALUES (:name, :sha256) "
            "ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, installed_at = now()"),
            {"name": file.name, "sha256": file.sha256})
        ran.append(file.name)
    return ran


def _run_script(connection: Connection, sql: str) -> None:
    """Several statements in one go: psycopg sends a query without parameters as it is
    (no %-placeholders to expand), on the connection's open transaction."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()
