"""Forms that forgive: numbers as people type them, refusals beside their field in the
page's language with what was typed kept, nothing written; unknown and failing pages as
pages, never JSON or a traceback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from qinglu.accounts import actions as accounts
from qinglu.core.errors import InvalidInput
from qinglu.core.quantities import AmbiguousNumber, parse_area, parse_quantity, typed_number
from qinglu.registry.actions import get_account
from qinglu.web.app import create_app
from tests import factories as f

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
PASSWORD = "correct horse"


@pytest.mark.parametrize(("typed", "meant"), [
    ("3,5", "3.5"), ("139,2", "139.2"), ("１３９．２", "139.2"), (" 1 234.5 ", "1234.5"),
    ("1,234.5", "1234.5"), ("1,234,567", "1234567"), ("0,001", "0.001"), ("５３，９６", "53.96"),
    ("12\u3000500", "12500"), ("-5", "-5"),
])
def test_numbers_are_read_as_people_type_them(typed: str, meant: str) -> None:
    assert typed_number(typed) == meant


@pytest.mark.parametrize("typed", ["x", "", "3,5,6", "1.2.3", "NaN", "Infinity", "3,5.1"])
def test_what_is_not_a_number_is_refused_quoting_it(typed: str) -> None:
    with pytest.raises(InvalidInput, match="不是数字") as refused:
        typed_number(typed, "面积", "area")
    assert f"“{typed.strip()}”" in refused.value.en


def test_a_comma_before_three_digits_is_not_guessed() -> None:
    with pytest.raises(AmbiguousNumber) as refused:
        parse_quantity("FCS", "1,234")
    assert "1234 or 1.234" in refused.value.en


def test_an_area_is_refused_in_the_unit_it_was_given_without_float_noise() -> None:
    assert parse_area("139,2", "mu").as_dict() == {"area": "139.2", "unit": "mu"}
    with pytest.raises(InvalidInput) as refused:
        parse_area("-5", "mu")
    assert refused.value.zh == "面积须为正数：-5 亩"
    assert refused.value.en == "area must be a positive number: -5 mu"


@pytest.fixture
def client(sqlite_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(sqlite_database_url), headers=BROWSER) as test_client:
        yield test_client


@pytest.fixture
def session_of(sqlite_database_url: str) -> Iterator[Session]:
    engine = create_engine(sqlite_database_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def sign_in(client: TestClient, name: str, lang: str = "zh") -> str:
    client.cookies.clear()
    client.cookies.set("lang", lang)
    login = client.get("/login")
    page = client.post("/login", data={"username": name, "password": PASSWORD,
                                       "csrf": csrf_of(login.text)})
    assert page.status_code == 200, page.text
    return page.text


def entries(session: Session) -> int:
    return int(session.execute(text("SELECT count(*) FROM ledger_entries")).scalar_one())


def no_leak(html: str) -> None:
    """Nothing of Python or JSON reaches a page."""
    for leak in ("Traceback", "invalid literal", "{'", '{"type"', "problem", "ValueError",
                 "Internal Server Error"):
        assert leak not in html, leak


def test_an_unknown_address_is_a_page_in_the_visitors_language(client: TestClient) -> None:
    for lang, heading in (("zh", "找不到此页"), ("en", "Page not found")):
        client.cookies.set("lang", lang)
        missing = client.get("/no/such/page")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("text/html")
        assert heading in missing.text and 'data-status="404"' in missing.text
        no_leak(missing.text)
    api = client.get("/api/v1/no/such/thing")
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"


def test_a_failure_is_a_page_that_says_only_that(client: TestClient,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from qinglu.registry import actions as registry

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(registry, "public_retirements", broken)
    failing = TestClient(client.app, headers=BROWSER, raise_server_exceptions=False)
    page = failing.get("/retirements")
    assert page.status_code == 500 and "服务器出错了" in page.text
    assert "secret internals" not in page.text
    no_leak(page.text)


def test_a_form_missing_a_field_is_a_page_not_json(client: TestClient) -> None:
    client.cookies.set("lang", "en")
    refused = client.post("/account/transfer", data={"quantity": "1"})
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("text/html")
    assert "the form could not be read" in refused.text
    no_leak(refused.text)


@pytest.fixture
def holder(client: TestClient, session_of: Session) -> dict[str, int]:
    seller, _project, _issued = f.issued_account(session_of, quantity=10_000)
    holder_id = get_account(session_of, seller).holder_id
    buyer_holder = f.org(session_of, name="黔东南某生态公司")
    buyer = f.account(session_of, buyer_holder)
    accounts.add_user(session_of, name="centre", role="holder", password=PASSWORD,
                      holder_id=holder_id)
    return {"seller": seller, "buyer": buyer}


def test_x_as_the_recipient_is_refused_beside_the_field(
        client: TestClient, session_of: Session, holder: dict[str, int]) -> None:
    for lang, message in (("zh", "找不到名称或代码为“x”的持有人"),
                          ("en", "no holder is named or coded “x”")):
        page = sign_in(client, "centre", lang)
        before = entries(session_of)
        refused = client.post("/account/transfer", data={
            "from_account": str(holder["seller"]), "to_account": "x", "product": "FCS",
            "quantity": "１０,５", "csrf": csrf_of(page)})
        assert refused.status_code == 422
        assert f'<p class="field-error" id="to_account-error">{message}</p>' in refused.text
        assert 'value="１０,５"' in refused.text and 'value="x"' in refused.text  # as typed
        no_leak(refused.text)
        assert entries(session_of) == before


def test_a_transfer_to_a_name_with_a_decimal_comma_redirects_once(
        client: TestClient, session_of: Session, holder: dict[str, int]) -> None:
    page = sign_in(client, "centre")
    done = client.post("/account/transfer", data={
        "from_account": str(holder["seller"]), "to_account": "黔东南某生态", "product": "FCS",
        "quantity": "１０,５", "csrf": csrf_of(page)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/account?message=transferred"
    shown = client.get(done.headers["location"])
    assert 'id="message">已转让<' in shown.text
    assert f'data-balance="{holder["seller"]}-FCS">89.50' in shown.text


def test_the_recipient_is_found_by_name_as_you_type(
        client: TestClient, holder: dict[str, int]) -> None:
    sign_in(client, "centre")
    found = client.get("/holders/search", params={"field": "to_account", "to_account": "生态公"},
                       headers={"HX-Request": "true"})
    assert f'name="to_account_pick" value="{holder["buyer"]}"' in found.text
    assert "黔东南某生态公司" in found.text and "<html" not in found.text


def test_a_pasted_verify_address_and_a_lower_case_serial_are_understood(
        client: TestClient, session_of: Session) -> None:
    from qinglu.documents import actions as documents
    from qinglu.documents.signing import load_or_create_key

    seller, _project, issued = f.issued_account(session_of, quantity=10_000)
    retired = documents.retire(session_of, load_or_create_key(), from_account=seller,
                               product="FCS", quantity=5396, beneficiary="某某公司",
                               purpose="替代性修复", actor="t")
    number = retired["certificate_number"]
    pasted = f"  https://qinglu.example/verify/{number.lower()}#QL1:abc "
    page = client.get("/verify", params={"number": pasted})
    assert 'data-valid="true"' in page.text and f'value="{number}"' in page.text
    serial = issued["serials"][0]
    typed = f" {serial.lower()[:10]} {serial.lower()[10:]}"
    found = client.get("/search", params={"serial": typed}, headers={"HX-Request": "true"})
    assert 'data-state="held"' in found.text


def test_the_back_office_says_what_it_did_and_never_a_dict(
        client: TestClient, session_of: Session) -> None:
    accounts.add_user(session_of, name="op", role="operator", password=PASSWORD)
    page = sign_in(client, "op")
    done = client.post("/admin/holder", data={
        "kind": "org", "name": "贵州某林场", "id_number": f.make_uscc(), "region": "522629",
        "csrf": csrf_of(page)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/admin?message=holder-added"
    opened = client.post("/admin/account", data={"holder_id": "贵州某林场", "kind": "holding",
                                                 "csrf": csrf_of(page)}, follow_redirects=False)
    assert opened.headers["location"] == "/admin?message=account-opened"  # found by name
    refused = client.post("/admin/issue", data={
        "project_id": "x", "vintage": "2024", "quantity": "1", "account_id": "贵州某林场",
        "csrf": csrf_of(page)})
    assert refused.status_code == 422 and "project_id 须为整数：“x”" in refused.text
    no_leak(refused.text)


def test_a_page_not_for_this_role_is_a_page_in_its_language(
        client: TestClient, holder: dict[str, int]) -> None:
    for lang, heading in (("zh", "无权访问"), ("en", "Not allowed")):
        sign_in(client, "centre", lang)
        refused = client.get("/cases")
        assert refused.status_code == 403 and heading in refused.text
        assert 'data-status="403"' in refused.text
        no_leak(refused.text)
