"""The case desk through the pages: the clerk opens and accounts a fire case in one step,
records an external report; the verifier approves it; the operator agrees, confirms
payment, retires and certifies, each step confirmed on a page that says what it will
do and redirected to a fixed notice; the clerk sees the whole case and its timeline and
closes it. Bad input on the new-case form is shown beside its field, in the page's
language, with nothing written."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from qinglu.accounts import actions as accounts
from qinglu.cases.models import Case
from qinglu.registry import actions as registry
from tests import factories as f
from tests.web.test_forms import PASSWORD, client, csrf_of, session_of, sign_in

# The forms' fixtures, shared: a client sending a browser's Accept header, a session.
__all__ = ["client", "session_of"]

NUMBER = "麻检〔2026〕台1号"


@pytest.fixture
def world(client: TestClient, session_of: Session) -> dict[str, Any]:
    seller, _project, _issued = f.issued_account(session_of, quantity=100_000)
    majiang = f.org(session_of, name="麻江县人民检察院", region="522635")
    defendant = registry.add_holder(session_of, kind="person", name="钟某某",
                                    id_number=f.make_resident_id(), region="522635",
                                    actor="t")["id"]
    for name, role, holder in [("clerk", "authority", majiang), ("ver", "verifier", None),
                               ("op", "operator", None)]:
        accounts.add_user(session_of, name=name, role=role, password=PASSWORD, holder_id=holder)
    return {"seller": seller, "defendant": defendant}


def written(session: Session) -> tuple[int, int]:
    session.rollback()
    return (int(session.execute(text("SELECT count(*) FROM ledger_entries")).scalar_one()),
            len(list(session.scalars(select(Case.id)))))


def new_case_form(desk: str, **changes: str) -> dict[str, str]:
    form = {"number": NUMBER, "kind": "criminal_public_interest",
            "authority_kind": "procuratorate", "defendant": "钟某某",
            "incident_date": "2026-03-14", "region": "522635", "place": "麻江县某村",
            "area": "139,2", "unit": "mu", "vegetation": "extra_tropical_forest",
            "fuel_consumed": "3,5", "csrf": csrf_of(desk)}
    form.update(changes)
    return form


def step(client: TestClient, case_id: int, form: str, **fields: str) -> str:
    """Ask for a step, check its confirmation page, confirm it; the page after."""
    ask = client.get(f"/cases/{case_id}/confirm", params={"step": form, **fields})
    assert ask.status_code == 200, ask.text
    assert 'id="consequence"' in ask.text
    hidden = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">',
                             ask.text.split('id="confirm"', 1)[1]))
    done = client.post(f"/cases/{case_id}/step", data=hidden, follow_redirects=False)
    assert done.status_code == 303, done.text
    return client.get(done.headers["location"]).text


def test_the_case_walked_at_the_desks(client: TestClient, session_of: Session,
                                      world: dict[str, Any]) -> None:
    sign_in(client, "clerk")
    desk = client.get("/cases")
    opened = client.post("/cases/new", data=new_case_form(desk.text), follow_redirects=False)
    assert opened.status_code == 303
    case_id = int(opened.headers["location"].split("?")[0].rsplit("/", 1)[1])
    page = client.get(opened.headers["location"]).text
    # "139,2" mu and "3,5" t/ha read as 139.2 and 3.5: the documented 57.48 tCO2e.
    assert 'id="message" role="status">已立案并完成核算<' in page
    assert 'id="obligation">57.48<' in page and 'id="report-pdf"' in page
    assert "钟某某" in page and "立案并核算（青绿方法）" in page

    client.post(f"/cases/{case_id}/report", data={
        "firm": "贵州某碳核算有限公司", "report_ref": "QH-2026-031", "quantity": "53,96",
        "csrf": csrf_of(page)})
    sign_in(client, "ver")
    assert "报告待审核" in client.get("/cases").text  # the verifier's list says what waits
    page = step(client, case_id, "approve")
    assert 'id="obligation">53.96<' in page and "QH-2026-031" in page
    assert "57.48 t" in page  # Qinglu's figure kept beside the approved report

    sign_in(client, "op", "en")  # the operator works in English
    page = client.get(f"/cases/{case_id}").text
    assert "Agree the purchase of 53.96 t" in page
    said = client.get(f"/cases/{case_id}/confirm", params={
        "step": "agree", "quantity": "53.96", "seller_account": "剑河县碳汇", "price": "６０"})
    assert "The defendant 钟某某 buys 53.96 tCO2e from 剑河县碳汇交易运营中心" in said.text
    assert "60.00 CNY/t, 3237.60 CNY in all" in said.text
    page = step(client, case_id, "agree", quantity="53.96", seller_account="剑河县碳汇",
                price="６０")
    assert 'id="amount">3237.60 CNY<' in page and 'id="serials"' in page
    assert "Confirm payment" in page and "purchase agreed" in page
    page = step(client, case_id, "pay", reference=" GZ 2026 0314 ")
    assert 'id="payment">GZ 2026 0314<' in page and "Retire 53.96 t" in page
    page = step(client, case_id, "retire")
    assert "the units are retired" in page
    page = step(client, case_id, "certify")
    assert 'id="documents"' in page and "Carbon-neutral certificate" in page

    sign_in(client, "clerk")
    page = client.get(f"/cases/{case_id}").text
    timeline = page.split('id="timeline"', 1)[1].split("</ol>", 1)[0]
    for shown in ("立案并核算", "提交外部核算报告", "审核通过核算报告", "约定购买并托管",
                  "确认付款", "注销", "出具证书与凭证"):
        assert shown in timeline, shown
    assert "北京时间 (UTC+8)" in timeline and "剑河县碳汇交易运营中心" in page
    page = step(client, case_id, "close")
    assert 'id="message" role="status">已结案<' in page and "结案" in page.split(
        'id="timeline"', 1)[1]


def test_a_confirmed_step_is_not_done_twice_by_a_refresh(
        client: TestClient, session_of: Session, world: dict[str, Any]) -> None:
    sign_in(client, "clerk")
    desk = client.get("/cases")
    opened = client.post("/cases/new", data=new_case_form(desk.text))
    case_id = int(opened.url.path.rsplit("/", 1)[1])
    before = written(session_of)
    unconfirmed = client.post(f"/cases/{case_id}/step", data={
        "step": "close", "csrf": csrf_of(opened.text)}, follow_redirects=False)
    assert unconfirmed.status_code == 303  # to the confirmation page: nothing done yet
    assert unconfirmed.headers["location"].startswith(f"/cases/{case_id}/confirm?step=close")
    assert written(session_of) == before
    client.post(f"/cases/{case_id}/report", data={
        "firm": "某机构", "report_ref": "R-1", "quantity": "60", "csrf": csrf_of(opened.text)})
    sign_in(client, "ver")
    page = client.get(f"/cases/{case_id}/confirm", params={"step": "approve"}).text
    confirmed = {"step": "approve", "confirmed": "1", "csrf": csrf_of(page)}
    assert client.post(f"/cases/{case_id}/step", data=confirmed).status_code == 200
    after = written(session_of)
    again = client.post(f"/cases/{case_id}/step", data=confirmed)  # a refresh re-posting
    assert again.status_code == 422 and "没有待审核的核算报告" in again.text
    assert written(session_of) == after


BAD_INPUT = [
    ("zh", {"area": "-5"}, "area", "面积须为正数：-5 亩"),
    ("en", {"area": "-5"}, "area", "area must be a positive number: -5 mu"),
    ("zh", {"fuel_consumed": "3,5,1"}, "fuel_consumed", "可燃物消耗量“3,5,1”不是数字"),
    ("en", {"area": "1,392"}, "area", "burned area “1,392” is ambiguous: write 1392 or 1.392"),
    ("zh", {"unit": ""}, "unit", "面积须注明单位"),
    ("en", {"defendant": "x"}, "defendant", "no holder is named or coded “x”"),
    ("zh", {"number": " "}, "number", "不能为空"),
]


def test_bad_input_is_shown_beside_its_field_and_nothing_is_written(
        client: TestClient, session_of: Session, world: dict[str, Any]) -> None:
    sign_in(client, "clerk")
    desk = client.get("/cases")
    before = written(session_of)
    for lang, changes, field, message in BAD_INPUT:
        client.cookies.set("lang", lang)
        refused = client.post("/cases/new", data=new_case_form(desk.text, **changes))
        assert refused.status_code == 422
        beside = re.search(rf'id="{field}-error">([^<]*)<', refused.text)
        assert beside and message in beside.group(1), (changes, refused.text)
        for typed in changes.values():
            assert f'value="{typed}"' in refused.text or not typed  # kept as typed
        assert f'value="{NUMBER}"' in refused.text or "number" in changes
        assert "Traceback" not in refused.text and "{'" not in refused.text
        assert written(session_of) == before


def test_a_taken_number_leaves_nothing_and_can_be_retried(
        client: TestClient, session_of: Session, world: dict[str, Any]) -> None:
    sign_in(client, "clerk")
    desk = client.get("/cases")
    client.post("/cases/new", data=new_case_form(desk.text))
    before = written(session_of)
    again = client.post("/cases/new", data=new_case_form(desk.text))
    assert again.status_code == 422 and f"案号 {NUMBER} 已存在" in again.text
    assert written(session_of) == before
    fixed = client.post("/cases/new", data=new_case_form(desk.text, number="麻检〔2026〕台2号"))
    assert 'id="obligation">57.48<' in fixed.text


def test_the_api_records_and_approves_a_report_and_shows_the_desk(
        client: TestClient, session_of: Session, world: dict[str, Any]) -> None:
    from tests.registry.test_api_registry import token

    sign_in(client, "clerk")
    desk_page = client.get("/cases")
    opened = client.post("/cases/new", data=new_case_form(desk_page.text))
    case_id = int(opened.url.path.rsplit("/", 1)[1])
    clerk, verifier = token(client, "clerk"), token(client, "ver")
    body = {"firm": "某机构", "report_ref": "R-7", "stated_obligation": "60.00"}
    refused = client.post(f"/api/v1/cases/{case_id}/reports/approval", headers=verifier)
    assert refused.status_code == 409  # nothing recorded yet
    assert client.post(f"/api/v1/cases/{case_id}/reports", headers=verifier,
                       json=body).status_code == 403  # a verifier approves, never records
    recorded = client.post(f"/api/v1/cases/{case_id}/reports", headers=clerk, json=body)
    assert recorded.status_code == 201 and recorded.json()["obligation"] == "57.48"
    assert recorded.json()["pending_report"]["stated_obligation_t"] == "60.00"
    approved = client.post(f"/api/v1/cases/{case_id}/reports/approval", headers=verifier)
    assert approved.status_code == 201 and approved.json()["obligation"] == "60.00"
    assert approved.json()["accounting"]["qinglu_comparison"]["obligation"] == "57.48"
    desk = client.get(f"/api/v1/cases/{case_id}/desk", headers=clerk).json()
    assert [step["step"] for step in desk["timeline"]] == [
        "case.open_account", "case.report", "case.approve"]
    assert desk["defendant"]["name"] == "钟某某" and desk["timeline"][2]["actor"].endswith("ver")
    early = client.post(f"/api/v1/cases/{case_id}/close", headers=clerk)
    assert early.status_code == 409  # closing comes after certification
