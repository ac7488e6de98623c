"""Sessions and tokens (ASVS V2, V3): sign-out revokes on the server, users can be
disabled and given a new password (both revoke their tokens), sign-in throttling per
name across addresses and per address across names, kept in the database; an unknown
name costs as much as a wrong password; each anonymous visitor has its own form token."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from qinglu.accounts import actions as accounts
from qinglu.cli import app as qinglu_app
from qinglu.core.errors import NotAuthenticated, TooManyAttempts
from qinglu.web.app import create_app
from tests import factories as f

PASSWORD = "correct horse"
runner = CliRunner()


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def holder_user(session: Session, name: str = "jianhe") -> None:
    accounts.add_user(session, name=name, role="holder", password=PASSWORD,
                      holder_id=f.org(session))


def sign_in_page(client: TestClient, name: str) -> str:
    form = client.get("/login")
    answer = client.post("/login", data={"username": name, "password": PASSWORD,
                                         "csrf": csrf_of(form.text)}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return str(client.cookies.get("qinglu_session"))


def fresh(session: Session) -> None:
    """Forget what the session read: the CLI wrote on its own connection."""
    session.rollback()
    session.expire_all()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_signing_out_revokes_the_session_token(client: TestClient, session: Session) -> None:
    holder_user(session)
    token = sign_in_page(client, "jianhe")
    assert client.get("/account").status_code == 200
    page = client.get("/account")
    client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    client.cookies.set("qinglu_session", token)  # the old cookie, kept by an attacker
    assert client.get("/account", follow_redirects=False).status_code == 303  # to /login
    assert client.get("/api/v1/orders", headers=bearer(token)).status_code == 401


def test_api_logout_revokes_the_bearer_token(client: TestClient, session: Session) -> None:
    holder_user(session)
    token = client.post("/api/v1/auth/token", data={"username": "jianhe",
                                                    "password": PASSWORD}).json()["access_token"]
    assert client.get("/api/v1/orders", headers=bearer(token)).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 204
    assert client.get("/api/v1/orders", headers=bearer(token)).status_code == 401


def test_cli_disable_password_and_revoke_end_every_session(
        session: Session, database_url: str) -> None:
    holder_user(session)
    user = accounts.authenticate(session, "jianhe", PASSWORD, "10.0.0.1")
    tokens = [accounts.issue_token(session, user) for _ in range(2)]

    def cli(*args: str, stdin: str | None = None) -> None:
        result = runner.invoke(qinglu_app, ["user", *args, "--db", database_url], input=stdin)
        assert result.exit_code == 0, result.output

    cli("tokens", "revoke", "jianhe")
    for token in tokens:
        with pytest.raises(NotAuthenticated):
            accounts.user_for_token(session, token)

    token = accounts.issue_token(session, user)
    cli("password", "jianhe", "--password-stdin", stdin="a new password\n")
    with pytest.raises(NotAuthenticated):
        accounts.user_for_token(session, token)
    fresh(session)
    with pytest.raises(NotAuthenticated):
        accounts.authenticate(session, "jianhe", PASSWORD, "10.0.0.1")
    user = accounts.authenticate(session, "jianhe", "a new password", "10.0.0.1")

    token = accounts.issue_token(session, user)
    cli("disable", "jianhe")
    fresh(session)
    with pytest.raises(NotAuthenticated):
        accounts.user_for_token(session, token)
    with pytest.raises(NotAuthenticated, match="disabled|停用"):
        accounts.authenticate(session, "jianhe", "a new password", "10.0.0.1")
    cli("enable", "jianhe")
    fresh(session)
    assert accounts.authenticate(session, "jianhe", "a new password", "10.0.0.1").name == "jianhe"


def test_one_account_guessed_at_from_many_addresses_is_throttled(session: Session) -> None:
    holder_user(session)
    for n in range(accounts.FAILURES_PER_NAME):
        with pytest.raises(NotAuthenticated):
            accounts.authenticate(session, "jianhe", f"guess {n}", f"10.0.{n}.1")
    # The next try, from yet another address and even with the right password, waits.
    with pytest.raises(TooManyAttempts):
        accounts.authenticate(session, "jianhe", PASSWORD, "10.9.9.9")


def test_one_address_trying_many_names_is_throttled_and_it_outlives_a_restart(
        session: Session, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    holder_user(session)
    for n in range(accounts.FAILURES_PER_ADDRESS):
        with pytest.raises(NotAuthenticated):
            accounts.authenticate(session, f"name{n}", "guess", "203.0.113.7")
    with pytest.raises(TooManyAttempts):
        accounts.authenticate(session, "jianhe", PASSWORD, "203.0.113.7")
    # A fresh application (a restart, or another worker) on the same database agrees.
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(database_url), client=("203.0.113.7", 5000)) as fresh:
        answer = fresh.post("/api/v1/auth/token", data={"username": "jianhe",
                                                        "password": PASSWORD})
        assert answer.status_code == 429
    # Another address is not held back by it.
    assert accounts.authenticate(session, "jianhe", PASSWORD, "198.51.100.1").name == "jianhe"


def test_an_unknown_name_costs_as_much_as_a_wrong_password(session: Session) -> None:
    holder_user(session)

    def seconds(name: str, n: int) -> float:
        began = time.perf_counter()
        with pytest.raises(NotAuthenticated):
            accounts.authenticate(session, name, "wrong password", f"192.0.2.{n}")
        return time.perf_counter() - began

    seconds("nobody-warm-up", 99)  # the dummy hash is made once
    # Interleaved, so that a busy machine slows both kinds alike; 9 of each (the per-name
    # limit is 10 failures).
    pairs = [(seconds("jianhe", n), seconds(f"nobody{n}", n + 10)) for n in range(9)]
    known = statistics.median(k for k, _ in pairs)
    unknown = statistics.median(u for _, u in pairs)
    assert abs(unknown - known) <= 0.2 * known, (known, unknown)


def test_each_anonymous_visitor_has_its_own_form_token(
        database_url: str, monkeypatch: pytest.MonkeyPatch, session: Session) -> None:
    holder_user(session)
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    app = create_app(database_url)
    with TestClient(app) as alice, TestClient(app) as mallory:
        alices = csrf_of(alice.get("/login").text)
        mallorys = csrf_of(mallory.get("/login").text)
        assert alices != mallorys
        # Mallory's token, planted in a form Alice submits, is refused.
        forged = alice.post("/login", data={"username": "jianhe", "password": PASSWORD,
                                            "csrf": mallorys}, follow_redirects=False)
        assert forged.status_code == 403
        own = alice.post("/login", data={"username": "jianhe", "password": PASSWORD,
                                         "csrf": alices}, follow_redirects=False)
        assert own.status_code == 303


def test_a_password_needs_twelve_characters_and_may_be_long(session: Session) -> None:
    from qinglu.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="12"):
        accounts.add_user(session, name="short", role="operator", password="elevenchars")
    long = "长" * 100 + " a passphrase of any length and any characters 🌲"
    accounts.add_user(session, name="long", role="operator", password=long)
    assert accounts.authenticate(session, "long", long, "10.0.0.9").name == "long"
