"""Back-office monitoring page: verifier approves, operator issues, roles enforced."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qinglu.accounts import actions as accounts
from qinglu.web.app import create_app
from tests.forestry.test_monitoring import import_two, owned_project, submit
from tests.market.test_market_pages import entries, shown_twice
from tests.web.test_pages import csrf_of


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(database_url), follow_redirects=False) as test_client:
        yield test_client


def sign_in(client: TestClient, name: str) -> str:
    client.cookies.clear()
    login = client.get("/login")
    client.post("/login", data={"username": name, "password": "correct horse",
                                "csrf": csrf_of(login.text)})
    page = client.get("/monitoring")
    assert page.status_code == 200, page.text
    return page.text


def test_monitoring_page_steps(client: TestClient, session: Session, tmp_path: Path) -> None:
    project, _ = owned_project(session)
    import_two(session, tmp_path, project)
    report = submit(session, project)
    for name, role in [("op", "operator"), ("ver", "verifier")]:
        accounts.add_user(session, name=name, role=role, password="correct horse")
    page = sign_in(client, "op")
    assert "submitted" in page and 'value="approve"' not in page
    refused = client.post(f"/monitoring/{report['id']}/step",
                          data={"step": "approve", "csrf": csrf_of(page)})
    assert refused.status_code == 403
    page = sign_in(client, "ver")
    written = entries(session)
    refused = client.post(f"/monitoring/{report['id']}/step?lang=en",
                          data={"step": "reject", "reasons": "  ", "csrf": csrf_of(page)})
    assert refused.status_code == 422 and entries(session) == written
    assert 'id="monitoring-error"' in refused.text and 'value="  "' in refused.text
    assert "must not be empty" in refused.text
    done = client.post(f"/monitoring/{report['id']}/step",
                       data={"step": "approve", "csrf": csrf_of(page)})
    assert done.status_code == 303
    assert done.headers["location"] == (f"/monitoring?message=report-approved"
                                        f"&report={report['id']}")
    shown_twice(client, session, done.headers["location"],
                f"report #{report['id']} is approved", 'data-code="approved"')
    page = sign_in(client, "op")
    issued = client.post(f"/monitoring/{report['id']}/step",
                         data={"step": "issue", "csrf": csrf_of(page)})
    assert issued.status_code == 303
    shown_twice(client, session, issued.headers["location"] + "&lang=zh",
                f"监测报告 #{report['id']} 已签发碳票 ", 'data-code="issued"')
    twice = client.post(f"/monitoring/{report['id']}/step",
                        data={"step": "issue", "csrf": csrf_of(page)})
    assert twice.status_code == 422 and 'id="message"' not in twice.text
    pdf = client.get(f"/monitoring/{report['id']}/report.pdf")
    assert pdf.content.startswith(b"%PDF")
