"""`qinglu backup FILE` and `qinglu restore FILE`: a copy taken while the ledger has a
given head, restored after more writes, brings back exactly that head and passes the
audit, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.cli import app as qinglu_app
from qinglu.db.engine import make_session_factory
from qinglu.registry import actions as registry
from qinglu.registry.audit import audit
from tests import factories as f

runner = CliRunner()


def cli(*args: str) -> str:
    result = runner.invoke(qinglu_app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_backup_and_restore_round_trip(engine: Engine, database_url: str,
                                       tmp_path: Path) -> None:
    factory = make_session_factory(engine)
    with factory() as session:
        a, b = f.account(session, f.org(session)), f.account(session, f.org(session, "乙"))
        registry.issue(session, project_id=f.project(session), vintage=2023,
                       quantity=1_000, to_account=a, actor=f.ACTOR)
        registry.transfer(session, from_account=a, to_account=b, product="FCS",
                          quantity=100, actor=f.ACTOR)
        head = registry.ledger_head_view(session)
    copy = tmp_path / "qinglu.backup"
    output = cli("backup", str(copy), "--db", database_url)
    assert copy.exists() and copy.stat().st_mode & 0o077 == 0
    assert "var/" in output  # the keys are not in it, and it says so
    with factory() as session:
        registry.transfer(session, from_account=a, to_account=b, product="FCS",
                          quantity=7, actor=f.ACTOR)
        assert registry.ledger_head_view(session) != head
    engine.dispose()  # nothing of ours holds the database while it is replaced
    cli("restore", str(copy), "--db", database_url)
    with factory() as session:
        assert registry.ledger_head_view(session) == head
        assert registry.balance(session, b)["FCS"]["held"] == "1.00"
        assert audit(session).ok


def test_restore_refuses_a_missing_backup(database_url: str, tmp_path: Path,
                                          session: Session) -> None:
    result = runner.invoke(qinglu_app, ["restore", str(tmp_path / "none"),
                                        "--db", database_url])
    assert result.exit_code != 0 and "does not exist" in result.output


def _sqlite_file(path: Path, *tables: str) -> Path:
    import sqlite3

    with sqlite3.connect(path) as other:
        for table in tables:
            other.execute(f"CREATE TABLE {table} (id INTEGER)")
    return path


def _written(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("make_bad", [
    lambda folder: _written(folder / "empty.db", b""),
    lambda folder: _written(folder / "text.db", "不是数据库 not a database".encode()),
    lambda folder: _written(folder / "cut.db", b"SQLite format 3\x00" + b"\x00" * 80),
    lambda folder: folder,
    lambda folder: _sqlite_file(folder / "other.db", "notes"),
], ids=["empty file", "text file", "cut short", "a folder", "another application's database"])
def test_restore_refuses_what_is_not_a_backup_and_leaves_the_database(
        make_bad: Callable[[Path], Path], tmp_path: Path) -> None:
    live = tmp_path / "live" / "qinglu.db"
    url = f"sqlite:///{live}"
    cli("db", "upgrade", "--db", url)
    before = live.read_bytes()
    folder = tmp_path / "bad"
    folder.mkdir()
    bad = make_bad(folder)
    result = runner.invoke(qinglu_app, ["restore", str(bad), "--db", url])
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output and "backup" in result.output
    assert live.read_bytes() == before  # nothing replaced
