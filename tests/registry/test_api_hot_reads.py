"""The busiest public reads (serial look-up, verification) as plain read routes: they see
every write at once, answer bad input as FastAPI does elsewhere, and stay documented."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Annotated, Any

import anyio
import pytest
from fastapi import APIRouter, Query
from fastapi.responses import Response
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from qinglu.db.raw import RawQuery, Read
from qinglu.registry import actions as registry
from qinglu.web.app import create_app
from qinglu.web.deps import PlainReadRoute
from tests import factories as f


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def test_serial_lookup_follows_every_transfer(client: TestClient, session: Session) -> None:
    seller, _project, issued = f.issued_account(session, quantity=1_000)
    serial = issued["serials"][0]
    assert client.get(f"/api/v1/units/{serial}").json()["account_id"] == seller
    buyer = f.account(session)
    for owner, other in ((seller, buyer), (buyer, seller), (seller, buyer)):
        registry.transfer(session, from_account=owner, to_account=other, product="FCS",
                       quantity=1_000, actor=f.ACTOR)
        found = client.get(f"/api/v1/units/{serial}").json()
        assert found["account_id"] == other and found["state"] == "held"
        assert [b["account_id"] for b in found["blocks"]] == [other]


def test_bad_input_answers_as_elsewhere(client: TestClient) -> None:
    too_long = client.get("/api/v1/certificates/QL-CN-2026-000001/verify",
                          params={"p": "x" * 8001})
    assert too_long.status_code == 422
    assert too_long.headers["content-type"].startswith("application/problem+json")
    assert "query.p" in too_long.json()["detail"] and "8000" in too_long.json()["detail"]
    fine = client.get("/api/v1/certificates/QL-CN-2026-000001/verify", params={"p": "x"})
    assert fine.status_code == 200 and fine.json()["valid"] is False
    malformed = client.get("/api/v1/units/QL-FCS-xx")
    assert malformed.status_code == 422
    assert malformed.json()["title"] == "invalid-serial"
    assert client.post("/api/v1/units/QL-FCS-xx").status_code == 405


def test_plain_routes_stay_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    verify = paths["/api/v1/certificates/{number}/verify"]["get"]
    assert {(p["name"], p["in"]) for p in verify["parameters"]} == {("number", "path"),
                                                                   ("p", "query")}
    assert next(p for p in verify["parameters"] if p["name"] == "p")["schema"][
        "anyOf"][0]["maxLength"] == 8000
    assert verify["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/VerificationOut"}
    unit = paths["/api/v1/units/{serial}"]["get"]
    assert unit["tags"] == ["units"] and "404" in unit["responses"]


def test_each_thread_reads_on_its_own_connection(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("a server database reads on pooled connections")
    reads = create_app(database_url).state.hot_reads
    seen: list[object] = []

    def grab() -> None:
        seen.append(reads._driver_connection())
        seen.append(reads._driver_connection())

    threads = [threading.Thread(target=grab) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen[0] is seen[1] and seen[2] is seen[3] and seen[0] is not seen[2]


NOW_IS_STATEMENT_TIME = RawQuery(
    "SELECT now() = statement_timestamp() AS own, now() AS at, pg_backend_pid() AS pid")


def _two_statements() -> Read[list[dict[str, Any]]]:
    first = yield NOW_IS_STATEMENT_TIME, {}
    second = yield NOW_IS_STATEMENT_TIME, {}
    return [*first, *second, {"thread": threading.current_thread()}]


def test_a_server_database_reads_on_the_loop_without_a_transaction(database_url: str) -> None:
    """On PostgreSQL a hot read's statements go from the event loop's own thread (no
    hand-off to a worker thread), each in a transaction of its own (autocommit: no BEGIN
    and ROLLBACK round trips around them)."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite reads in place on a connection of the thread's own")
    app = create_app(database_url)
    first, second, where = anyio.run(app.state.hot_reads.run, _two_statements)
    assert first["own"] and second["own"] and second["at"] > first["at"]
    assert first["pid"] == second["pid"]
    assert where["thread"] is threading.current_thread()


def test_a_dead_pooled_connection_is_replaced(client: TestClient, session: Session) -> None:
    """The pool does not ping before each read; when the server has dropped its
    connections (a restart), the next look-up still answers, on a fresh connection."""
    if session.get_bind().dialect.name == "sqlite":
        pytest.skip("SQLite has no server to drop connections")
    _seller, _project, issued = f.issued_account(session, quantity=10)
    serial = issued["serials"][0]
    assert client.get(f"/api/v1/units/{serial}").status_code == 200
    session.commit()
    dropped = session.execute(text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND query LIKE '%FROM issuances%'")).scalar_one()
    session.commit()
    assert dropped >= 1
    answers = [client.get(f"/api/v1/units/{serial}") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]


def test_plain_read_route_takes_strings_only() -> None:
    router = APIRouter(route_class=PlainReadRoute)
    with pytest.raises(TypeError, match="not a plain read"):
        @router.get("/things/{thing_id}")
        async def by_id(thing_id: int) -> Response:
            return Response()
    with pytest.raises(TypeError, match="query parameter n"):
        @router.get("/things")
        async def some(n: Annotated[int | None, Query()] = None) -> Response:
            return Response()
