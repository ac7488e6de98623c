"""Personal data (ASVS V8): an ID number, phone number or credit code typed into a
retirement's beneficiary never reaches a public view, people's names are masked (in
pinyin too), and an account's balance is its holder's and the operator's only."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.accounts import actions as accounts
from qinglu.cli import app
from qinglu.core.identifiers import contains_identifier, public_beneficiary
from qinglu.market import actions as market
from qinglu.registry import actions as registry
from qinglu.web.app import create_app
from tests import factories as f

PASSWORD = "correct horse"
ID_NUMBER = "522629199001011239"
runner = CliRunner()


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


def test_an_id_number_typed_as_beneficiary_is_refused_and_nothing_is_written(
        client: TestClient, session: Session, database_url: str) -> None:
    account = f.account(session, f.org(session))
    registry.issue(session, project_id=f.project(session), vintage=2023, quantity=1_000,
                   to_account=account, actor=f.ACTOR)
    accounts.add_user(session, name="op", role="operator", password=PASSWORD)
    head = registry.ledger_head_view(session)["sequence"]
    refused = client.post("/api/v1/retirements", headers=bearer(client, "op"), json={
        "account_id": account, "product": "FCS", "quantity": "1.00",
        "beneficiary": f"王小明（身份证 {ID_NUMBER}）", "purpose": "碳中和"})
    assert refused.status_code == 422, refused.text
    assert "身份证号" in refused.text and ID_NUMBER not in refused.text
    typed = runner.invoke(app, ["registry", "retire", "--db", database_url, "--from",
                                str(account), "--product", "FCS", "--quantity", "1.00",
                                "--beneficiary", f"王小明（身份证 {ID_NUMBER}）",
                                "--purpose", "碳中和"])
    assert typed.exit_code != 0 and "beneficiary" in typed.output
    session.expire_all()
    assert registry.ledger_head_view(session)["sequence"] == head  # nothing written
    assert registry.balance(session, account)["FCS"]["held"] == "10.00"
    assert ID_NUMBER not in client.get("/retirements").text


@pytest.mark.parametrize(("typed", "shown", "hidden"), [
    ("王小明", "王某", "小明"), ("Wang Xiaoming", "W.", "Xiaoming")])
def test_a_person_named_as_beneficiary_is_masked_wherever_the_public_looks(
        client: TestClient, session: Session, typed: str, shown: str, hidden: str) -> None:
    account = f.account(session, f.org(session))
    registry.issue(session, project_id=f.project(session), vintage=2023, quantity=1_000,
                   to_account=account, actor=f.ACTOR)
    accounts.add_user(session, name="op", role="operator", password=PASSWORD)
    retired = client.post("/api/v1/retirements", headers=bearer(client, "op"), json={
        "account_id": account, "product": "FCS", "quantity": "1.00",
        "beneficiary": typed, "purpose": "碳中和"})
    assert retired.status_code == 201, retired.text
    number = retired.json()["certificate_number"]
    certificate = client.get(f"/api/v1/certificates/{number}").json()
    assert certificate["facts"]["beneficiary"] == shown
    verified = client.get(f"/api/v1/certificates/{number}/verify").json()
    assert verified["valid"] and verified["facts"]["beneficiary"] == shown
    for path in ("/retirements", f"/verify?number={number}"):
        page = client.get(path)
        assert page.status_code == 200 and shown in page.text, path
        assert hidden not in page.text, path


def test_public_listings_do_not_name_the_accounts_behind_them(
        client: TestClient, session: Session) -> None:
    account = f.account(session, f.org(session))
    registry.issue(session, project_id=f.project(session), vintage=2023, quantity=1_000,
                   to_account=account, actor=f.ACTOR)
    listed = market.create_listing(session, seller_account=account, product="FCS",
                                   quantity=500, price=Decimal("30.00"), min_lot=100,
                                   days_open=7, actor=f.ACTOR)
    one = client.get(f"/api/v1/listings/{listed['id']}").json()
    every = client.get("/api/v1/listings").json()
    for view in (one, *every):
        assert not {"seller_account", "buyer_account", "hold_id"} & set(view)
    assert one["remaining"] == "5.00" and one["price"]


def test_a_holder_cannot_transfer_into_the_registrys_buffer(
        client: TestClient, session: Session) -> None:
    mine = f.org(session, name="甲公司")
    account = f.account(session, mine)
    registry.issue(session, project_id=f.project(session), vintage=2023, quantity=1_000,
                   to_account=account, actor=f.ACTOR)
    accounts.add_user(session, name="mine", role="holder", password=PASSWORD, holder_id=mine)
    buffer = registry.system_account(session, "buffer").id
    escrow = f.account(session, f.org(session, name="乙公司"), kind="escrow")
    for target in (buffer, escrow):
        refused = client.post("/api/v1/transfers", headers=bearer(client, "mine"), json={
            "from_account": account, "to_account": target, "product": "FCS",
            "quantity": "1.00"})
        assert refused.status_code in (403, 409, 422), refused.text
    session.expire_all()
    assert registry.balance(session, account)["FCS"]["held"] == "10.00"
    other = f.account(session, f.org(session, name="丙公司"))
    moved = client.post("/api/v1/transfers", headers=bearer(client, "mine"), json={
        "from_account": account, "to_account": other, "product": "FCS", "quantity": "1.00"})
    assert moved.status_code == 201, moved.text


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
