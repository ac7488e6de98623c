"""The public lists of projects a page at a time (issue 17): `GET /api/v1/projects` and the
/projects page by `after` and `limit`, a project's own page, and the refusals of bad
bounds, on both backends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qinglu.core.errors import InvalidInput
from qinglu.core.paging import MAX_ID, MAX_LIMIT, Paging, read_paging
from qinglu.registry import actions as registry
from qinglu.web.app import create_app
from tests import factories as f
from tests.links import next_link

NEXT_PAGE = re.compile(r'<a href="(?P<url>[^"]+)" rel="next">')


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def projects(session: Session, count: int) -> list[int]:
    return [f.project(session) for _ in range(count)]


def issue(session: Session, project: int, account: int, times: int) -> None:
    for vintage in range(2001, 2001 + times):
        registry.issue(session, project_id=project, vintage=vintage, quantity=100 * vintage,
                       to_account=account, actor="test")




def test_paging_through_the_api_visits_each_project_once(client: TestClient,
                                                         session: Session) -> None:
    made = projects(session, 23)
    seen: list[int] = []
    url: str | None = "/api/v1/projects?limit=7"
    pages = 0
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body) <= 7
        assert set(body[0]) == {"id", "name", "product", "region", "methodology", "status",
                                "owner_holder_id"}
        seen += [p["id"] for p in body]
        url = next_link(response)
        if url is not None:
            assert url.startswith("http://testserver/api/v1/projects?")
            assert url.endswith(f"after={body[-1]['id']}&limit=7")
        pages += 1
    assert seen == made and pages == 4  # 7 + 7 + 7 + 2, no empty page at the end


def test_the_api_has_a_default_and_a_maximum_page(client: TestClient, session: Session) -> None:
    made = projects(session, 3)
    whole = client.get("/api/v1/projects")
    assert [p["id"] for p in whole.json()] == made and next_link(whole) is None
    exact = client.get("/api/v1/projects?limit=3")
    assert len(exact.json()) == 3 and next_link(exact) is None  # no more: no link
    one = client.get("/api/v1/projects", params={"after": made[0], "limit": 1})
    assert [p["id"] for p in one.json()] == [made[1]]
    assert next_link(one) == f"http://testserver/api/v1/projects?after={made[1]}&limit=1"
    assert client.get("/api/v1/projects", params={"limit": MAX_LIMIT}).status_code == 200
    beyond = client.get("/api/v1/projects", params={"after": made[-1]})
    assert beyond.json() == [] and next_link(beyond) is None
    assert client.get("/api/v1/projects", params={"after": MAX_ID}).json() == []


@pytest.mark.parametrize(("field", "value"), [
    ("limit", "0"), ("limit", str(MAX_LIMIT + 1)), ("limit", "ten"), ("limit", "1.5"),
    ("limit", "-5"), ("after", "-1"), ("after", "abc"), ("after", " 3"), ("after", "１２"),
    ("after", str(MAX_ID + 1)), ("after", "9" * 400),
])
def test_bad_bounds_are_refused_in_both_languages(client: TestClient, field: str,
                                                  value: str) -> None:
    answer = client.get("/api/v1/projects", params={field: value})
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"].endswith("invalid-input")
    assert problem["detail_zh"].startswith(f"{field} 须为")
    assert problem["detail_en"].startswith(f"{field} must be a whole number")
    assert len(problem["detail"]) < 300  # a long value is not repeated whole
    page = client.get("/projects", params={field: value, "lang": "en"})
    assert page.status_code == 422
    assert f"{field} must be a whole number" in unescape(page.text)


def test_read_paging_reads_what_an_address_carries() -> None:
    assert read_paging(None, None, 50) == Paging(after=0, limit=50)
    assert read_paging("", "", 100) == Paging(after=0, limit=100)  # an emptied form field
    assert read_paging("0", "1", 50) == Paging(after=0, limit=1)
    assert read_paging(str(MAX_ID), str(MAX_LIMIT), 50) == Paging(MAX_ID, MAX_LIMIT)
    with pytest.raises(InvalidInput, match="limit"):
        read_paging("5", "0", 50)
    page = Paging(after=0, limit=2)
    assert page.next_after([4, 9, 12]) == 9 and page.next_after([4, 9]) is None


def test_paging_through_the_page_visits_each_project_once(client: TestClient,
                                                          session: Session) -> None:
    made = projects(session, 12)
    seen: list[int] = []
    url: str | None = "/projects?limit=5&lang=en"
    while url is not None:
        page = client.get(url)
        assert page.status_code == 200, page.text
        rows = [int(i) for i in re.findall(r'<tr data-project="(\d+)">', page.text)]
        assert 0 < len(rows) <= 5
        seen += rows
        found = NEXT_PAGE.search(page.text)
        url = "/projects" + unescape(found["url"]) if found else None
        if url is not None:
            assert ">Next<" in page.text and "lang=en" in url  # the reader's language kept
    assert seen == made
    assert "第一页" in client.get(f"/projects?after={made[4]}&limit=5&lang=zh").text
    assert "下一页" in client.get("/projects?limit=5&lang=zh").text
    assert "下一页" not in client.get("/projects?lang=zh").text  # 12 < 50: one page


def test_the_page_shows_counts_and_the_latest_issuances(client: TestClient,
                                                        session: Session) -> None:
    busy, quiet, empty = projects(session, 3)
    account = f.account(session)
    issue(session, busy, account, 8)
    issue(session, quiet, account, 2)
    page = client.get("/projects", params={"lang": "zh"}).text
    rows = dict(re.findall(r'<tr data-project="(\d+)">(.*?)</tr>', page, re.S))
    busy_row, quiet_row, empty_row = rows[str(busy)], rows[str(quiet)], rows[str(empty)]
    assert 'data-issued="8"' in busy_row and "共 8 次签发" in busy_row
    # Units issued: 100 x (2001 + ... + 2008) base units = 16,036.00 tCO2e.
    assert "16036.00" in busy_row
    vintages = re.findall(r"<div>(\d{4}):", busy_row)
    assert vintages == ["2008", "2007", "2006", "2005", "2004"]  # the latest five
    assert f'<a href="/projects/{busy}">全部 8 次签发</a>' in busy_row
    assert re.findall(r"<div>(\d{4}):", quiet_row) == ["2002", "2001"]
    assert "全部" not in quiet_row and 'data-issued="2"' in quiet_row
    assert 'data-issued="0"' in empty_row and "—" in empty_row


def test_a_projects_own_page_lists_its_issuances_a_page_at_a_time(
        client: TestClient, session: Session) -> None:
    busy, other = projects(session, 2)
    account = f.account(session)
    issue(session, busy, account, 7)
    issue(session, other, account, 1)
    vintages: list[str] = []
    url: str | None = f"/projects/{busy}?limit=3"
    while url is not None:
        page = client.get(url)
        assert page.status_code == 200, page.text
        assert 'data-issued="7"' in page.text
        shown = re.findall(r'<tr data-issuance="\d+"><td>(\d{4})</td>', page.text)
        assert 0 < len(shown) <= 3
        vintages += shown
        found = NEXT_PAGE.search(page.text)
        url = f"/projects/{busy}" + unescape(found["url"]) if found else None
    assert vintages == [str(v) for v in range(2001, 2008)]  # each once, in order made
    assert client.get(f"/projects/{other}").text.count("data-issuance=") == 1
    assert client.get("/projects/999999").status_code == 404
    assert client.get("/projects/99999999999999999999").status_code == 404  # past any id
    assert client.get(f"/projects/{busy}?limit=501").status_code == 422
