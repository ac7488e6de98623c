"""The public register of green-power claims and a company's claim desk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qinglu.accounts import actions as accounts
from qinglu.green import actions as green
from qinglu.web.app import create_app
from tests import factories
from tests.market.test_market_pages import entries, shown_twice

CODE = "W520000000000001X"


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(database_url), follow_redirects=False) as test_client:
        yield test_client


@pytest.mark.slow
def test_register_and_desk(client: TestClient, session: Session) -> None:
    holder = factories.org(session, name="贵州某数据中心")
    acct = factories.account(session, holder)
    accounts.add_user(session, name="dc", role="holder", password="correct horse",
                      holder_id=holder)
    green.register_project(session, "test", name="风电", filing_code_text=CODE,
                           technology="wind", commissioned=date(2018, 1, 1), region="520000",
                           account_id=acct)
    green.import_generation(session, "test", filename="g.csv",
                            content=f"filing_code,month,kwh\n{CODE},2026-01,9000\n".encode())
    assert client.get("/green/desk", follow_redirects=False).status_code in (401, 303)
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    client.post("/login", data={"username": "dc", "password": "correct horse",
                                "csrf": token.group(1)})
    desk = client.get("/green/desk")
    assert desk.status_code == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', desk.text)
    assert csrf is not None
    form = {"csrf": csrf.group(1), "account_id": str(acct), "consumer": "贵州某数据中心",
            "period_start": "2026/01/01", "period_end": "2026-01-31", "consumption_kwh": "9 000"}
    written = entries(session)
    refused = client.post("/green/desk", data={**form, "certificates": "２0", "confirmed": "1"})
    assert refused.status_code == 422 and entries(session) == written
    assert 'id="certificates-error"' in refused.text and "超过用电量" in refused.text
    assert 'value="２0"' in refused.text and 'value="9 000"' in refused.text
    unreadable = client.post("/green/desk?lang=en", data={**form, "period_end": "Jan 31"})
    assert unreadable.status_code == 422 and 'id="period_end-error"' in unreadable.text
    assert "“Jan 31” is not a date" in unreadable.text and entries(session) == written
    asked = client.post("/green/desk?lang=zh", data=form)
    assert asked.status_code == 200 and entries(session) == written  # asked, not done
    assert ("为 贵州某数据中心 声明 2026-01-01 至 2026-01-31 的绿电消费（总用电量 9000 kWh）"
            in asked.text)
    assert "足以覆盖全部用电的绿证" in asked.text and 'name="confirmed" value="1"' in asked.text
    hidden = dict(re.findall(r'type="hidden" name="([a-z_]+)" value="([^"]*)"', asked.text))
    assert hidden["period_start"] == "2026-01-01" and hidden["certificates"] == ""
    done = client.post("/green/desk", data=hidden)
    assert done.status_code == 303
    assert done.headers["location"].startswith("/green/desk?message=claimed&claim=")
    shown_twice(client, session, done.headers["location"], "已核销 9 张绿证：绿电占比 100.00%")
    assert 'id="message"' not in client.get("/green/desk?message=claimed&claim=99999").text
    register = client.get("/green")
    assert register.status_code == 200 and "贵州某数据中心" in register.text
    assert "2026-01" in register.text
