"""Engines: PostgreSQL sessions in UTC, and the switch down the Python path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from qinglu.db.engine import make_engine, make_session_factory, on_postgres


def test_postgresql_sessions_read_time_in_utc(pg_database_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGTZ", "Asia/Shanghai")  # as a server set to China's time would
    engine = make_engine(pg_database_url)
    with engine.connect() as connection:
        assert connection.execute(text("SHOW TimeZone")).scalar_one() == "UTC"
        moment = connection.execute(text("SELECT now()")).scalar_one()
    engine.dispose()
    assert moment.utcoffset() == timedelta(0)


def test_python_path_switch(pg_database_url: str) -> None:
    for server_functions in (True, False):
        engine = make_engine(pg_database_url, server_functions=server_functions)
        with make_session_factory(engine)() as session:
            assert on_postgres(session) is server_functions
        engine.dispose()
