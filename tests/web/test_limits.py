"""Load shedding: past the configured number of requests in flight, 503 with Retry-After
at once; static files and health are never refused. JSON nested too deeply is refused
before the parser sees it."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from qinglu.web.app import create_app
from qinglu.web.limits import InFlightLimit, json_depth


class Parked:
    """An app whose requests wait until released, to hold them in flight."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def test_past_the_limit_requests_are_refused_at_once_with_retry_after() -> None:
    async def scenario() -> None:
        inner = Parked()
        app = InFlightLimit(inner, limit=2)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            inside = [asyncio.create_task(client.get("/api/v1/projects")) for _ in range(2)]
            await asyncio.sleep(0.05)
            refused = await asyncio.wait_for(client.get("/api/v1/projects"), timeout=1)
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
            assert refused.headers["content-type"] == "application/problem+json"
            health = asyncio.create_task(client.get("/health"))  # not counted
            await asyncio.sleep(0.05)
            inner.release.set()
            assert [r.status_code for r in await asyncio.gather(*inside)] == [200, 200]
            assert (await health).status_code == 200
            assert app.in_flight == 0
            assert (await client.get("/api/v1/projects")).status_code == 200

    asyncio.run(scenario())


def test_json_depth_counts_brackets_outside_strings_only() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[[\\"[["}]}') == 3
    assert json_depth(b'"{[" ') == 0 and json_depth(b"12") == 0
    assert json_depth(b"[" * 100_000) == 100_000


def test_deeply_nested_json_is_refused_before_it_is_parsed(
        sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(sqlite_database_url)) as client:
        deep = b'{"from_account": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
        started = time.perf_counter()
        refused = client.post("/api/v1/transfers", content=deep,
                              headers={"Content-Type": "application/json"})
        assert refused.status_code == 422  # not 401, not a RecursionError's 500
        assert refused.headers["content-type"] == "application/problem+json"
        assert "too deeply" in refused.json()["detail_en"]
        assert time.perf_counter() - started < 2
        nested = {"from_account": 1, "to_account": 2, "product": "FCS", "quantity": "1.00",
                  "pad": [[[[["ok"]]]]]}
        assert client.post("/api/v1/transfers", json=nested).status_code == 401


def test_serve_gives_spawned_workers_time_to_start_before_health_checks(
        sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker imports the qinglu command before it answers uvicorn's ping; at the 5 s
    default a busy machine's supervisor killed its workers over and over."""
    import uvicorn
    from typer.testing import CliRunner

    from qinglu.cli import app

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    from qinglu.core.logs import CONFIGURE_ENV

    for name in ("QINGLU_DATABASE_URL", CONFIGURE_ENV):
        # serve sets both. delenv of an absent name records nothing to undo, so set it
        # first: the undo then removes whatever serve left, and later tests' apps do not
        # reconfigure logging to stderr as a worker would.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    result = CliRunner().invoke(app, ["serve", "--db", sqlite_database_url, "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert seen["workers"] == 2
    assert int(seen["timeout_worker_healthcheck"]) >= 30  # type: ignore[call-overload]


def test_every_api_operation_taking_a_body_documents_the_413_it_may_answer(
        sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # BodyLimit answers 413 on any address before the route runs; a client reading the
    # schema must find it (schemathesis sent a 1.2 MB report and got an undocumented 413).
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    app = create_app(sqlite_database_url)
    schema = app.openapi()
    taking_bodies = [(method, path, operation)
                     for path, item in schema["paths"].items()
                     for method, operation in item.items() if "requestBody" in operation]
    assert len(taking_bodies) > 20
    undocumented = [f"{method.upper()} {path}" for method, path, operation in taking_bodies
                    if "413" not in operation["responses"]]
    assert undocumented == []
    with TestClient(app) as client:
        refused = client.post("/api/v1/projects/1/monitoring-reports",
                              content=b"{" + b" " * (1 << 20) + b"}",
                              headers={"Content-Type": "application/json"})
        assert refused.status_code == 413
        assert refused.headers["content-type"] == "application/problem+json"
