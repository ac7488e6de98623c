"""A trade in a real browser: a holder lists, a buyer buys part, the operator confirms
payment, and both parties see the trade and download its voucher."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.web.browser.test_journeys import sign_in

pytestmark = pytest.mark.browser


def _as(browser: Any, base: str, name: str) -> Any:
    context = browser.new_context(viewport={"width": 390, "height": 844})  # phone width
    page = context.new_page()
    sign_in(page, base, name)
    page.wait_for_load_state()
    page.goto(f"{base}/market")
    return page


def _named(page: Any, what: str) -> str:
    """The listing or order a redirect after a form names in its address."""
    return parse_qs(urlparse(page.url).query)[what][0]


def _voucher_pdf(page: Any, base: str, order_id: str) -> bytes:
    link = page.locator(f"[data-voucher='{order_id}']")
    response = page.request.get(base + link.get_attribute("href"))
    assert response.status == 200
    return bytes(response.body())


def test_list_buy_pay_and_download_the_voucher(browser: Any, live_server: dict[str, Any],
                                               shots: Path) -> None:
    base = live_server["url"]
    seller = _as(browser, base, "jianhe")
    form = seller.locator("#list-form")
    form.locator("input[name=quantity]").fill("100")
    form.locator("input[name=price]").fill("50")
    form.locator("input[name=min_lot]").fill("1")
    form.locator("button[type=submit]").click()
    seller.wait_for_selector("#message")
    listing_id = _named(seller, "listing")  # the redirect names the new listing
    assert f"#{listing_id}" in seller.locator("#message").inner_text()
    assert seller.locator(f"[data-remaining='{listing_id}']").inner_text() == "100.00 tCO2e"
    seller.screenshot(path=str(shots / "1-listed.png"), full_page=True)

    buyer = _as(browser, base, "company")
    row = buyer.locator(f"tr[data-listing='{listing_id}']")
    row.locator("input[name=quantity]").fill("25.5")
    row.locator("button[type=submit]").click()
    buyer.wait_for_selector("#consequence")  # the order is stated before it is placed
    assert "25.50 tCO2e" in buyer.locator("#consequence").inner_text()
    buyer.locator("#confirm button[type=submit]").click()
    buyer.wait_for_selector("#message")
    assert "1275.00" in buyer.locator("#message").inner_text()  # 25.5 t × 50 CNY
    order_id = _named(buyer, "order")
    assert buyer.locator(f"[data-remaining='{listing_id}']").inner_text() == "74.50 tCO2e"
    buyer.reload()  # a refresh shows the page again and orders nothing more
    assert buyer.locator(f"[data-remaining='{listing_id}']").inner_text() == "74.50 tCO2e"
    buyer.screenshot(path=str(shots / "2-ordered.png"), full_page=True)

    operator = _as(browser, base, "op")
    pending = operator.locator(f"tr[data-order='{order_id}']")
    pending.locator("input[name=reference]").fill("CCB-2026-1126-001")
    pending.locator("button[type=submit]").click()
    operator.wait_for_selector("#consequence")  # settling is stated before it is done
    assert "CCB-2026-1126-001" in operator.locator("#consequence").inner_text()
    operator.locator("#confirm button[type=submit]").click()
    operator.wait_for_selector("#message")
    assert "QL-TD-" in operator.locator("#message").inner_text()
    operator.screenshot(path=str(shots / "3-paid.png"), full_page=True)

    for page, name in ((buyer, "buyer"), (seller, "seller")):
        page.goto(f"{base}/market")
        assert page.locator(f"[data-status='{order_id}']").get_attribute("data-code") == "settled"
        assert _voucher_pdf(page, base, order_id).startswith(b"%PDF")
        page.screenshot(path=str(shots / f"4-{name}-sees-trade.png"), full_page=True)
    buyer.goto(f"{base}/account")
    company = live_server["demo"]["accounts"]["company"]  # 80 t bought in the demo data
    assert buyer.locator(f"[data-balance='{company}-FCS']").inner_text() == "105.50 tCO2e"
