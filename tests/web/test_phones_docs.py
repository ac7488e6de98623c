"""/docs works offline: Swagger UI from the site's own vendored files, no other host."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from qinglu.web.app import create_app


@pytest.fixture
def client(sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(sqlite_database_url)) as test_client:
        yield test_client


def test_docs_reference_no_other_host_and_their_assets_are_served(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    # Every address the page names (src, href, url: '...') is on this site.
    addresses = re.findall(r"""(?:src|href)=["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""",
                           page.text)
    named = [a or b for a, b in addresses]
    assert named and not [a for a in named if re.match(r"(https?:)?//", a)], named
    assert "cdn" not in page.text.lower() and "validator.swagger.io" not in page.text
    for asset in [a for a in named if a.startswith("/static/")]:
        served = client.get(asset)
        assert served.status_code == 200 and len(served.content) > 10_000, asset
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "http" not in policy  # no other host, ever
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN
