"""Signed checkpoints of the ledger head reveal a rewrite: a database restored from an
older copy (two acknowledged writes gone) fails `qinglu audit verify`, against the
registry's own published file and against a stranger's saved copy; so does a history
rewritten with the hash chain recomputed, which the chain alone cannot see."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.cli import app
from qinglu.core.ledger import entry_hash
from qinglu.db.engine import make_engine
from qinglu.registry import actions as registry
from qinglu.web.app import create_app
from tests import factories as f
from tests.conftest import TEST_DB_PREFIX, with_database

runner = CliRunner()


def qinglu(url: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, [*args, "--db", url, "--json"])
    start = result.stdout.find("{")
    return result.exit_code, (json.loads(result.stdout[start:]) if start >= 0 else {})


@pytest.fixture(autouse=True)
def own_checkpoint_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QINGLU_CHECKPOINT_DIR", str(tmp_path / "published"))


def two_writes(url: str, source: int, target: int) -> None:
    engine = make_engine(url)
    with Session(engine) as session:
        for quantity in (100, 200):
            registry.transfer(session, from_account=source, to_account=target,
                              product="FCS", quantity=quantity, actor="test")
    engine.dispose()


def seeded(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    with Session(engine) as session:
        source, _project, _issued = f.issued_account(session, quantity=10_000)
        target = f.account(session)
    engine.dispose()
    return source, target


class Copier:
    """An older copy of a database, as a backup restore would bring back."""

    def __init__(self, request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> None:
        self.request, self.backend, self.tmp_path = request, backend, tmp_path
        self.made: list[str] = []

    def copy(self, url: str) -> str:
        if self.backend == "sqlite":
            source = Path(make_url(url).database or "")
            target = self.tmp_path / f"older-{uuid.uuid4().hex[:6]}.db"
            shutil.copyfile(source, target)
            return f"sqlite:///{target}"
        databases = self.request.getfixturevalue("pg_databases")
        name = f"{TEST_DB_PREFIX}{databases.token}_{uuid.uuid4().hex[:12]}"
        source_name = make_url(url).database
        databases.anchor.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source_name}"'))
        copy = with_database(url, name)
        self.made.append(copy)
        return copy

    def close(self) -> None:
        if self.made:
            databases = self.request.getfixturevalue("pg_databases")
            for url in self.made:  # ours alone: dropped here, never handed to the pool
                name = make_url(url).database
                databases.anchor.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def copier(request: pytest.FixtureRequest, backend: str,
           tmp_path: Path) -> Iterator[Copier]:
    made = Copier(request, backend, tmp_path)
    yield made
    made.close()


def test_a_database_restored_from_an_older_copy_is_caught(
        database_url: str, copier: Copier, tmp_path: Path) -> None:
    source, target = seeded(database_url)
    code, first = qinglu(database_url, "audit", "checkpoint")
    assert code == 0, first
    older = copier.copy(database_url)  # the backup, taken here
    two_writes(database_url, source, target)  # acknowledged after the backup
    code, later = qinglu(database_url, "audit", "checkpoint")
    assert code == 0 and later["sequence"] == first["sequence"] + 2
    code, report = qinglu(database_url, "audit", "verify")
    assert code == 0 and report["valid"], report
    # A stranger saved the published checkpoints.
    with TestClient(create_app(database_url)) as client:
        saved = tmp_path / "checkpoints.json"
        saved.write_text(client.get("/api/v1/ledger/checkpoints").text)
        page = client.get("/ledger/checkpoints")
        assert page.status_code == 200 and later["hash"] in page.text
    # The older copy passes the chain audit alone, and is refused by the checkpoints.
    code, report = qinglu(older, "audit", "verify")
    assert code != 0 and not report["valid"]
    assert any("behind a published checkpoint" in p and "2 acknowledged entries are gone"
               in p for p in report["problems"]), report["problems"]
    # The stranger's copy catches it even when the registry's published file is gone.
    shutil.rmtree(tmp_path / "published")
    code, report = qinglu(older, "audit", "verify", "--against", str(saved))
    assert code != 0
    assert any("behind a published checkpoint" in p for p in report["problems"])


def test_a_rewritten_history_with_a_recomputed_chain_is_caught(
        database_url: str, session: Session) -> None:
    source, target = seeded(database_url)
    two_writes(database_url, source, target)
    code, made = qinglu(database_url, "audit", "checkpoint")
    assert code == 0
    _rewrite_entry(session, made["sequence"] - 1)
    code, report = qinglu(database_url, "audit", "verify")
    assert code != 0
    assert any("inconsistent with checkpoint" in p for p in report["problems"]), report


def test_a_deleted_entry_is_caught(database_url: str, session: Session) -> None:
    source, target = seeded(database_url)
    two_writes(database_url, source, target)
    code, made = qinglu(database_url, "audit", "checkpoint")
    assert code == 0
    last = made["sequence"]
    session.execute(text("DELETE FROM ledger_entries WHERE sequence = :s"), {"s": last})
    session.execute(text("UPDATE ledger_head SET sequence = :s, hash = (SELECT hash FROM "
                         "ledger_entries WHERE sequence = :s)"), {"s": last - 1})
    session.commit()
    code, report = qinglu(database_url, "audit", "verify")
    assert code != 0
    assert any("behind a published checkpoint" in p for p in report["problems"])


def test_a_forged_checkpoint_is_refused(database_url: str, tmp_path: Path) -> None:
    seeded(database_url)
    code, made = qinglu(database_url, "audit", "checkpoint")
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({"checkpoints": [{**made, "sequence": made["sequence"] + 5}]}))
    code, report = qinglu(database_url, "audit", "verify", "--against", str(forged))
    assert code != 0
    assert any("not signed by this registry" in p for p in report["problems"])


def _rewrite_entry(session: Session, sequence: int) -> None:
    """Edit one entry's actor and recompute every hash after it: a consistent chain that
    is not the history the registry published."""
    rows = session.execute(text(
        "SELECT sequence, recorded_at, actor, kind, idempotency_key, body, prev_hash "
        "FROM ledger_entries WHERE sequence >= :s ORDER BY sequence"), {"s": sequence}).all()
    previous = rows[0].prev_hash
    for row in rows:
        actor = "someone-else" if row.sequence == sequence else row.actor
        digest = entry_hash(row.sequence, row.recorded_at, actor, row.kind,
                            row.idempotency_key, row.body, previous)
        session.execute(text("UPDATE ledger_entries SET actor = :a, prev_hash = :p, hash = :h "
                             "WHERE sequence = :s"),
                        {"a": actor, "p": previous, "h": digest, "s": row.sequence})
        previous = digest
    session.execute(text("UPDATE ledger_head SET hash = :h"), {"h": previous})
    session.commit()


def test_a_serving_registry_publishes_checkpoints_by_itself(
        database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from qinglu.documents import api as documents_api

    seeded(database_url)
    monkeypatch.setattr(documents_api, "CHECKPOINT_SECONDS", 0.05)
    with TestClient(create_app(database_url)) as client:
        deadline = time.monotonic() + 10
        published: list[dict[str, Any]] = []
        while not published and time.monotonic() < deadline:
            time.sleep(0.1)
            engine = make_engine(database_url)
            with Session(engine) as session:
                from qinglu.registry import checkpoints

                published = checkpoints.published_checkpoints(
                    session, refresh=False)["checkpoints"]
            engine.dispose()
        assert published, "no checkpoint was published while serving"
        head = client.get("/api/v1/ledger/checkpoints").json()["checkpoints"][-1]
        assert head["sequence"] == published[-1]["sequence"]
