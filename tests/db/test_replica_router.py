"""The read router without a cluster: WAL positions as clients send them back, which
requests a standby may serve, and a standby that does not answer."""

from __future__ import annotations

import logging

import pytest

from qinglu.db.engine import make_engine, make_read_engine
from qinglu.db.replica import ReadRouter, parse_lsn
from qinglu.web.deps import is_public_read
from tests.db.cluster import free_port


def test_wal_positions_parse_and_order() -> None:
    assert parse_lsn("0/0") == 0
    assert parse_lsn("16/B374D848") == (0x16 << 32) | 0xB374D848
    assert parse_lsn("1/0") > parse_lsn("0/FFFFFFFF")  # type: ignore[operator]
    for junk in (None, "", "16", "x/y", "123456789/0", "1/2/3", "1/2; DROP"):
        assert parse_lsn(junk) is None


def test_only_public_gets_and_heads_may_go_to_the_standby() -> None:
    assert is_public_read("GET", "/api/v1/units/QL-FCS-1")
    assert is_public_read("HEAD", "/projects")
    assert is_public_read("GET", "/api/v1/exports/cadt.json")
    assert not is_public_read("POST", "/api/v1/projects")
    assert not is_public_read("GET", "/account")  # a signed-in page
    assert not is_public_read("GET", "/green/desk")
    assert not is_public_read("GET", "/api/v1/certificates/QL-CN-2026-000001/pdf")


def test_a_standby_that_does_not_answer_sends_reads_to_the_primary(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QINGLU_READ_DATABASE_URL", raising=False)
    primary = make_engine("sqlite://")
    standby = make_read_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x")
    assert standby is not None
    reads = ReadRouter(primary, standby, check_every=0)
    assert reads.engine_for(None) is primary  # never probed: not trusted yet
    with caplog.at_level(logging.WARNING, "qinglu.db.replica"):
        reads.refresh()
        reads.refresh()
    assert reads.engine_for(None) is primary and reads.state.usable is False
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1  # once per change of state, not once per probe
    assert make_read_engine(None) is None  # no QINGLU_READ_DATABASE_URL: no standby
    standby.dispose()
