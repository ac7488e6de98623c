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
from tests.web.test_pages import csrf_of


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(database_url)) as test_client:
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
    done = client.post(f"/monitoring/{report['id']}/step",
                       data={"step": "approve", "csrf": csrf_of(page)})
    assert "approved" in done.text
    page = sign_in(client, "op")
    issued = client.post(f"/monitoring/{report['id']}/step",
                         data={"step": "issue", "csrf": csrf_of(page)})
    assert "issued" in issued.text
    pdf = client.get(f"/monitoring/{report['id']}/report.pdf")
    assert pdf.content.startswith(b"%PDF")
