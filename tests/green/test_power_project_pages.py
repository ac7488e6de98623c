"""`GET /api/v1/gec/projects` and `qinglu gec projects` read the power projects a page at a
time (core.paging, as `/api/v1/projects`): `after` and `limit`, a `Link: <...>;
rel="next"` header while there are more, bad bounds refused; on both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.cli import app as qinglu_app
from qinglu.green import actions as green
from qinglu.registry import actions as registry
from qinglu.web.app import create_app
from tests import factories
from tests.links import next_link

ITEM_FIELDS = {"id", "filing_code", "name", "project_id", "account_id", "technology",
               "commissioned", "self_consumed", "certificates", "carried_kwh", "last_month"}
runner = CliRunner()


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def power_projects(session: Session, count: int) -> list[str]:
    """`count` power projects, their filing codes in the order they were filed."""
    account = factories.account(session)
    codes = [f"W52000000000{index:04d}X" for index in range(1, count + 1)]
    for code in codes:
        green.register_project(session, "test", name=f"风电场 {code}", filing_code_text=code,
                               technology="wind", commissioned=date(2018, 6, 1),
                               region="520000", account_id=account)
    return codes




def test_following_the_next_link_visits_each_project_once(client: TestClient,
                                                          session: Session) -> None:
    codes = power_projects(session, 5)
    seen: list[str] = []
    sizes: list[int] = []
    url: str | None = "/api/v1/gec/projects?limit=2"
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body and all(set(item) == ITEM_FIELDS for item in body)
        assert body[0]["name"] == f"风电场 {body[0]['filing_code']}"
        seen += [item["filing_code"] for item in body]
        sizes.append(len(body))
        url = next_link(response)
        if url is not None:
            assert url == f"http://testserver/api/v1/gec/projects?after={body[-1]['id']}&limit=2"
    assert seen == codes  # each once, in the order filed
    assert sizes == [2, 2, 1]  # no empty page at the end


def test_the_default_page_and_bad_bounds(client: TestClient, session: Session) -> None:
    codes = power_projects(session, 3)
    whole = client.get("/api/v1/gec/projects")
    assert [p["filing_code"] for p in whole.json()] == codes and next_link(whole) is None
    exact = client.get("/api/v1/gec/projects?limit=3")
    assert len(exact.json()) == 3 and next_link(exact) is None
    for field, value in (("limit", "0"), ("limit", "501"), ("after", "-1"), ("after", "x")):
        answer = client.get("/api/v1/gec/projects", params={field: value})
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail_en"].startswith(f"{field} must be a whole number")


def test_the_command_reads_a_page_and_names_the_next(database_url: str,
                                                     session: Session) -> None:
    codes = power_projects(session, 3)
    first = runner.invoke(qinglu_app, ["gec", "projects", "--limit", "2", "--json",
                                       "--db", database_url])
    assert first.exit_code == 0, first.output
    page = json.loads(first.stdout)  # stdout stays the JSON list of the page's projects
    assert [p["filing_code"] for p in page] == codes[:2]
    hint = f"qinglu gec projects --after {page[-1]['id']} --limit 2"
    assert hint in first.stderr
    second = runner.invoke(qinglu_app, ["gec", "projects", "--after", str(page[-1]["id"]),
                                        "--limit", "2", "--json", "--db", database_url])
    assert second.exit_code == 0, second.output
    assert [p["filing_code"] for p in json.loads(second.stdout)] == codes[2:]
    assert "--after" not in second.stderr  # the last page names no next one
    bad = runner.invoke(qinglu_app, ["gec", "projects", "--limit", "0", "--db", database_url])
    assert bad.exit_code == 1 and "limit must be a whole number" in bad.output


def test_a_page_reads_the_names_of_its_own_projects_only(
        session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    """A page of 2 out of 5 projects reads 2 names, not every project's in the registry."""
    power_projects(session, 5)
    read: list[int] = []
    names_of = registry.project_names

    def counted(*args: Any, **kwargs: Any) -> dict[int, str]:
        names = names_of(*args, **kwargs)
        read.append(len(names))
        return names

    monkeypatch.setattr(registry, "project_names", counted)
    page = green.projects_page(session, limit="2")
    assert [p["name"] for p in page["projects"]] == [
        f"风电场 {p['filing_code']}" for p in page["projects"]]
    assert read == [2]
