"""The single-tree back-office page shows the demo's trees and tree-years; the public and
holders are kept out (trees carry households' data)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qinglu.accounts import actions as accounts
from qinglu.demo import load_demo
from qinglu.web.app import create_app
from tests.web.test_pages import csrf_of


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


@pytest.mark.slow
def test_trees_page(client: TestClient, session: Session) -> None:
    made = load_demo(session)
    accounts.add_user(session, name="op", role="operator", password="correct horse")
    accounts.add_user(session, name="centre", role="holder", password="correct horse",
                      holder_id=made["holders"]["jianhe_centre"])
    anonymous = client.get("/trees", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
    login = client.get("/login")
    client.post("/login", data={"username": "centre", "password": "correct horse",
                                "csrf": csrf_of(login.text)})
    assert client.get("/trees").status_code == 403
    client.cookies.clear()
    login = client.get("/login")
    client.post("/login", data={"username": "op", "password": "correct horse",
                                "csrf": csrf_of(login.text)})
    page = client.get("/trees")
    assert page.status_code == 200
    assert page.text.count('<tr data-tree="') == 2  # the demo household's two trees
    assert "2026" in page.text.split('id="tree-years"')[1]
