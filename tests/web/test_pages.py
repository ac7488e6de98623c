"""Web pages through the ASGI app: public views, sign-in, CSRF, a holder's transfer."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qinglu.accounts import actions as accounts
from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.registry import actions as registry
from qinglu.registry.actions import get_account
from qinglu.web.app import create_app
from tests import factories as f


@pytest.fixture
def client(database_url: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def test_public_pages_show_totals_and_serials(client: TestClient, session: Session) -> None:
    seller, _project, issued = f.issued_account(session, quantity=5396)
    documents.retire(session, load_or_create_key(), from_account=seller, product="FCS",
                     quantity=5396, beneficiary="钟某某", purpose="替代性修复", actor="t")
    home = client.get("/")
    assert 'data-total="FCS-issued">53.96' in home.text
    assert 'data-total="FCS-retired">53.96' in home.text
    assert "/static/vendor/echarts" in home.text and "cdn" not in home.text.lower()
    found = client.get("/search", params={"serial": issued["serials"][0]},
                       headers={"HX-Request": "true"})
    assert 'data-state="retired"' in found.text
    retired = client.get("/retirements")
    assert "钟某" in retired.text and "钟某某" not in retired.text  # masked in public
    assert client.get("/search", params={"serial": "nonsense"}).status_code == 200
    assert client.get("/?lang=en").text.count("Dashboard") >= 1


def test_holder_signs_in_and_transfers(client: TestClient, session: Session) -> None:
    seller, _project, _issued = f.issued_account(session, quantity=10_000)
    holder_id = get_account(session, seller).holder_id
    buyer = f.account(session)
    accounts.add_user(session, name="centre", role="holder", password="correct horse",
                      holder_id=holder_id)
    login_page = client.get("/login")
    response = client.post("/login", data={"username": "centre", "password": "correct horse",
                                           "csrf": csrf_of(login_page.text)})
    assert response.status_code == 200 and f'data-balance="{seller}-FCS">100.00' in response.text
    form = client.post("/account/transfer", data={
        "from_account": seller, "to_account": buyer, "product": "FCS", "quantity": "53.96",
        "csrf": csrf_of(response.text)})
    assert f'data-balance="{seller}-FCS">46.04' in form.text
    refused = client.post("/account/transfer", data={
        "from_account": seller, "to_account": buyer, "product": "FCS", "quantity": "1",
        "csrf": "forged"})
    assert refused.status_code == 403
    assert registry.balance(session, seller)["FCS"]["held"] == "46.04"


def test_pages_need_the_right_role(client: TestClient) -> None:
    response = client.get("/account", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


@pytest.mark.slow
def test_verification_page(client: TestClient, session: Session) -> None:
    from qinglu.demo import load_demo
    from qinglu.documents import actions as documents
    from qinglu.documents.qr import parse_verification_url, verification_url
    from qinglu.documents.signing import encode_payload

    made = load_demo(session)
    number = made["cases"]["majiang"]["certificate_number"]
    page = client.get("/verify", params={"number": number})
    assert 'data-valid="true"' in page.text and "53.96" in page.text and "钟某" in page.text
    record = documents.get_certificate(session, number)
    url = verification_url("http://testserver", number,
                           encode_payload(record.facts, record.signature))
    path_number, payload = parse_verification_url(url)
    followed = client.get(f"/verify/{path_number}", params={"p": payload})
    assert 'data-valid="true"' in followed.text
    forged = client.get(f"/verify/{number}", params={"p": encode_payload(
        {**record.facts, "quantity": "1.00"}, record.signature)})
    assert 'data-valid="false"' in forged.text and "quantity" in forged.text


def test_operator_back_office_and_verifier_approval(client: TestClient,
                                                    session: Session) -> None:
    from qinglu.cases import actions as cases
    from qinglu.registry import actions as registry

    accounts.add_user(session, name="op", role="operator", password="correct horse")
    accounts.add_user(session, name="ver", role="verifier", password="correct horse")
    login = client.get("/login")
    page = client.post("/login", data={"username": "op", "password": "correct horse",
                                       "csrf": csrf_of(login.text)})
    assert "/admin" in str(page.url)
    number = f.make_uscc()
    done = client.post("/admin/holder", data={"kind": "org", "name": "贵州某林场",
                                              "id_number": number, "region": "522629",
                                              "csrf": csrf_of(page.text)})
    assert 'id="message">已添加持有人<' in done.text and number in done.text
    bad = client.post("/admin/holder", data={"kind": "org", "name": "x",
                                             "id_number": "91350100M000100Y44",
                                             "region": "522629", "csrf": csrf_of(page.text)})
    assert "校验码错误" in bad.text and "{'" not in bad.text
    authority = f.org(session, name="麻江县人民检察院", region="522635")
    person = registry.add_holder(session, kind="person", name="钟某某",
                                 id_number=f.make_resident_id(), region="522635",
                                 actor="t")["id"]
    from datetime import date

    case = cases.open_case(session, number="麻检〔2026〕7号", authority_holder_id=authority,
                           authority_kind="procuratorate", kind="civil",
                           defendant_holder_id=person, incident_date=date(2026, 3, 1),
                           region="522635", place="x", incident={}, actor="t")
    client.cookies.clear()
    login = client.get("/login")
    page = client.post("/login", data={"username": "ver", "password": "correct horse",
                                       "csrf": csrf_of(login.text)})
    view = client.get(f"/cases/{case['id']}")
    assert 'id="approve-report"' in view.text
    approved = client.post(f"/cases/{case['id']}/step", data={
        "step": "external", "firm": "某核算机构", "report_ref": "R-9", "quantity": "53.96",
        "confirmed": "1", "csrf": csrf_of(view.text)})
    assert 'id="obligation">53.96' in approved.text
    refused = client.post(f"/cases/{case['id']}/step", data={
        "step": "pay", "reference": "x", "csrf": csrf_of(view.text)})
    assert refused.status_code == 403
