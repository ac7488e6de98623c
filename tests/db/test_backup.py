"""`qinglu backup FILE` and `qinglu restore FILE`: a copy taken while the ledger has a
given head, restored after more writes, brings back exactly that head and passes the
audit, on SQLite and PostgreSQL."""

from __future__ import annotations

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
