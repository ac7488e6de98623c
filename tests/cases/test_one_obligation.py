"""One fire, one obligation: every door (CLI, API, page; case and method) reads an area
only with its unit and accounts a case's fire on its incident date.

The worked example: 139.2 mu (9.28 ha) of extra-tropical forest, 3.5 t DM/ha measured,
gives 57.48 tCO2e (AR5); the same figure read as ha gives 862.11 t, 15x as much. Before
the rule had one home, the API and `qinglu fire estimate` took a bare 139.2 as ha while
`qinglu case account` and the case page took it as mu.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.accounts import actions as accounts
from qinglu.cases import actions as cases
from qinglu.cases.models import Case
from qinglu.cli import app as qinglu_app
from qinglu.core.ledger import ledger_head
from qinglu.core.principal import Principal
from qinglu.registry import actions as registry
from qinglu.web.app import create_app
from tests import factories as f
from tests.registry.test_api_registry import token

runner = CliRunner()
INCIDENT_DATE = date(2026, 3, 14)
FIRE = {"vegetation": "extra_tropical_forest", "area": "139.2", "fuel_consumed": "3.5"}
REFUSED = "refused"
NO_UNIT_EN = "an area needs its unit"
NO_UNIT_ZH = "面积须注明单位"
OPERATOR = Principal(None, "test", "operator", None)


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient, session: Session, database_url: str) -> dict[str, Any]:
    majiang = f.org(session, name="麻江县人民检察院", region="522635")
    danzhai = f.org(session, name="丹寨县人民检察院", region="522636")
    defendant = registry.add_holder(session, kind="person", name="钟某某",
                                   id_number=f.make_resident_id(), region="522635",
                                   actor="t")["id"]
    for name, role, holder in [("majiang", "authority", majiang),
                               ("danzhai", "authority", danzhai), ("op", "operator", None)]:
        accounts.add_user(session, name=name, role=role, password="correct horse",
                          holder_id=holder)
    return {"client": client, "session": session, "url": database_url, "majiang": majiang,
            "danzhai": danzhai, "defendant": defendant,
            "api": {name: token(client, name) for name in ("majiang", "danzhai", "op")}}


def _open(world: dict[str, Any], number: str) -> int:
    return int(cases.open_case(
        world["session"], number=number, authority_holder_id=world["majiang"],
        authority_kind="procuratorate", kind="criminal_public_interest",
        defendant_holder_id=world["defendant"], incident_date=INCIDENT_DATE, region="522635",
        place="麻江县某村田边", incident={}, actor="t")["id"])


def _written(world: dict[str, Any]) -> tuple[Any, list[tuple[int, str, str | None]]]:
    """The ledger head and every case's status and obligation: what a refusal must not
    change."""
    session = world["session"]
    session.rollback()  # a fresh snapshot: the doors wrote on their own connections
    return ledger_head(session), [(c.id, c.status, c.obligation)
                                  for c in session.scalars(select(Case).order_by(Case.id))]


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def _sign_in(client: TestClient, name: str) -> None:
    client.cookies.clear()
    form = client.get("/login")
    client.post("/login", data={"username": name, "password": "correct horse",
                                "csrf": _csrf(form.text)})


def _result_of(world: dict[str, Any], case_id: int) -> dict[str, Any]:
    return dict(_case(world, case_id)["accounting"]["result"])


def _case(world: dict[str, Any], case_id: int) -> dict[str, Any]:
    world["session"].rollback()  # a fresh snapshot: the doors wrote on their own connections
    return cases.case_view(cases.get_case(world["session"], case_id))


# Each door accounts a fresh case of the same fire and answers with the obligation, or
# REFUSED after checking the refusal names the missing unit and nothing was written.

def cli_door(world: dict[str, Any], unit: str | None, number: str) -> str:
    case_id = _open(world, number)
    before = _written(world)
    args = ["case", "account", str(case_id), "--vegetation", FIRE["vegetation"], "--area",
            FIRE["area"], "--fuel-consumed", FIRE["fuel_consumed"], "--db", world["url"],
            "--json", *(["--unit", unit] if unit else [])]
    result = runner.invoke(qinglu_app, args)
    if result.exit_code != 0:
        assert NO_UNIT_EN in result.output, result.output
        assert _written(world) == before
        return REFUSED
    assert _result_of(world, case_id)["inputs"]["date"] == INCIDENT_DATE.isoformat()
    return str(json.loads(result.stdout)["obligation"])


def api_door(world: dict[str, Any], unit: str | None, number: str) -> str:
    case_id = _open(world, number)
    before = _written(world)
    body = {**FIRE, **({"unit": unit} if unit else {})}
    response = world["client"].post(f"/api/v1/cases/{case_id}/accounting",
                                    headers=world["api"]["majiang"], json=body)
    if response.status_code != 201:
        assert response.status_code == 422 and NO_UNIT_EN in response.json()["detail_en"]
        assert _written(world) == before
        return REFUSED
    assert _result_of(world, case_id)["inputs"]["date"] == INCIDENT_DATE.isoformat()
    return str(response.json()["obligation"])


def page_door(world: dict[str, Any], unit: str | None, number: str) -> str:
    client = world["client"]
    _sign_in(client, "majiang")
    desk = client.get("/cases")
    before = _written(world)
    form = {"number": number, "kind": "criminal_public_interest",
            "authority_kind": "procuratorate", "defendant": str(world["defendant"]),
            "incident_date": INCIDENT_DATE.isoformat(), "region": "522635",
            "place": "麻江县某村田边", **FIRE, "unit": unit or "", "csrf": _csrf(desk.text)}
    response = client.post("/cases/new", data=form)
    client.cookies.clear()
    match = re.search(r'id="obligation">([0-9.]+)<', response.text)
    if match is None:
        assert 'id="case-error"' in response.text and NO_UNIT_ZH in response.text
        assert _written(world) == before
        return REFUSED
    case_id = int(response.url.path.rsplit("/", 1)[1])  # /cases/<id>?message=case-opened
    assert _result_of(world, case_id)["inputs"]["date"] == INCIDENT_DATE.isoformat()
    incident = _case(world, case_id)["incident"]
    assert (incident["area"], incident["unit"]) == (FIRE["area"], unit)
    return match.group(1)


DOORS: dict[str, Callable[[dict[str, Any], str | None, str], str]] = {
    "cli": cli_door, "api": api_door, "page": page_door}


def test_the_same_fire_gives_one_obligation_at_every_door(world: dict[str, Any]) -> None:
    for unit, expected in ((None, REFUSED), ("mu", "57.48"), ("ha", "862.11")):
        answers = {door: account(world, unit, f"麻检〔2026〕{door}-{unit}号")
                   for door, account in DOORS.items()}
        assert answers == dict.fromkeys(DOORS, expected), f"unit {unit}: {answers}"


def test_a_case_is_accounted_on_its_incident_date_only(world: dict[str, Any]) -> None:
    case_id = _open(world, "麻检〔2026〕日期号")
    before = _written(world)
    dated = world["client"].post(f"/api/v1/cases/{case_id}/accounting",
                                 headers=world["api"]["majiang"],
                                 json={**FIRE, "unit": "mu", "date": "2019-01-01"})
    assert dated.status_code == 422 and "date" in dated.json()["detail_en"]
    assert _written(world) == before
    with pytest.raises(TypeError):
        cases.account_with_fire_method(  # type: ignore[call-arg]
            world["session"], OPERATOR, case_id=case_id, evidence={**FIRE, "unit": "mu"},
            on=date(2019, 1, 1))


def test_a_case_door_refuses_an_incident_area_without_its_unit(world: dict[str, Any]) -> None:
    before = _written(world)
    body = {"number": "麻检〔2026〕立案号", "authority_kind": "procuratorate",
            "kind": "criminal_public_interest", "defendant_holder_id": world["defendant"],
            "incident_date": INCIDENT_DATE.isoformat(), "region": "522635", "place": "麻江县",
            "incident": {"area": "139.2", "vegetation": "extra_tropical_forest"}}
    api = world["client"].post("/api/v1/cases", headers=world["api"]["majiang"], json=body)
    assert api.status_code == 422 and NO_UNIT_EN in api.json()["detail_en"]
    cli = runner.invoke(qinglu_app, [
        "case", "open", "--number", "麻检〔2026〕立案号", "--authority", str(world["majiang"]),
        "--authority-kind", "procuratorate", "--kind", "criminal_public_interest",
        "--defendant", str(world["defendant"]), "--date", INCIDENT_DATE.isoformat(),
        "--region", "522635", "--place", "麻江县", "--area", "139.2", "--db", world["url"]])
    assert cli.exit_code == 1 and NO_UNIT_EN in cli.output
    assert _written(world) == before
    stored = world["client"].post("/api/v1/cases", headers=world["api"]["majiang"], json={
        **body, "incident": {**body["incident"], "unit": "mu"}})
    assert stored.json()["incident"] == {"area": "139.2", "unit": "mu",
                                         "vegetation": "extra_tropical_forest"}


def test_an_authority_sees_only_its_own_cases(world: dict[str, Any]) -> None:
    case_id = _open(world, "麻检〔2026〕可见号")
    client = world["client"]
    assert client.get(f"/api/v1/cases/{case_id}", headers=world["api"]["danzhai"]
                      ).status_code == 403
    assert client.get("/api/v1/cases", headers=world["api"]["danzhai"]).json() == []
    assert client.get(f"/api/v1/cases/{case_id}/report.pdf",
                      headers=world["api"]["danzhai"]).status_code == 403
    assert [c["id"] for c in client.get("/api/v1/cases",
                                        headers=world["api"]["majiang"]).json()] == [case_id]
    _sign_in(client, "danzhai")
    assert client.get(f"/cases/{case_id}").status_code == 403
    assert "麻检〔2026〕可见号" not in client.get("/cases").text
    _sign_in(client, "majiang")
    assert "麻检〔2026〕可见号" in client.get(f"/cases/{case_id}").text
    client.cookies.clear()
    anonymous = client.get(f"/cases/{case_id}", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"


# The method's own doors, which write nothing but files.

def test_fire_estimate_refuses_an_area_without_its_unit(tmp_path: Path) -> None:
    bare = runner.invoke(qinglu_app, ["fire", "estimate", "--area", "139.2", "--vegetation",
                                      "extra_tropical_forest", "--fuel-consumed", "3.5"])
    assert bare.exit_code == 1 and NO_UNIT_EN in bare.output and NO_UNIT_ZH in bare.output
    fires = tmp_path / "fires.csv"
    fires.write_text("id,area,unit,vegetation,fuel_consumed\n"
                     "a,139.2,mu,extra_tropical_forest,3.5\n"
                     "b,139.2,,extra_tropical_forest,3.5\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    batch = runner.invoke(qinglu_app, ["fire", "estimate", "--input", str(fires),
                                       "--output", str(out)])
    assert batch.exit_code == 1 and "line 3" in batch.output and NO_UNIT_EN in batch.output
    assert not out.exists()
    no_column = tmp_path / "no_unit_column.csv"
    no_column.write_text("id,area,vegetation\na,139.2,extra_tropical_forest\n",
                         encoding="utf-8")
    batch = runner.invoke(qinglu_app, ["fire", "estimate", "--input", str(no_column),
                                       "--output", str(out)])
    # A file without the column is refused whole, before any row, naming the column.
    assert batch.exit_code == 1 and "lacks the column(s) unit" in batch.output
    assert "缺少列 unit" in batch.output and not out.exists()


def test_methods_api_refuses_an_area_without_its_unit() -> None:
    from fastapi import FastAPI

    from qinglu.methods.api import router
    from qinglu.web.problems import install_problem_handlers

    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(router, prefix="/api/v1")
    client = TestClient(app)
    bare = client.post("/api/v1/methods/fire-emissions", json=FIRE)
    assert bare.status_code == 422 and bare.json()["title"] == "area-unit-required"
    answers = {unit: client.post("/api/v1/methods/fire-emissions",
                                 json={**FIRE, "unit": unit}).json()["obligation_t"]
               for unit in ("mu", "ha")}
    assert answers == {"mu": "57.48", "ha": "862.11"}
