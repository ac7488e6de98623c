"""The JSON API: shapes, problem+json errors, roles and idempotency, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qinglu.accounts import actions as accounts
from qinglu.core.ledger import ledger_head
from qinglu.web.app import create_app
from tests import factories as f


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def token(client: TestClient, name: str, password: str = "correct horse") -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": name, "password": password})
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def world(client: TestClient, session: Session) -> dict[str, Any]:
    seller, project, issued = f.issued_account(session, quantity=100_000)
    from qinglu.registry.actions import get_account

    seller_holder = get_account(session, seller).holder_id
    other_holder = f.org(session, name="某公司", region="520100")
    other = f.account(session, other_holder)
    accounts.add_user(session, name="op", role="operator", password="correct horse")
    accounts.add_user(session, name="centre", role="holder", password="correct horse",
                      holder_id=seller_holder)
    accounts.add_user(session, name="company", role="holder", password="correct horse",
                      holder_id=other_holder)
    return {"seller": seller, "other": other, "project": project, "issued": issued,
            "op": token(client, "op"), "centre": token(client, "centre"),
            "company": token(client, "company")}


def test_operator_registry_flow(client: TestClient, world: dict[str, Any]) -> None:
    op = world["op"]
    holder = client.post("/api/v1/holders", headers=op, json={
        "kind": "org", "name": "贵州某公司", "id_number": f.make_uscc(), "region": "520100"})
    assert holder.status_code == 201 and "id" in holder.json()
    account = client.post("/api/v1/accounts", headers=op,
                          json={"holder_id": holder.json()["id"], "kind": "holding"})
    assert account.status_code == 201
    project = client.post("/api/v1/projects", headers=op, json={
        "name": "剑河县林业碳汇项目二期", "product": "FCS", "region": "522629",
        "methodology": "GZ-FCS-SC-V01"})
    assert project.status_code == 201
    issued = client.post("/api/v1/issuances", headers=op, json={
        "project_id": project.json()["id"], "vintage": 2024, "quantity": "100",
        "account_id": account.json()["id"]})
    assert issued.status_code == 201 and issued.json()["serials"][0].startswith("QL-FCS-522629")
    moved = client.post("/api/v1/transfers", headers={**op, "Idempotency-Key": "t-1"}, json={
        "from_account": account.json()["id"], "to_account": world["other"], "product": "FCS",
        "quantity": "53.96"})
    again = client.post("/api/v1/transfers", headers={**op, "Idempotency-Key": "t-1"}, json={
        "from_account": account.json()["id"], "to_account": world["other"], "product": "FCS",
        "quantity": "53.96"})
    assert moved.status_code == 201 and again.json() == moved.json()
    balance = client.get(f"/api/v1/accounts/{world['other']}/balance", headers=op).json()
    assert balance == {"FCS": {"held": "53.96", "escrow": "0.00"}}
    # Balances are the holder's and the operator's business only.
    assert client.get(f"/api/v1/accounts/{world['other']}/balance").status_code == 401
    unit = client.get(f"/api/v1/units/{moved.json()['serials'][0]}").json()
    assert unit["account_id"] == world["other"] and unit["state"] == "held"
    head = client.get("/api/v1/ledger/head").json()
    assert head["sequence"] == moved.json()["entry"] and len(head["hash"]) == 64


def test_holder_moves_only_its_own_units(client: TestClient, world: dict[str, Any],
                                         session: Session) -> None:
    body = {"from_account": world["seller"], "to_account": world["other"], "product": "FCS",
            "quantity": "1"}
    before = ledger_head(session)
    refused = client.post("/api/v1/transfers", headers=world["company"], json=body)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    session.expire_all()
    assert ledger_head(session) == before
    allowed = client.post("/api/v1/transfers", headers=world["centre"], json=body)
    assert allowed.status_code == 201


@pytest.mark.parametrize("path, body", [
    ("/api/v1/holders", {"kind": "org", "name": "x", "id_number": "91350100M000100Y43",
                         "region": "520100"}),
    ("/api/v1/transfers", {"from_account": 1, "to_account": 2, "product": "FCS",
                           "quantity": "1"}),
    ("/api/v1/retirements", {"account_id": 1, "product": "FCS", "quantity": "1",
                             "beneficiary": "x", "purpose": "y"}),
])
def test_anonymous_writes_are_refused(client: TestClient, world: dict[str, Any],
                                      session: Session, path: str, body: dict[str, Any]) -> None:
    before = ledger_head(session)
    response = client.post(path, json=body)
    assert response.status_code == 401
    session.expire_all()
    assert ledger_head(session) == before


def test_holder_may_not_issue(client: TestClient, world: dict[str, Any]) -> None:
    response = client.post("/api/v1/issuances", headers=world["centre"], json={
        "project_id": world["project"], "vintage": 2024, "quantity": "1",
        "account_id": world["seller"]})
    assert response.status_code == 403


def test_expired_and_bad_tokens(client: TestClient, world: dict[str, Any],
                                session: Session) -> None:
    from sqlalchemy import select

    from qinglu.accounts.models import User

    user = session.scalar(select(User).where(User.name == "op"))
    assert user is not None
    expired = accounts.issue_token(session, user, lifetime=timedelta(seconds=-1))
    body = {"kind": "org", "name": "x", "id_number": f.make_uscc(), "region": "520100"}
    response = client.post("/api/v1/holders", json=body,
                           headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and "expired" in response.json()["detail"]
    response = client.post("/api/v1/holders", json=body,
                           headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 401


def test_bad_input_is_problem_json(client: TestClient, world: dict[str, Any]) -> None:
    response = client.post("/api/v1/transfers", headers=world["op"], json={
        "from_account": world["seller"], "to_account": world["other"], "product": "FCS",
        "quantity": "0.001"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422 and "quantity" in problem["detail"]
    response = client.post("/api/v1/transfers", headers=world["op"], json={
        "from_account": world["seller"], "to_account": world["other"], "product": "FCS",
        "quantity": "99999999"})
    assert response.status_code == 409 and "less than" in response.json()["detail_en"]


def test_login_attempts_are_limited(client: TestClient, world: dict[str, Any]) -> None:
    for _ in range(5):
        bad = client.post("/api/v1/auth/token", data={"username": "op", "password": "wrong"})
        assert bad.status_code == 401
    limited = client.post("/api/v1/auth/token",
                          data={"username": "op", "password": "correct horse"})
    assert limited.status_code == 429


def test_retirement_returns_a_verifiable_certificate(client: TestClient,
                                                     world: dict[str, Any]) -> None:
    retired = client.post("/api/v1/retirements", headers=world["centre"], json={
        "account_id": world["seller"], "product": "FCS", "quantity": "12.34",
        "beneficiary": "贵州某公司", "purpose": "2026年度碳中和 / carbon neutrality 2026"})
    assert retired.status_code == 201, retired.text
    body = retired.json()
    assert body["certificate_number"].startswith("QL-RC-") and body["serials"]
    verified = client.get(f"/api/v1/certificates/{body['certificate_number']}/verify").json()
    assert verified["valid"] is True and verified["facts"]["quantity"] == "12.34"
    refused = client.post("/api/v1/retirements", headers=world["company"], json={
        "account_id": world["seller"], "product": "FCS", "quantity": "1",
        "beneficiary": "x", "purpose": "y"})
    assert refused.status_code == 403
