"""/metrics in Prometheus's text format: requests by route template, latencies, ledger
writes, the pool; a standby's lag when there is one (tests/db/test_replica.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from qinglu.web.app import create_app
from tests import factories as f


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_latencies_ledger_and_pool(client: TestClient, session: Session) -> None:
    _account, _project, issued = f.issued_account(session, quantity=1_000)
    serial = issued["serials"][0]
    before = samples(client)
    for _ in range(3):
        assert client.get(f"/api/v1/units/{serial}").status_code == 200
    assert client.get("/api/v1/units/QL-FCS-000000-P000001-2023-1-1").status_code >= 400
    f.issued_account(session, quantity=10)  # holder, account, project, issuance
    after = samples(client)

    route = {"method": "GET", "route": "/api/v1/units/{serial}"}
    assert value(after, "qinglu_http_requests_total", status="200", **route) - value(
        before, "qinglu_http_requests_total", status="200", **route) == 3
    assert value(after, "qinglu_http_request_duration_seconds_count", **route) - value(
        before, "qinglu_http_request_duration_seconds_count", **route) == 4
    # A serial (or anything else a path carries) never becomes a label.
    assert not any(serial in str(labels) for _name, labels in after)
    assert value(after, "qinglu_ledger_entries_total") - value(
        before, "qinglu_ledger_entries_total") == 4
    assert value(after, "qinglu_db_pool_connections", database="primary", state="size") >= 1
    assert ("qinglu_db_pool_connections",
            (("database", "primary"), ("state", "checked_out"))) in after


def test_request_id_is_returned_and_kept_when_sane(sqlite_database_url: str) -> None:
    with TestClient(create_app(sqlite_database_url)) as client:
        given = client.get("/health", headers={"X-Request-ID": "proxy-abc.123"})
        assert given.headers["X-Request-ID"] == "proxy-abc.123"
        made = client.get("/health", headers={"X-Request-ID": "bad id;<x>" * 10})
    assert "<x>" not in made.headers["X-Request-ID"]
    assert len(made.headers["X-Request-ID"]) == 32


def test_an_in_memory_database_is_scraped_too() -> None:
    """`sqlite://` runs on a StaticPool, whose `size` is a number rather than a reading."""
    with TestClient(create_app("sqlite://")) as memory_client:
        pools = {labels: value for (name, labels), value in samples(memory_client).items()
                 if name == "qinglu_db_pool_connections"}
    assert all(value >= 0 for value in pools.values())
