"""The server-side functions' install step: rendered from Python's constants, run after
the migrations, and re-run only for the files whose rendered text changed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text
from typer.testing import CliRunner

from qinglu.cli import app
from qinglu.core.errors import AccountKindNotAllowed
from qinglu.db import server_functions
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.db.migrate import upgrade
from qinglu.registry import actions as registry
from tests import factories as f

runner = CliRunner()


@pytest.fixture
def pg_engine(pg_database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(pg_database_url)
    yield engine
    engine.dispose()


def _functions(connection: Connection) -> dict[str, str]:
    """Each of our functions by signature, with the transaction that last wrote it."""
    return {str(signature): str(xmin) for signature, xmin in connection.execute(text(
        "SELECT p.oid::regprocedure::text, p.xmin::text FROM pg_proc p "
        "WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'qinglu%'"))}


def _recorded(connection: Connection) -> dict[str, tuple[str, object]]:
    return {name: (sha256, installed_at) for name, sha256, installed_at in connection.execute(
        text("SELECT name, sha256, installed_at FROM qinglu_installed_sql"))}


def _snapshot(engine: Engine) -> tuple[dict[str, str], dict[str, tuple[str, object]], str]:
    with engine.connect() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        return _functions(connection), _recorded(connection), str(revision)


def test_every_file_renders_with_python_constants() -> None:
    files = server_functions.sql_files()
    names = {file.name for file in files}
    assert {"registry/sql/transfer.sql", "registry/sql/format_serial.sql",
            "market/sql/place_order.sql", "market/sql/settle_order.sql"} <= names
    assert all("{{" not in file.sql for file in files)
    lock = next(file.sql for file in files if file.name == "registry/sql/lock_accounts.sql")
    assert server_functions.sql_text_array(registry.SOURCE_KINDS) in lock
    with pytest.raises(ValueError, match="NOPE"):
        server_functions.render("x.sql", "SELECT {{NOPE}}", {})


def test_upgrade_records_every_file_it_ran(pg_engine: Engine) -> None:
    with pg_engine.connect() as connection:
        recorded = _recorded(connection)
    assert {name: sha for name, (sha, _) in recorded.items()} == {
        file.name: file.sha256 for file in server_functions.sql_files()}


def test_install_reruns_only_the_file_that_changed(pg_engine: Engine) -> None:
    files = server_functions.sql_files()
    index = next(i for i, file in enumerate(files) if file.name == "registry/sql/transfer.sql")
    edited = [*files]
    edited[index] = dataclasses.replace(files[index], sql=files[index].sql + "\n-- edited\n")
    with pg_engine.begin() as connection:
        before = _functions(connection)
        assert server_functions.install(connection) == []
    with pg_engine.begin() as connection:
        assert server_functions.install(connection, edited) == ["registry/sql/transfer.sql"]
    with pg_engine.begin() as connection:
        after = _functions(connection)
        assert server_functions.install(connection, edited) == []
    changed = {signature for signature in before if before[signature] != after[signature]}
    assert changed == {"qinglu_transfer(integer,integer,text,bigint,integer,integer,text,text,"
                       "text)"}
    with pg_engine.begin() as connection:  # the file's own text again
        assert server_functions.install(connection) == ["registry/sql/transfer.sql"]


def test_db_upgrade_twice_is_a_no_op_the_second_time(pg_database_url: str,
                                                     pg_engine: Engine) -> None:
    # As a database migrated before the functions had their own files: nothing recorded.
    with pg_engine.begin() as connection:
        connection.execute(text("DROP TABLE qinglu_installed_sql"))
    first = runner.invoke(app, ["db", "upgrade", "--db", pg_database_url])
    assert first.exit_code == 0, first.output
    installed = _snapshot(pg_engine)
    assert set(installed[1]) == {file.name for file in server_functions.sql_files()}
    second = runner.invoke(app, ["db", "upgrade", "--db", pg_database_url])
    assert second.exit_code == 0, second.output
    # Not one function rewritten, not one record touched.
    assert _snapshot(pg_engine) == installed
    assert upgrade(pg_engine) == []


def test_upgrade_replaces_the_functions_of_a_database_at_head(pg_engine: Engine) -> None:
    """A database at head from before: its functions came from migrations 0006 and 0011
    (the serial fields cut to 6 and 12 digits, the old signatures) and nothing is recorded."""
    with pg_engine.begin() as connection:
        connection.execute(text("DROP TABLE qinglu_installed_sql"))
        connection.execute(text(
            "CREATE OR REPLACE FUNCTION qinglu_zero_pad(p_number bigint, p_width integer) "
            "RETURNS text LANGUAGE sql AS $$ SELECT lpad(p_number::text, p_width, '0') $$"))
        connection.execute(text(
            "CREATE FUNCTION qinglu_append_entry(text, text, text, jsonb) RETURNS jsonb "
            "LANGUAGE sql AS $$ SELECT NULL::jsonb $$"))
    ran = upgrade(pg_engine)
    assert set(ran) == {file.name for file in server_functions.sql_files()}
    with pg_engine.connect() as connection:
        assert connection.execute(text(
            "SELECT qinglu_format_serial('FCS', '522629', 1000000, 2024, 1000000000000, "
            "1000000000009)")).scalar_one() \
            == "QL-FCS-522629-P1000000-2024-1000000000000-1000000000009"
        signatures = set(_functions(connection))
    assert "qinglu_append_entry(text,text,text,jsonb)" not in signatures
    with make_session_factory(pg_engine)() as session:
        seller, _project, _issued = f.issued_account(session, quantity=100)
        moved = registry.transfer(session, from_account=seller, to_account=f.account(session),
                                  product="FCS", quantity=5, actor=f.ACTOR)
    assert moved["serials"] == ["QL-FCS-522629-P000001-2023-000000000001-000000000005"]


def test_account_kinds_are_rendered_from_python(pg_database_url: str, pg_engine: Engine,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Change which kinds may receive units in Python, and the next install changes the one
    file that uses them; both paths then refuse alike."""
    monkeypatch.setattr(registry, "DESTINATION_KINDS", ("holding", "buffer"))
    with pg_engine.begin() as connection:
        assert server_functions.install(connection) == ["registry/sql/lock_accounts.sql"]
    python_path = make_engine(pg_database_url, server_functions=False)
    refusals = []
    for engine in (pg_engine, python_path):
        with make_session_factory(engine)() as session:
            seller, _project, _issued = f.issued_account(session, quantity=100)
            escrow = f.account(session, kind="escrow")
            with pytest.raises(AccountKindNotAllowed) as refused:
                registry.transfer(session, from_account=seller, to_account=escrow,
                                  product="FCS", quantity=5, actor=f.ACTOR)
            refusals.append((refused.value.zh.replace(str(escrow), "#"),
                             refused.value.en.replace(str(escrow), "#")))
    python_path.dispose()
    assert refusals[0] == refusals[1]
    assert refusals[0][1] == "cannot transfer into escrow account # (retire or cancel instead)"


def test_sqlite_has_no_server_functions(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    assert upgrade(engine) == []
    assert upgrade(engine) == []
    with engine.connect() as connection:
        tables = connection.execute(text("SELECT name FROM sqlite_master")).scalars().all()
    engine.dispose()
    assert "qinglu_installed_sql" not in tables
