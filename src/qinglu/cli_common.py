"""Options and output helpers shared by every `qinglu` command group."""

from __future__ import annotations

import functools
import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from qinglu.core.errors import QingluError
from qinglu.core.quantities import format_quantity, product_spec
from qinglu.db.engine import default_database_url
from qinglu.db.session import open_database

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="数据库 URL / database URL (default: QINGLU_DATABASE_URL or "
                 "sqlite:///var/qinglu.db)", envvar="QINGLU_DATABASE_URL"),
]
JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON / machine-readable output")]
KeyOption = Annotated[
    str | None, typer.Option("--idempotency-key", help="幂等键 / a repeat moves nothing")
]

console = Console()
err_console = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


def actor() -> str:
    return os.environ.get("QINGLU_ACTOR") or f"cli:{getpass.getuser()}"


VAR_DIR_ENV = "QINGLU_VAR_DIR"


def var_dir_beside(db: str | None) -> None:
    """Keys, PDFs and checkpoints go beside a SQLite database file (`--db
    sqlite:///cases/qinglu.db` -> `cases/`), not into `./var` of wherever the command
    runs; QINGLU_VAR_DIR, when set, says where instead. A server database has no file:
    ./var stays the default then."""
    if os.environ.get(VAR_DIR_ENV):
        return
    url = make_url(db or default_database_url())
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        os.environ[VAR_DIR_ENV] = str(Path(url.database).parent)


@contextmanager
def session_for(db: str | None) -> Iterator[Session]:
    var_dir_beside(db)
    factory = open_database(db)
    session = factory()
    try:
        yield session
    finally:
        session.close()
        bind = factory.kw.get("bind")
        if bind is not None:
            bind.dispose()


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]错误 Error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def refused(problems: list[tuple[str, str]]) -> typer.Exit:
    """An all-or-nothing import was refused: name each bad row, then fail; a single
    problem (a file that cannot be read at all) is one line."""
    if len(problems) == 1:
        where, reason = problems[0]
        return fail(f"{where}: {reason}（未写入 nothing written）")
    for where, reason in problems:
        console.print(f"[red]✘[/red] {where}: {reason}", highlight=False)
    return fail(f"{len(problems)} 处问题，未写入 / problems, nothing written")


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn domain and database errors into a one-line message and a non-zero exit."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except QingluError as exc:
            raise fail(exc.message) from None
        except (OperationalError, ProgrammingError) as exc:
            first_line = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise fail(f"数据库错误 database error: {first_line}") from None

    return wrapper


def quantity_text(product: str, units: int) -> str:
    """Base units as people read them: 5396 units of FCS -> '53.96 tCO2e'."""
    return f"{format_quantity(product, units)} {product_spec(product).unit}"


def _shown(data: dict[str, Any]) -> dict[str, Any]:
    """A result's ledger quantity (an integer of base units beside its product) in the
    product's unit, for a table; JSON output keeps the integer."""
    quantity, product = data.get("quantity"), data.get("product")
    if isinstance(quantity, int) and not isinstance(quantity, bool) \
            and isinstance(product, str):
        try:
            return {**data, "quantity": quantity_text(product, quantity)}
        except QingluError:  # a product this process does not know: the figure as it is
            return data
    return data


def emit(data: Any, as_json: bool, title: str | None = None) -> None:
    """Print a result as JSON, or as a readable key/value table."""
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    if isinstance(data, dict):
        table = Table(title=title, show_header=False)
        table.add_column("field", style="bold")
        # fold: a serial number longer than the terminal is wrapped, never cut
        table.add_column("value", overflow="fold")
        for key, value in _shown(data).items():
            shown = "\n".join(map(str, value)) if isinstance(value, list) else str(value)
            table.add_row(key, shown)
        console.print(table)
    elif isinstance(data, list):
        emit_rows(data, title)
    else:
        console.print(str(data))


def emit_rows(rows: list[dict[str, Any]], title: str | None = None) -> None:
    if not rows:
        console.print("（无 none）")
        return
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(str(column), overflow="fold")
    for row in map(_shown, rows):
        table.add_row(*(str(row.get(column, "")) for column in rows[0]))
    console.print(table)
