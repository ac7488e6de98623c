"""The dashboard's chart of green certificates by month: issued (production month),
traded on the market (settlement month) and claimed (the claim's end month), each bar
with its figure, drawn on the server as SVG."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from qinglu.documents.signing import load_or_create_key
from qinglu.green import actions as green
from qinglu.market import actions as market
from qinglu.web.app import create_app
from tests import factories

A = "test"
CODE = "W520000000000001X"


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("QINGLU_SECRET", "test-secret")
    with TestClient(create_app(database_url)) as test_client:
        yield test_client


def _chart(page: str) -> dict[str, dict[str, int]]:
    svg = page[page.index('<svg id="green-months"'):]
    svg = svg[:svg.index("</svg>")]
    found: dict[str, dict[str, int]] = {}
    for group in svg.split('<g data-month="')[1:]:
        month = group[:7]
        found[month] = {name: int(value) for name, value in re.findall(
            r'data-series="(\w+)" data-value="(\d+)"', group)}
    return found


def test_the_dashboard_charts_issued_traded_and_claimed_certificates_by_month(
        client: TestClient, session: Session, tmp_path: Path) -> None:
    seller, buyer = factories.account(session), factories.account(session)
    green.register_project(session, A, name="威宁风电场", filing_code_text=CODE,
                           technology="wind", commissioned=date(2018, 6, 1), region="520000",
                           account_id=seller)
    green.import_generation(session, A, filename="g.csv", content=(
        f"filing_code,month,kwh\n{CODE},2026-01,9000\n{CODE},2026-02,5500\n").encode())
    key = load_or_create_key(tmp_path / "key")
    listing = market.create_listing(session, seller_account=seller, product="GEC",
                                    quantity=4, price=Decimal("30.00"), min_lot=None, actor=A)
    order = market.place_order(session, listing_id=listing["id"], buyer_account=buyer,
                               quantity=4, actor=A)
    market.confirm_payment(session, key, order_id=order["id"], reference="BANK-1", actor=A)
    green.claim(session, key, A, account_id=seller, consumer="贵州某数据中心",
                period_start=date(2026, 2, 1), period_end=date(2026, 2, 28),
                consumption_kwh=3000)
    traded_in = f"{datetime.now(UTC):%Y-%m}"  # a trade counts in the month it settles
    expected = {"2026-01": {"issued": 9, "traded": 0, "claimed": 0},
                "2026-02": {"issued": 5, "traded": 0, "claimed": 3}}
    expected.setdefault(traded_in, {"issued": 0, "traded": 0, "claimed": 0})["traded"] += 4
    page = client.get("/")
    assert page.status_code == 200
    assert _chart(page.text) == expected
    assert "2026-02" in page.text and "核发" in page.text
    register = client.get("/green").text  # the public register's table says the same
    rows = re.findall(r"<tr><td>(\d{4}-\d{2})</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>",
                      register)
    assert {m: {"issued": int(i), "traded": int(t), "claimed": int(c)}
            for m, i, t, c in rows} == expected
