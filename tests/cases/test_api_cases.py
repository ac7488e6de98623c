"""Case endpoints: an authority sees only its own cases; steps need the right role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qinglu.accounts import actions as accounts
from qinglu.core.ledger import ledger_head
from qinglu.registry import actions as registry
from qinglu.web.app import create_app
from tests import factories as f
from tests.registry.test_api_registry import token


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient, session: Session) -> dict[str, Any]:
    seller, _project, _issued = f.issued_account(session, quantity=100_000)
    majiang = f.org(session, name="麻江县人民检察院", region="522635")
    other = f.org(session, name="丹寨县人民检察院", region="522636")
    defendant = registry.add_holder(session, kind="person", name="钟某某",
                                   id_number=f.make_resident_id(), region="522635",
                                   actor="t")["id"]
    for name, role, holder in [("majiang", "authority", majiang), ("danzhai", "authority", other),
                               ("op", "operator", None), ("ver", "verifier", None)]:
        accounts.add_user(session, name=name, role=role, password="correct horse",
                          holder_id=holder)
    return {"seller": seller, "defendant": defendant,
            **{n: token(client, n) for n in ("majiang", "danzhai", "op", "ver")}}


def case_body(world: dict[str, Any]) -> dict[str, Any]:
    return {"number": "麻检〔2026〕1号", "authority_kind": "procuratorate",
            "kind": "criminal_public_interest", "defendant_holder_id": world["defendant"],
            "incident_date": "2026-03-14", "region": "522635", "place": "麻江县某村",
            "incident": {"area": "139.2", "unit": "mu", "vegetation": "extra_tropical_forest"}}


def test_case_steps_by_role(client: TestClient, world: dict[str, Any]) -> None:
    opened = client.post("/api/v1/cases", headers=world["majiang"], json=case_body(world))
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    report = client.post(f"/api/v1/cases/{case_id}/external-report", headers=world["ver"],
                         json={"firm": "某咨询公司", "report_ref": "R-1",
                               "stated_obligation": "53.96"})
    assert report.json()["obligation"] == "53.96"
    agreed = client.post(f"/api/v1/cases/{case_id}/agreement", headers=world["op"],
                         json={"quantity": "53.96", "seller_account": world["seller"],
                               "price": "60.00"})
    assert agreed.status_code == 201 and agreed.json()["status"] == "agreed"
    for step, body in [("payment", {"reference": "P-1"}), ("retirement", None)]:
        response = client.post(f"/api/v1/cases/{case_id}/{step}", headers=world["op"],
                               json=body)
        assert response.status_code == 201, response.text
    seen = client.get(f"/api/v1/cases/{case_id}", headers=world["majiang"]).json()
    assert seen["status"] == "retired" and seen["retirement_id"]


def test_authority_cannot_read_another_authoritys_case(client: TestClient,
                                                       world: dict[str, Any]) -> None:
    case_id = client.post("/api/v1/cases", headers=world["majiang"],
                          json=case_body(world)).json()["id"]
    assert client.get(f"/api/v1/cases/{case_id}", headers=world["danzhai"]).status_code == 403
    assert client.get("/api/v1/cases", headers=world["danzhai"]).json() == []
    assert client.get(f"/api/v1/cases/{case_id}").status_code == 401


def test_authority_may_not_run_the_exchange_steps(client: TestClient, world: dict[str, Any],
                                                  session: Session) -> None:
    case_id = client.post("/api/v1/cases", headers=world["majiang"],
                          json=case_body(world)).json()["id"]
    before = ledger_head(session)
    for step, body in [("external-report", {"firm": "x", "report_ref": "y",
                                            "stated_obligation": "1"}),
                       ("payment", {"reference": "P"}), ("retirement", None)]:
        response = client.post(f"/api/v1/cases/{case_id}/{step}", headers=world["majiang"],
                               json=body)
        assert response.status_code == 403, step
    session.expire_all()
    assert ledger_head(session) == before


def test_authority_runs_the_method_accounting(client: TestClient, world: dict[str, Any]) -> None:
    case_id = client.post("/api/v1/cases", headers=world["majiang"],
                          json=case_body(world)).json()["id"]
    body = {"vegetation": "extra_tropical_forest", "area": "139.2", "unit": "mu",
            "fuel_consumed": "3.5"}
    assert client.post(f"/api/v1/cases/{case_id}/accounting", headers=world["danzhai"],
                       json=body).status_code == 403
    accounted = client.post(f"/api/v1/cases/{case_id}/accounting", headers=world["majiang"],
                            json=body)
    assert accounted.status_code == 201, accounted.text
    assert accounted.json()["obligation"] == "57.48"
    assert accounted.json()["accounting"]["result"]["inputs"]["date"] == "2026-03-14"
    report = client.get(f"/api/v1/cases/{case_id}/report.pdf", headers=world["majiang"])
    assert report.headers["content-type"] == "application/pdf"
