"""A real hot standby: public reads served by it, a writer reading its own writes from
the primary, fallback to the primary when the standby lags or stops."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from qinglu.accounts import actions as accounts
from qinglu.db.engine import make_engine, make_session_factory
from qinglu.db.migrate import upgrade
from qinglu.db.replica import LSN_HEADER, ReadRouter, parse_lsn
from qinglu.registry import actions as registry
from qinglu.web.app import create_app
from tests import factories as f
from tests.db.cluster import Server, available, init_primary, init_standby, work_folder

pytestmark = [pytest.mark.slow, pytest.mark.postgres,
              pytest.mark.skipif(not available(), reason="PostgreSQL 15 binaries absent")]


@dataclass
class Cluster:
    folder: Path
    primary: Server
    standby: Server
    primary_engine: Engine
    standby_engine: Engine
    factory: sessionmaker[Session]

    def caught_up(self, timeout: float = 20) -> None:
        """Wait until the standby has replayed everything the primary committed."""
        with self.primary_engine.connect() as connection:
            target = connection.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.standby_engine.connect() as connection:
                replayed = connection.execute(
                    text("SELECT pg_last_wal_replay_lsn()::text")).scalar_one()
            if (parse_lsn(replayed) or 0) >= (parse_lsn(target) or 0):
                return
            time.sleep(0.05)
        raise AssertionError("standby did not catch up")

    def replay(self, running: bool) -> None:
        with self.standby_engine.connect() as connection:
            call = "pg_wal_replay_resume()" if running else "pg_wal_replay_pause()"
            connection.execute(text(f"SELECT {call}"))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    folder = work_folder()
    primary = init_primary(folder)
    standby: Server | None = None
    engines: list[Engine] = []
    try:
        admin = make_engine(primary.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("CREATE DATABASE qinglu"))
        admin.dispose()
        primary_engine = make_engine(primary.url("qinglu"))
        engines.append(primary_engine)
        upgrade(primary_engine)
        standby = init_standby(folder, primary)
        standby_engine = make_engine(standby.url("qinglu"))
        engines.append(standby_engine)
        yield Cluster(folder, primary, standby, primary_engine, standby_engine,
                      make_session_factory(primary_engine))
    finally:
        for engine in engines:
            engine.dispose()
        if standby is not None:
            standby.stop()
        primary.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def world(cluster: Cluster) -> dict[str, Any]:
    with cluster.factory() as session:
        _account, _project, issued = f.issued_account(session, quantity=5_000)
        accounts.add_user(session, name="op", role="operator", password="correct horse")
    cluster.caught_up()
    return {"serial": issued["serials"][0]}


@pytest.fixture(scope="module")
def app(cluster: Cluster) -> Any:
    application = create_app(cluster.primary.url("qinglu"),
                             read_database_url=cluster.standby.url("qinglu"))
    reads: ReadRouter = application.state.read_router
    reads.check_every = 0  # probe on every read: the tests change the standby's state
    reads.max_lag = 600  # paused replay is "behind", but not past this limit
    return application


def project_names(client: TestClient, **headers: str) -> set[str]:
    response = client.get("/api/v1/projects", headers=headers)
    assert response.status_code == 200, response.text
    return {p["name"] for p in response.json()}


def test_public_reads_are_served_by_the_standby(cluster: Cluster, world: dict[str, Any],
                                                app: Any) -> None:
    reads: ReadRouter = app.state.read_router
    reads.refresh()
    engine = reads.engine_for(None)
    assert engine is reads.standby
    with engine.connect() as connection:
        assert connection.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is True

    cluster.replay(running=False)
    try:
        with cluster.factory() as session:  # committed on the primary, not yet replayed
            registry.add_project(session, name="只在主库的项目", product="FCS",
                                 region="522629", methodology="GZ-FCS-001", actor="test")
            _acct, _proj, issued = f.issued_account(session, quantity=7)
        new_serial = issued["serials"][0]
        with TestClient(app) as public:
            assert "只在主库的项目" not in project_names(public)
            assert public.get(f"/api/v1/units/{world['serial']}").status_code == 200
            assert public.get(f"/api/v1/units/{new_serial}").status_code in (404, 422)
            assert public.get("/projects").status_code == 200
            assert public.get("/retirements").status_code == 200
            assert public.get("/api/v1/market/prices").status_code == 200
            assert public.get("/api/v1/ledger/head").status_code == 200
    finally:
        cluster.replay(running=True)
    cluster.caught_up()
    with TestClient(app) as public:
        assert "只在主库的项目" in project_names(public)
        assert public.get(f"/api/v1/units/{new_serial}").status_code == 200
        metrics = public.get("/metrics").text
    assert "qinglu_replica_usable 1.0" in metrics
    assert "qinglu_replica_lag_seconds " in metrics
    assert 'qinglu_db_pool_connections{database="standby",state="size"}' in metrics


def test_a_writer_reads_its_own_writes(cluster: Cluster, world: dict[str, Any],
                                       app: Any) -> None:
    cluster.replay(running=False)
    try:
        with TestClient(app) as writer, TestClient(app) as other:
            login = writer.post("/api/v1/auth/token",
                                data={"username": "op", "password": "correct horse"})
            assert login.status_code == 200
            op = {"Authorization": f"Bearer {login.json()['access_token']}"}
            created = writer.post("/api/v1/projects", headers={**op, "Idempotency-Key": "p1"},
                                  json={"name": "刚写的项目", "product": "FCS",
                                        "region": "522629", "methodology": "GZ-FCS-001"})
            assert created.status_code == 201, created.text
            lsn = created.headers[LSN_HEADER]
            assert parse_lsn(lsn) is not None
            assert "qinglu_lsn" in writer.cookies
            assert "刚写的项目" in project_names(writer)  # its cookie: the primary
            assert "刚写的项目" not in project_names(other)  # the standby, paused behind
            # An API client sends the position back as a header.
            assert "刚写的项目" in project_names(other, **{LSN_HEADER: lsn})
    finally:
        cluster.replay(running=True)
    cluster.caught_up()
    with TestClient(app) as other:
        assert "刚写的项目" in project_names(other)


def test_a_lagging_standby_sends_reads_to_the_primary(
        cluster: Cluster, world: dict[str, Any], app: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    reads: ReadRouter = app.state.read_router
    cluster.replay(running=False)
    try:
        with cluster.factory() as session:
            registry.add_project(session, name="备库落后时写的项目", product="FCS",
                                 region="522629", methodology="GZ-FCS-001", actor="test")
        time.sleep(0.2)
        reads.max_lag = 0.1
        with caplog.at_level(logging.WARNING, "qinglu.db.replica"), TestClient(app) as public:
            assert "备库落后时写的项目" in project_names(public)
        assert any("behind" in r.getMessage() for r in caplog.records)
    finally:
        reads.max_lag = 600
        cluster.replay(running=True)
    cluster.caught_up()


def test_reads_fall_back_to_the_primary_when_the_standby_stops(
        cluster: Cluster, world: dict[str, Any], app: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    cluster.standby.stop()
    with cluster.factory() as session:
        registry.add_project(session, name="备库停后写的项目", product="FCS",
                             region="522629", methodology="GZ-FCS-001", actor="test")
    with caplog.at_level(logging.WARNING, "qinglu.db.replica"), TestClient(app) as public:
        assert "备库停后写的项目" in project_names(public)
        assert public.get(f"/api/v1/units/{world['serial']}").status_code == 200
    assert any("unreachable" in r.getMessage() or "failed" in r.getMessage()
               for r in caplog.records)
