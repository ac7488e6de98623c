"""Monitoring API: operator submits and issues, verifier approves; roles enforced."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qinglu.accounts import actions as accounts
from qinglu.registry import actions as registry
from qinglu.web.app import create_app
from tests.forestry.test_monitoring import import_two, owned_project
from tests.methods.test_forest_method import OVERRIDE
from tests.registry.test_api_registry import token


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def body() -> dict[str, Any]:
    return {"period_start": "2024-01-01", "period_end": "2025-12-31",
            "measurements": [{"number": "12-1", "volume_end": "6.0"},
                             {"number": "12-2", "volume_end": "6.4"}],
            "baseline_t": "5", "leakage_t": "0", "uncertainty_deduction": "0.1",
            "risk_class": "high", "override_parameters_csv": OVERRIDE}


def test_monitoring_api_by_role(client: TestClient, session: Session, tmp_path: Path) -> None:
    project, owner_account = owned_project(session)
    import_two(session, tmp_path, project)
    for name, role in [("op", "operator"), ("ver", "verifier")]:
        accounts.add_user(session, name=name, role=role, password="correct horse")
    op, ver = token(client, "op"), token(client, "ver")
    url = f"/api/v1/projects/{project}/monitoring-reports"
    assert client.post(url, json=body()).status_code == 401
    assert client.post(url, headers=ver, json=body()).status_code == 403
    refused = client.post(url, headers=op, json={**body(), "override_parameters_csv": None})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    created = client.post(url, headers={**op, "Idempotency-Key": "mr-1"}, json=body())
    assert created.status_code == 201, created.text
    again = client.post(url, headers={**op, "Idempotency-Key": "mr-1"}, json=body())
    assert again.json()["id"] == created.json()["id"]
    report_id = created.json()["id"]
    base = f"/api/v1/monitoring-reports/{report_id}"
    assert client.post(f"{base}/approval", headers=op).status_code == 403
    assert client.post(f"{base}/issuance", headers=op).status_code == 409  # not approved
    approved = client.post(f"{base}/approval", headers=ver)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert client.post(f"{base}/issuance", headers=ver).status_code == 403
    issued = client.post(f"{base}/issuance", headers=op)
    assert issued.status_code == 200 and issued.json()["status"] == "issued"
    total = created.json()["quantity_units"]
    buffer = total * 20 // 100  # high risk: 20 %
    owner_held = registry.balance(session, owner_account)["FCS"]["held"]
    assert owner_held == f"{(total - buffer) / 100:.2f}"
    buffer_account = registry.system_account(session, "buffer").id
    assert registry.balance(session, buffer_account)["FCS"]["held"] == f"{buffer / 100:.2f}"
    pdf = client.get(f"{base}/report.pdf", headers=ver)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    listed = client.get(f"/api/v1/monitoring-reports?project_id={project}", headers=ver)
    assert [r["id"] for r in listed.json()] == [report_id]


def test_rejection_needs_reasons(client: TestClient, session: Session, tmp_path: Path) -> None:
    project, _ = owned_project(session)
    import_two(session, tmp_path, project)
    for name, role in [("op", "operator"), ("ver", "verifier")]:
        accounts.add_user(session, name=name, role=role, password="correct horse")
    op, ver = token(client, "op"), token(client, "ver")
    report_id = client.post(f"/api/v1/projects/{project}/monitoring-reports", headers=op,
                            json=body()).json()["id"]
    base = f"/api/v1/monitoring-reports/{report_id}"
    assert client.post(f"{base}/rejection", headers=ver, json={}).status_code == 422
    rejected = client.post(f"{base}/rejection", headers=ver, json={"reasons": "样地不足"})
    assert rejected.json()["status"] == "rejected" and rejected.json()["reasons"] == "样地不足"
