"""Limits, headers and cookies (ASVS V12, V13, V14): oversized bodies refused (413)
before they are parsed and before the caller is authenticated; security headers on
pages and API; no inline script on the pages; `Secure` cookies behind https; notices
from fixed keys only."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qinglu.accounts import actions as accounts
from qinglu.db.engine import make_engine
from qinglu.registry import actions as registry
from qinglu.web.app import create_app, web_secret
from qinglu.web.limits import DEFAULT_BODY_LIMIT
from tests import factories as f

PASSWORD = "correct horse"


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def test_an_oversized_body_is_refused_before_authentication(client: TestClient) -> None:
    big = b'{"from_account": 1, "pad": "' + b"x" * DEFAULT_BODY_LIMIT + b'"}'
    declared = client.post("/api/v1/transfers", content=big,
                           headers={"Content-Type": "application/json"})
    assert declared.status_code == 413  # not 401: refused before anything read it
    assert declared.headers["content-type"] == "application/problem+json"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(DEFAULT_BODY_LIMIT // 65536 + 2):
            yield b"x" * 65536

    streamed = client.post("/api/v1/transfers", content=chunks(),
                           headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    small = client.post("/api/v1/transfers", json={
        "from_account": 1, "to_account": 2, "product": "FCS", "quantity": "1.00"})
    assert small.status_code == 401  # a normal body goes on to authentication


def test_security_headers_on_pages_and_api(client: TestClient) -> None:
    for path in ("/", "/login", "/api/v1/projects", "/health"):
        answer = client.get(path)
        policy = answer.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";")[0]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in answer.headers  # plain http here


def test_what_a_signed_in_user_gets_is_never_cached(client: TestClient,
                                                      session: Session) -> None:
    holder = f.org(session)
    account = f.account(session, holder)
    accounts.add_user(session, name="h", role="holder", password=PASSWORD, holder_id=holder)
    token = client.post("/api/v1/auth/token", data={"username": "h", "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    private = client.get(f"/api/v1/accounts/{account}/balance", headers=bearer)
    assert private.status_code == 200 and private.headers["Cache-Control"] == "no-store"
    client.cookies.set("qinglu_session", "anything")
    assert client.get("/").headers["Cache-Control"] == "no-store"
    client.cookies.clear()
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")  # public


def test_pages_run_no_inline_script(client: TestClient, session: Session) -> None:
    account = f.account(session, f.org(session))
    registry.issue(session, project_id=f.project(session), vintage=2023, quantity=1_000,
                   to_account=account, actor=f.ACTOR)  # the dashboard then draws a chart
    for path in ("/", "/login", "/market", "/retirements"):
        html = client.get(path).text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+=", html), path  # no onclick= and the like


def test_cookies_are_secure_when_the_public_address_is_https(
        database_url: str, monkeypatch: pytest.MonkeyPatch, session: Session) -> None:
    accounts.add_user(session, name="op", role="operator", password=PASSWORD)
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    monkeypatch.setenv("QINGLU_BASE_URL", "https://registry.example.cn")
    with TestClient(create_app(database_url), base_url="https://testserver") as client:
        form = client.get("/login")
        assert "secure" in form.headers["set-cookie"].lower()
        assert "Strict-Transport-Security" in form.headers
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', form.text)
        assert csrf
        signed_in = client.post("/login", data={"username": "op", "password": PASSWORD,
                                                "csrf": csrf.group(1)},
                                follow_redirects=False)
        session_cookie = [c for c in signed_in.headers.get_list("set-cookie")
                          if c.startswith("qinglu_session=")]
        assert session_cookie and "secure" in session_cookie[0].lower()


def test_a_notice_in_the_address_is_never_free_text(client: TestClient) -> None:
    forged = "您的账户已被冻结，请致电 400-000-0000"
    page = client.get("/market", params={"message": forged, "error": forged})
    assert page.status_code == 200
    assert "冻结" not in page.text
    fixed = client.get("/market", params={"message": "saved"})
    assert "已保存" in fixed.text


def test_the_database_and_var_are_private(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    var = tmp_path / "var"
    monkeypatch.setenv("QINGLU_VAR_DIR", str(var))
    monkeypatch.delenv("QINGLU_SECRET", raising=False)
    web_secret()
    engine = make_engine(f"sqlite:///{var / 'qinglu.db'}")
    try:
        with engine.connect() as conn:
            # FULL (2): a commit is on disk before it is acknowledged.
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    finally:
        engine.dispose()
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    assert stat.S_IMODE((var / "qinglu.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((var / "web_secret").stat().st_mode) == 0o600


def test_a_parcel_with_too_many_vertices_is_refused_before_it_is_checked() -> None:
    import math

    from shapely.geometry import Polygon

    from qinglu.forestry.parcels import CGCS2000, MAX_VERTICES, Feature, validate

    n = MAX_VERTICES + 10
    ring = [(108.1 + 0.01 * math.cos(2 * math.pi * i / n),
             26.6 + 0.01 * math.sin(2 * math.pi * i / n)) for i in range(n)]
    feature = Feature("row 1", Polygon(ring), {"小班号": "1", "树种": "杉木", "蓄积": "8"})
    drafts, problems = validate([feature], CGCS2000)
    assert not drafts
    assert problems and "too many vertices" in problems[0][1]
