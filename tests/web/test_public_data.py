"""Personal data (ASVS V8): an ID number, phone number or credit code typed into a
retirement's beneficiary never reaches a public view, people's names are masked (in
pinyin too), and an account's balance is its holder's and the operator's only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qinglu.accounts import actions as accounts
from qinglu.core.identifiers import contains_identifier, public_beneficiary
from qinglu.registry import actions as registry
from qinglu.web.app import create_app
from tests import factories as f

PASSWORD = "correct horse"
ID_NUMBER = "522629199001011239"


@pytest.mark.parametrize(("typed", "hidden"), [
    (f"王小明（身份证 {ID_NUMBER}）", ["小明", ID_NUMBER, "1239"]),
    ("张三 13800138000", ["三", "13800138000"]),
    ("欧阳娜娜 tel: 0855-1234567", ["娜娜", "1234567"]),
    ("贵州电网有限责任公司 91520100MA0000001X", ["91520100MA0000001X"]),
    ("Wang Xiaoming", ["Xiaoming"]),
])
def test_identifiers_and_names_typed_into_a_beneficiary_are_withheld(
        typed: str, hidden: list[str]) -> None:
    shown = public_beneficiary(typed)
    assert not contains_identifier(shown)
    for part in hidden:
        assert part not in shown


def test_organisations_and_plain_text_are_shown_as_typed() -> None:
    for typed in ("贵州某电力公司", "Acme Corp", "2023年度碳中和"):
        assert public_beneficiary(typed) == typed


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def bearer(client: TestClient, name: str) -> dict[str, str]:
    answer = client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_an_id_number_in_a_beneficiary_is_not_on_the_public_retirements_page(
        client: TestClient, session: Session) -> None:
    account = f.account(session, f.org(session))
    registry.issue(session, project_id=f.project(session), vintage=2023, quantity=1_000,
                   to_account=account, actor=f.ACTOR)
    accounts.add_user(session, name="op", role="operator", password=PASSWORD)
    retired = client.post("/api/v1/retirements", headers=bearer(client, "op"), json={
        "account_id": account, "product": "FCS", "quantity": "1.00",
        "beneficiary": f"王小明（身份证 {ID_NUMBER}）", "purpose": "碳中和"})
    assert retired.status_code == 201, retired.text
    page = client.get("/retirements")
    assert page.status_code == 200
    assert "王某" in page.text
    assert ID_NUMBER not in page.text and "王小明" not in page.text


def test_a_balance_is_for_its_holder_and_the_operator_only(
        client: TestClient, session: Session) -> None:
    mine, theirs = f.org(session, name="甲公司"), f.org(session, name="乙公司")
    account = f.account(session, mine)
    f.account(session, theirs)
    accounts.add_user(session, name="op", role="operator", password=PASSWORD)
    accounts.add_user(session, name="mine", role="holder", password=PASSWORD, holder_id=mine)
    accounts.add_user(session, name="theirs", role="holder", password=PASSWORD,
                      holder_id=theirs)
    path = f"/api/v1/accounts/{account}/balance"
    assert client.get(path).status_code == 401  # the anonymous public
    assert client.get(path, headers=bearer(client, "theirs")).status_code == 403
    assert client.get(path, headers=bearer(client, "mine")).status_code == 200
    assert client.get(path, headers=bearer(client, "op")).status_code == 200
